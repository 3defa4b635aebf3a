using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;

namespace Parley.Providers.Azure;

/// <summary>
/// The <c>Microsoft</c> ASR vendor: Azure Speech to Text over the Speech service's WebSocket protocol
/// (<c>wss://&lt;region&gt;.stt.speech.microsoft.com/speech/recognition/conversation/cognitiveservices/v1?language=…&amp;format=detailed</c>).
/// Params as ZEGO documents them: <c>language</c> and <c>phrase_list</c> (ZEGO: the only two that take effect).
/// Credentials: <c>Params.app.key</c> (or <c>token</c> for <c>Authorization: Bearer</c>) and <c>Params.app.region</c>,
/// else <see cref="AzureSpeechOptions"/>. Every connection goes through the <see cref="OutboundPolicy"/>.
/// </summary>
public sealed class AzureSpeechRecognizerProvider : ISpeechRecognizer, IDisposable
{
    public const string VendorName = "Microsoft";

    private readonly ILogger _logger;

    public AzureSpeechRecognizerProvider(AzureSpeechOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, OutboundPolicy? policy = null)
    {
        Options = options ?? new AzureSpeechOptions();
        Options.Validate();
        Time = time ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<AzureSpeechRecognizerProvider>();
        Invoker = new HttpMessageInvoker((policy ?? OutboundPolicy.Default).CreateHandler(UrlOrigin.Operator));
    }

    public string Name => VendorName;

    public AzureSpeechOptions Options { get; }

    internal TimeProvider Time { get; }

    internal HttpMessageInvoker Invoker { get; }

    public string? Validate(JsonObject? parameters) => AzureSpeechRequest.Validate(parameters, Options);

    public ISpeechRecognitionStream Open(SpeechRecognitionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new AzureRecognitionStream(this, AzureSpeechRequest.Create(options.Parameters, Options), _logger);
    }

    public void Dispose() => Invoker.Dispose();
}
