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
/// The contract's form (ZEGO 2.13) is <c>Params.payload</c>, the run-task payload as given:
/// <c>payload.model</c> selects the model and <c>payload.parameters</c> (e.g. <c>language_hints</c>) are merged into
/// the run-task parameters over the older top-level keys; <c>task_group</c>, <c>task</c>, <c>function</c> and the
/// audio format are Parley's. The same class serves <c>AliyunFunASR</c> (<see cref="FunAsrVendorName"/>): Fun-ASR
/// real-time is another model (default <c>fun-asr-realtime</c>) on the same DashScope WebSocket API.
/// </summary>
public sealed class ParaformerRecognizerProvider(DashScopeConnectionPool pool, ILoggerFactory? loggerFactory = null, string vendorName = ParaformerRecognizerProvider.VendorName, string defaultModel = ParaformerRecognizerProvider.DefaultModel) : ISpeechRecognizer
{
    public const string VendorName = "AliyunParaformer";
    public const string DefaultModel = "paraformer-realtime-v2";

    /// <summary>The contract's <c>AliyunFunASR</c> vendor: Fun-ASR on the same DashScope real-time ASR API.</summary>
    public const string FunAsrVendorName = "AliyunFunASR";

    /// <summary>Default model of <see cref="FunAsrVendorName"/>.</summary>
    public const string FunAsrDefaultModel = "fun-asr-realtime";

    /// <summary>Params keys that are not Paraformer run-task parameters.</summary>
    internal static readonly string[] NotParameters = ["app", "model", "engine_model_type", "format", "sample_rate", "payload"];

    /// <summary>Keys of <c>Params.payload</c> Parley writes itself (the rest of the payload is passed through).</summary>
    internal static readonly string[] OwnPayloadKeys = ["task_group", "task", "function", "model", "parameters", "input"];

    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ParaformerRecognizerProvider>();

    public string Name => vendorName;

    public string? Validate(JsonObject? parameters)
    {
        if (DashScopeParams.ApiKeyError(parameters, "ASR", pool.Options.ApiKey) is { } keyError)
        {
            return keyError;
        }

        parameters ??= [];
        if (parameters.TryGetPropertyValue("model", out var model) && model is not null && !DashScopeParams.IsString(model))
        {
            return $"ASR.Params.model must be a string such as \"{defaultModel}\".";
        }

        return AudioFormatError(parameters, "ASR.Params") ?? PayloadError(parameters);
    }

    private static string? AudioFormatError(JsonObject parameters, string prefix)
    {
        if (DashScopeParams.AsksForNonPcm(parameters))
        {
            return $"{prefix}.format must be \"pcm\" (Parley sends 16 kHz PCM16); leave it out.";
        }

        if (parameters.TryGetPropertyValue("sample_rate", out var rate) && rate is not null
            && !(DashScopeParams.TryGetInt(rate, out var hz) && hz == 16000))
        {
            return $"{prefix}.sample_rate must be 16000 (Parley sends 16 kHz PCM16); leave it out.";
        }

        return null;
    }

    /// <summary><c>Params.payload</c>: an object; <c>model</c> a string; <c>parameters</c> an object whose <c>language_hints</c> is an array of strings.</summary>
    private string? PayloadError(JsonObject parameters)
    {
        if (!parameters.TryGetPropertyValue("payload", out var node) || node is null)
        {
            return null;
        }

        if (node is not JsonObject payload)
        {
            return "ASR.Params.payload must be an object (the DashScope run-task payload).";
        }

        if (payload.TryGetPropertyValue("model", out var model) && model is not null && !DashScopeParams.IsString(model))
        {
            return $"ASR.Params.payload.model must be a string such as \"{defaultModel}\".";
        }

        if (!payload.TryGetPropertyValue("parameters", out var p) || p is null)
        {
            return null;
        }

        if (p is not JsonObject runParameters)
        {
            return "ASR.Params.payload.parameters must be an object.";
        }

        if (runParameters.TryGetPropertyValue("language_hints", out var hints) && hints is not null
            && !(hints is JsonArray list && list.All(DashScopeParams.IsString)))
        {
            return "ASR.Params.payload.parameters.language_hints must be an array of language codes (strings) such as [\"en\"].";
        }

        return AudioFormatError(runParameters, "ASR.Params.payload.parameters");
    }

    public ISpeechRecognitionStream Open(SpeechRecognitionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (Validate(options.Parameters) is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        return new ParaformerRecognitionStream(pool, new ParaformerRequest(options.Parameters ?? [], pool.Options.ApiKey, defaultModel) { Vendor = vendorName }, _logger);
    }
}

/// <summary>The run-task payload of one Paraformer recognition task.</summary>
internal sealed class ParaformerRequest(JsonObject parameters, string? defaultKey = null, string defaultModel = ParaformerRecognizerProvider.DefaultModel)
{
    public string ApiKey { get; } = DashScopeParams.ApiKey(parameters, defaultKey);

    /// <summary>The contract's vendor name this task runs for (in errors and logs).</summary>
    public string Vendor { get; init; } = ParaformerRecognizerProvider.VendorName;

    /// <summary><c>Params.payload.model</c>, else the older <c>Params.model</c>, else the vendor's default.</summary>
    public string Model { get; } =
        Payload(parameters)?["model"] is { } pm && DashScopeParams.IsString(pm) ? pm.GetValue<string>()
        : parameters["model"] is { } m && DashScopeParams.IsString(m) ? m.GetValue<string>()
        : defaultModel;

    private JsonObject Parameters { get; } = parameters;

    private static JsonObject? Payload(JsonObject parameters) => parameters["payload"] as JsonObject;

    public void WritePayload(Utf8JsonWriter w)
    {
        w.WriteString("task_group", "audio");
        w.WriteString("task", "asr");
        w.WriteString("function", "recognition");
        w.WriteString("model", Model);
        w.WriteStartObject("parameters");
        w.WriteString("format", "pcm");
        w.WriteNumber("sample_rate", 16000);
        var payload = Payload(Parameters);
        var given = payload?["parameters"] as JsonObject;
        // The older top-level keys, then the contract's payload.parameters (which win on the same key).
        foreach (var (name, value) in Parameters)
        {
            if (!ParaformerRecognizerProvider.NotParameters.Contains(name) && (given is null || !given.ContainsKey(name)))
            {
                w.WritePropertyName(name);
                WriteValue(w, value);
            }
        }

        DashScopeConnection.WriteMembers(w, given, "format", "sample_rate");
        w.WriteEndObject();
        w.WriteStartObject("input");
        w.WriteEndObject();
        DashScopeConnection.WriteMembers(w, payload, ParaformerRecognizerProvider.OwnPayloadKeys);
    }

    private static void WriteValue(Utf8JsonWriter w, JsonNode? value)
    {
        if (value is null)
        {
            w.WriteNullValue();
        }
        else
        {
            value.WriteTo(w);
        }
    }
}
