using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;

namespace Parley.Providers.Tencent;

/// <summary>
/// The <c>Tencent</c> ASR vendor (ZEGO's default): Tencent Cloud real-time speech recognition over its signed
/// WebSocket (<c>wss://asr.cloud.tencent.com/asr/v2/&lt;appid&gt;?…&amp;signature=…</c>). Params as ZEGO documents them:
/// <c>{"engine_model_type":"16k_en","hotword_list":"zego|10"}</c>; every key other than <c>app</c> is a handshake
/// parameter passed through (<c>hotword_id</c>, <c>filter_dirty</c>, <c>filter_modal</c>, <c>filter_punc</c>,
/// <c>convert_num_mode</c>, <c>vad_silence_time</c>, …). Credentials: <c>Params.app</c>
/// (<c>appid</c>, <c>secret_id</c>, <c>secret_key</c>), else <see cref="TencentAsrOptions"/>. Every connection goes
/// through the <see cref="OutboundPolicy"/>.
/// </summary>
public sealed class TencentRecognizerProvider : ISpeechRecognizer, IDisposable
{
    public const string VendorName = "Tencent";

    private readonly ILogger _logger;

    public TencentRecognizerProvider(TencentAsrOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, OutboundPolicy? policy = null)
    {
        Options = options ?? new TencentAsrOptions();
        Options.Validate();
        Endpoint = new Uri(Options.Url);
        Time = time ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<TencentRecognizerProvider>();
        Invoker = new HttpMessageInvoker((policy ?? OutboundPolicy.Default).CreateHandler(UrlOrigin.Operator));
    }

    public string Name => VendorName;

    public TencentAsrOptions Options { get; }

    /// <summary>The endpoint without the AppId segment.</summary>
    public Uri Endpoint { get; }

    internal TimeProvider Time { get; }

    internal HttpMessageInvoker Invoker { get; }

    public string? Validate(JsonObject? parameters) => TencentAsrRequest.Validate(parameters, Options);

    public ISpeechRecognitionStream Open(SpeechRecognitionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new TencentRecognitionStream(this, TencentAsrRequest.Create(options.Parameters, options.HotWords, Options), _logger);
    }

    public void Dispose() => Invoker.Dispose();
}
