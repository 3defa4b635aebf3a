using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Speech;

namespace Parley.Providers.DashScope;

/// <summary>
/// The <c>AliyunParaformer</c> ASR vendor: Paraformer real-time recognition over DashScope's WebSocket inference API.
/// Params: <c>{"app":{"api_key":"…"},"model":"paraformer-realtime-v2", …}</c>. <c>app.api_key</c> is required;
/// <c>model</c> defaults to paraformer-realtime-v2; every other key (e.g. <c>language_hints</c>,
/// <c>vocabulary_id</c>, <c>disfluency_removal_enabled</c>) goes into the run-task <c>payload.parameters</c>, except
/// ZEGO's own <c>engine_model_type</c>, which Paraformer does not know and is dropped. Audio is always sent as
/// <c>format: "pcm"</c>, <c>sample_rate: 16000</c>. ASR <c>HotWord</c> is ignored (Paraformer takes hot words as a
/// pre-created <c>vocabulary_id</c>). One DashScope task per utterance, on a pooled connection.
/// </summary>
public sealed class ParaformerRecognizerProvider(DashScopeConnectionPool pool, ILoggerFactory? loggerFactory = null) : ISpeechRecognizer
{
    public const string VendorName = "AliyunParaformer";
    public const string DefaultModel = "paraformer-realtime-v2";

    /// <summary>Params keys that are not Paraformer run-task parameters.</summary>
    internal static readonly string[] NotParameters = ["app", "model", "engine_model_type", "format", "sample_rate"];

    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ParaformerRecognizerProvider>();

    public string Name => VendorName;

    public string? Validate(JsonObject? parameters)
    {
        if (DashScopeParams.ApiKeyError(parameters, "ASR", pool.Options.ApiKey) is { } keyError)
        {
            return keyError;
        }

        parameters ??= [];
        if (parameters.TryGetPropertyValue("model", out var model) && model is not null && !DashScopeParams.IsString(model))
        {
            return "ASR.Params.model must be a string such as \"paraformer-realtime-v2\".";
        }

        if (DashScopeParams.AsksForNonPcm(parameters))
        {
            return "ASR.Params.format must be \"pcm\" (Parley sends 16 kHz PCM16); leave it out.";
        }

        if (parameters.TryGetPropertyValue("sample_rate", out var rate) && rate is not null
            && !(DashScopeParams.TryGetInt(rate, out var hz) && hz == 16000))
        {
            return "ASR.Params.sample_rate must be 16000 (Parley sends 16 kHz PCM16); leave it out.";
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

        return new ParaformerRecognitionStream(pool, new ParaformerRequest(options.Parameters ?? [], pool.Options.ApiKey), _logger);
    }
}

/// <summary>The run-task payload of one Paraformer recognition task.</summary>
internal sealed class ParaformerRequest(JsonObject parameters, string? defaultKey = null)
{
    public string ApiKey { get; } = DashScopeParams.ApiKey(parameters, defaultKey);

    public string Model { get; } = parameters["model"] is { } m && DashScopeParams.IsString(m) ? m.GetValue<string>() : ParaformerRecognizerProvider.DefaultModel;

    private JsonObject Parameters { get; } = parameters;

    public void WritePayload(Utf8JsonWriter w)
    {
        w.WriteString("task_group", "audio");
        w.WriteString("task", "asr");
        w.WriteString("function", "recognition");
        w.WriteString("model", Model);
        w.WriteStartObject("parameters");
        w.WriteString("format", "pcm");
        w.WriteNumber("sample_rate", 16000);
        DashScopeConnection.WriteMembers(w, Parameters, ParaformerRecognizerProvider.NotParameters);
        w.WriteEndObject();
        w.WriteStartObject("input");
        w.WriteEndObject();
    }
}
