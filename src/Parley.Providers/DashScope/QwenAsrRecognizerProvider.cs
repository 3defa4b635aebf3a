using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;

namespace Parley.Providers.DashScope;

/// <summary>
/// The <c>AliyunQwenASR</c> ASR vendor: Qwen real-time recognition (default <c>qwen3-asr-flash-realtime</c>) over
/// DashScope's session-based realtime WebSocket. Params as ZEGO documents them:
/// <c>{"session":{"input_audio_transcription":{"language":"zh"}}}</c>; <c>session</c> is merged into Parley's
/// session.update (Parley owns <c>input_audio_format</c> pcm, <c>sample_rate</c> 16000 and <c>turn_detection</c>
/// null: Parley's VAD ends utterances and commits them); <c>model</c> picks the model; credentials
/// <c>Params.app.api_key</c>, else the deployment's key.
/// </summary>
public sealed class QwenAsrRecognizerProvider : ISpeechRecognizer, IDisposable
{
    public const string VendorName = "AliyunQwenASR";

    /// <summary>Session keys Parley sets itself.</summary>
    internal static readonly string[] OwnSessionKeys = ["input_audio_format", "sample_rate", "turn_detection", "modalities"];

    private readonly ILogger _logger;
    private readonly string? _defaultKey;

    public QwenAsrRecognizerProvider(QwenAsrOptions? options = null, string? dashScopeApiKey = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, OutboundPolicy? policy = null)
    {
        Options = options ?? new QwenAsrOptions();
        Options.Validate();
        _defaultKey = string.IsNullOrWhiteSpace(Options.ApiKey) ? dashScopeApiKey : Options.ApiKey;
        Time = time ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<QwenAsrRecognizerProvider>();
        Invoker = new HttpMessageInvoker((policy ?? OutboundPolicy.Default).CreateHandler(UrlOrigin.Operator));
    }

    public string Name => VendorName;

    public QwenAsrOptions Options { get; }

    internal TimeProvider Time { get; }

    internal HttpMessageInvoker Invoker { get; }

    public string? Validate(JsonObject? parameters)
    {
        if (DashScopeParams.ApiKeyError(parameters, "ASR", _defaultKey) is { } keyError)
        {
            return keyError.Replace("is required", $"is required (or configure {QwenAsrOptions.SectionName}:ApiKey or Parley:Vendors:DashScope:ApiKey)", StringComparison.Ordinal);
        }

        parameters ??= [];
        if (parameters["model"] is { } model && !(DashScopeParams.IsString(model) && model.GetValue<string>().Trim().Length > 0))
        {
            return $"ASR.Params.model must be a string such as \"{QwenAsrOptions.DefaultModel}\".";
        }

        if (parameters.TryGetPropertyValue("session", out var session) && session is not null)
        {
            if (session is not JsonObject s)
            {
                return "ASR.Params.session must be an object (the session.update session).";
            }

            if (s["input_audio_transcription"] is { } t && t is not JsonObject)
            {
                return "ASR.Params.session.input_audio_transcription must be an object such as {\"language\":\"zh\"}.";
            }

            if (s["input_audio_transcription"]?["language"] is { } language && !DashScopeParams.IsString(language))
            {
                return "ASR.Params.session.input_audio_transcription.language must be a language code such as \"zh\".";
            }

            if (s["input_audio_format"] is { } format && !(DashScopeParams.IsString(format) && format.GetValue<string>() == "pcm"))
            {
                return "ASR.Params.session.input_audio_format must be \"pcm\" (Parley sends 16 kHz PCM16); leave it out.";
            }

            if (s["sample_rate"] is { } rate && !(DashScopeParams.TryGetInt(rate, out var hz) && hz == 16000))
            {
                return "ASR.Params.session.sample_rate must be 16000 (Parley sends 16 kHz PCM16); leave it out.";
            }
        }

        return null;
    }

    public ISpeechRecognitionStream Open(SpeechRecognitionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (Validate(options.Parameters) is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        var parameters = options.Parameters ?? [];
        var model = parameters["model"] is { } m ? m.GetValue<string>().Trim() : Options.Model;
        var session = new JsonObject
        {
            ["modalities"] = new JsonArray("text"),
            ["input_audio_format"] = "pcm",
            ["sample_rate"] = 16000,
            ["turn_detection"] = null,
        };
        if (parameters["session"] is JsonObject given)
        {
            foreach (var (key, value) in given)
            {
                if (!OwnSessionKeys.Contains(key))
                {
                    session[key] = value?.DeepClone();
                }
            }
        }

        var endpoint = new Uri(Options.Url + (Options.Url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "model=" + Uri.EscapeDataString(model));
        return new QwenAsrRecognitionStream(this, endpoint, DashScopeParams.ApiKey(parameters, _defaultKey), session, _logger);
    }

    public void Dispose() => Invoker.Dispose();
}
