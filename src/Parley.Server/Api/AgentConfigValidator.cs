using System.Text.Json.Nodes;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;
using Parley.Providers.Llm;
using Parley.Providers.Net;

namespace Parley.Server.Api;

/// <summary>
/// Validates the contract's LLM, TTS and ASR objects (spec 2.1–2.3). A complete object (register, or the result of a
/// merge) must carry the required fields; unknown fields are kept (ZEGO adds fields over time).
/// </summary>
public static class AgentConfigValidator
{
    /// <summary><c>LLM.Vendor</c> values: the Chat Completions API (default) and the Responses API. Matched case-insensitively.</summary>
    public static readonly IReadOnlyList<string> LlmVendors = [LlmVendorNames.OpenAIChat, LlmVendorNames.OpenAIResponses];

    /// <summary>ASR vendors served on DashScope's real-time ASR WebSocket API, whose <c>Params.payload</c> is the run-task payload.</summary>
    public static readonly IReadOnlyList<string> DashScopeAsrVendors = ["AliyunParaformer", "AliyunFunASR"];

    /// <summary>ASR vendors of the contract (shared-components.yaml <c>ASR.Vendor</c>) plus Parley's local engine. Matched case-insensitively.</summary>
    public static readonly IReadOnlyList<string> AsrVendors = ["Local", "Tencent", "AliyunParaformer", "Microsoft", "AliyunFunASR", "AliyunQwenASR", "VolcSeedASR"];

    /// <summary>
    /// Validates an LLM object. <c>Url</c> is an absolute http(s) URL or <c>parley:demo</c> (the built-in demo LLM);
    /// with <paramref name="policy"/> it must also pass the outbound URL policy (complete objects: register, merges).
    /// </summary>
    public static void ValidateLlm(RequestBody llm, bool complete, OutboundPolicy? policy = null)
    {
        var url = complete ? llm.RequiredString("Url", 2048) : llm.OptionalString("Url", 2048);
        CheckTrialKey(llm, url);
        if (url is not null && !DemoChatModel.Selects(url))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw ApiException.InvalidParameter($"{llm.FieldPath("Url")} must be an absolute http or https URL (or {DemoChatModel.Url}, the built-in demo LLM)");
            }

            if (policy is not null)
            {
                CheckOutboundUrl(llm, "Url", url, OutboundProtocol.Http, policy);
            }
        }

        _ = complete ? llm.RequiredString("Model", 256) : llm.OptionalString("Model", 256);
        llm.OptionalString("ApiKey", 4096);
        llm.OptionalString("SystemPrompt", 64 * 1024);
        llm.OptionalNumber("Temperature", 0, 2);
        llm.OptionalNumber("TopP", 0, 1);
        llm.OptionalObject("Params");
        llm.OptionalBool("AddAgentInfo");
        llm.OptionalObject("AgentExtraInfo");
        var vendor = llm.OptionalString("Vendor", 64);
        if (vendor is not null && !LlmVendors.Contains(vendor, StringComparer.OrdinalIgnoreCase))
        {
            throw ApiException.InvalidParameter($"{llm.FieldPath("Vendor")} '{vendor}' is not supported; supported: {string.Join(", ", LlmVendors)}");
        }
    }

    /// <summary>
    /// ZEGO's trial key (<c>LLM.ApiKey</c> <c>"zego_test"</c>) is only valid with one of ZEGO's trial URLs:
    /// <c>410001047</c> otherwise, as ZEGO answers. Such an LLM is served by <c>Parley:Llm:Trial</c> (or the demo LLM).
    /// </summary>
    private static void CheckTrialKey(RequestBody llm, string? url)
    {
        if (url is null || DemoChatModel.Selects(url) || !ZegoTrialChatModel.IsTrialKey(llm.OptionalString("ApiKey", 4096)) || ZegoTrialChatModel.IsTrialUrl(url))
        {
            return;
        }

        throw new ApiException(
            ReturnCodes.ZegoTestKeyUrlNotAllowed,
            $"{llm.FieldPath("ApiKey")} is \"zego_test\" (ZEGO's trial key), which works only with these {llm.FieldPath("Url")} values: {string.Join(", ", ZegoTrialChatModel.TrialUrls)}; give your provider's key, or one of these URLs");
    }

    /// <summary>
    /// Validates a TTS object's fields; with <paramref name="engines"/> the Vendor must also be one of the TTS
    /// registry's names (the same list the selection and its fallback read).
    /// </summary>
    public static void ValidateTts(RequestBody tts, bool complete, bool allowFilterText = true, VendorRegistry<ITextToSpeech>? engines = null, OutboundPolicy? policy = null)
    {
        var vendor = complete ? tts.RequiredString("Vendor", 64) : tts.OptionalString("Vendor", 64);
        if (vendor is not null)
        {
            CheckTtsVendor(vendor, tts.FieldPath("Vendor"), engines);
        }

        var parameters = tts.OptionalObject("Params");
        if (complete && vendor is not null && Rooms.TtsProviders.ZegoCloudVendors.Contains(vendor, StringComparer.OrdinalIgnoreCase))
        {
            // The contract requires Params.app (the vendor's credentials) for its cloud vendors.
            (parameters ?? throw ApiException.InvalidParameter($"{tts.FieldPath("Params")} is required for vendor {vendor}"))
                .RequiredObject("app");
        }

        if (allowFilterText)
        {
            var filters = tts.OptionalArray("FilterText", 32);
            if (filters is not null)
            {
                foreach (var filter in filters)
                {
                    if (filter.Element.ValueKind != System.Text.Json.JsonValueKind.Object)
                    {
                        throw ApiException.InvalidParameter($"{filter.FieldPath("")[..^1]} must be an object");
                    }

                    filter.RequiredString("BeginCharacters", 16);
                    filter.RequiredString("EndCharacters", 16);
                }
            }
        }

        var terminator = tts.OptionalString("TerminatorText");
        if (terminator is not null && terminator.Length > 4)
        {
            throw ApiException.InvalidParameter($"{tts.FieldPath("TerminatorText")} must be at most 4 characters");
        }

        ValidateCharacterFilter(tts);
        ValidateTtsUrl(tts, policy);
    }

    /// <summary><c>TTS.CharacterFilter</c>: an array of strings of 1–2 characters (text elements), each removed from the text before synthesis.</summary>
    private static void ValidateCharacterFilter(RequestBody tts)
    {
        var filters = tts.OptionalArray("CharacterFilter", 64);
        if (filters is null)
        {
            return;
        }

        foreach (var filter in filters)
        {
            var text = filter.AsString(32);
            if (new System.Globalization.StringInfo(text).LengthInTextElements > 2)
            {
                throw ApiException.InvalidParameter($"{filter.FieldPath("")[..^1]} '{text}' must be at most 2 characters");
            }
        }
    }

    /// <summary>
    /// <c>TTS.Url</c>, the vendor endpoint: an absolute http, https, ws or wss URL; with <paramref name="policy"/>
    /// (complete objects) it must also pass the outbound URL policy, as <c>LLM.Url</c> does.
    /// </summary>
    private static void ValidateTtsUrl(RequestBody tts, OutboundPolicy? policy)
    {
        var url = tts.OptionalString("Url", 2048);
        if (url is null)
        {
            return;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https" or "ws" or "wss"))
        {
            throw ApiException.InvalidParameter($"{tts.FieldPath("Url")} must be an absolute http, https, ws or wss URL");
        }

        if (policy is not null)
        {
            CheckOutboundUrl(tts, "Url", url, uri.Scheme is "ws" or "wss" ? OutboundProtocol.WebSocket : OutboundProtocol.Http, policy);
        }
    }

    /// <summary>
    /// Checks a complete (registered or merged) TTS object against this server's TTS vendors: the Vendor must be one
    /// of the registry's names (its engines and the contract's cloud vendors, which speak with the fallback), and the
    /// engine must be able to speak with the Params. Throws <see cref="ApiException"/> (410000003) naming the field.
    /// Without the engine's check a bad voice or speed was found only when speaking: the agent stayed mute with
    /// Exception 2301 on every sentence.
    /// </summary>
    internal static void ValidateTtsParams(JsonObject tts, Rooms.TtsProviders? providers)
    {
        if (providers is null)
        {
            return;
        }

        if (tts["Vendor"] is JsonValue value && value.TryGetValue<string>(out var vendor))
        {
            CheckTtsVendor(vendor, "TTS.Vendor", providers.Vendors);
        }

        if (providers.ValidateConfiguration(tts) is { } error)
        {
            throw ApiException.InvalidParameter(error);
        }
    }

    private static void CheckTtsVendor(string vendor, string field, VendorRegistry<ITextToSpeech>? engines)
    {
        if (engines is not null && !engines.Accepts(vendor))
        {
            throw ApiException.InvalidParameter($"{field} '{vendor}' is not supported; supported: {string.Join(", ", engines.Names)}");
        }
    }

    /// <summary>
    /// Refuses a URL an agent's configuration makes Parley call (<c>LLM.Url</c>; a vendor's <c>TTS.Url</c> the same
    /// way) when the outbound URL policy does: 410000003 naming the field and the reason, never resolving names (the
    /// connection is checked again on the resolved address).
    /// </summary>
    public static void CheckOutboundUrl(RequestBody parent, string field, string url, OutboundProtocol protocol, OutboundPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(policy);
        if (policy.CheckUrl(url, protocol, UrlOrigin.Agent) is { } refusal)
        {
            throw ApiException.InvalidParameter($"{parent.FieldPath(field)} is refused by the outbound URL policy: it {refusal}");
        }
    }

    /// <summary>Validates complete (registered or merged) LLM, TTS and ASR objects, URLs against <paramref name="policy"/>; throws <see cref="ApiException"/> naming the field.</summary>
    /// <param name="ttsComplete">false for a text-only instance (AdvancedConfig.DisableTTS): the TTS fields given are checked, none is required.</param>
    public static void ValidateComplete(JsonObject llm, JsonObject tts, JsonObject asr, OutboundPolicy policy, bool ttsComplete = true)
    {
        ValidateLlm(new RequestBody(System.Text.Json.JsonSerializer.SerializeToElement(llm), "LLM"), complete: true, policy);
        ValidateTts(new RequestBody(System.Text.Json.JsonSerializer.SerializeToElement(tts), "TTS"), complete: ttsComplete, policy: policy);
        ValidateAsr(new RequestBody(System.Text.Json.JsonSerializer.SerializeToElement(asr), "ASR"));
    }

    public static void ValidateAsr(RequestBody asr)
    {
        var hotWord = asr.OptionalString("HotWord", 8192);
        if (!string.IsNullOrEmpty(hotWord))
        {
            ValidateHotWords(hotWord, asr.FieldPath("HotWord"));
        }

        var parameters = asr.OptionalObject("Params");
        var vendor = asr.OptionalString("Vendor", 64);
        if (vendor is not null && !AsrVendors.Contains(vendor, StringComparer.OrdinalIgnoreCase))
        {
            throw ApiException.InvalidParameter($"{asr.FieldPath("Vendor")} '{vendor}' is not supported; supported: {string.Join(", ", AsrVendors)}");
        }

        if (parameters is not null && vendor is not null && DashScopeAsrVendors.Contains(vendor, StringComparer.OrdinalIgnoreCase))
        {
            ValidateDashScopePayload(parameters);
        }

        // The deprecated turn and sensitivity fields (2.12 moved them to the VAD object; still honoured).
        asr.OptionalInteger("VADSilenceSegmentation", 200, 2000);
        asr.OptionalInteger("PauseInterval", 200, 2000);
        asr.OptionalInteger("VADSensitiveLevel", 0, 3);
        asr.OptionalInteger("VADMinSpeechDur", 0, 1000);
        asr.OptionalNumber("VADEnergyThreshold", 0, 1);
    }

    /// <summary>
    /// The <c>VAD</c> object of CreateAgentInstance (shared-components.yaml <c>VAD</c>): <c>TurnDetectConfig</c>
    /// {<c>SilenceSegmentation</c> 200–2000 ms, <c>PauseInterval</c> 200–2000 ms} and
    /// <c>VoiceDetectConfig.SensitiveConfig</c> {<c>Level</c> 0–3, <c>MinSpeechDur</c> 0–1000 ms,
    /// <c>EnergyThreshold</c> 0–1}; <c>410000003</c> naming the field otherwise.
    /// </summary>
    public static void ValidateVad(RequestBody vad)
    {
        var turn = vad.OptionalObject("TurnDetectConfig");
        turn?.OptionalInteger("SilenceSegmentation", 200, 2000);
        turn?.OptionalInteger("PauseInterval", 200, 2000);
        var sensitive = vad.OptionalObject("VoiceDetectConfig")?.OptionalObject("SensitiveConfig");
        sensitive?.OptionalInteger("Level", 0, 3);
        sensitive?.OptionalInteger("MinSpeechDur", 0, 1000);
        sensitive?.OptionalNumber("EnergyThreshold", 0, 1);
    }

    /// <summary>
    /// DashScope ASR <c>Params.payload</c> (the run-task payload, passed through): an object whose <c>model</c> is a
    /// string and whose <c>parameters</c> is an object with <c>language_hints</c> an array of strings.
    /// </summary>
    private static void ValidateDashScopePayload(RequestBody parameters)
    {
        var payload = parameters.OptionalObject("payload");
        if (payload is null)
        {
            return;
        }

        payload.OptionalString("model", 256);
        var runParameters = payload.OptionalObject("parameters");
        var hints = runParameters?.OptionalArray("language_hints", 32);
        if (hints is not null)
        {
            foreach (var hint in hints)
            {
                _ = hint.AsString(64);
            }
        }
    }

    /// <summary>Format <c>word1|w1,word2|w2</c>; at most 128 words of at most 30 characters, no spaces, weight in [-1, 11].</summary>
    private static void ValidateHotWords(string hotWord, string field)
    {
        var entries = hotWord.Split(',');
        if (entries.Length > 128)
        {
            throw ApiException.InvalidParameter($"{field} has {entries.Length} words; at most 128 are allowed");
        }

        foreach (var entry in entries)
        {
            var bar = entry.LastIndexOf('|');
            var word = bar < 0 ? entry : entry[..bar];
            if (word.Length == 0 || word.Length > 30 || word.Contains(' '))
            {
                throw ApiException.InvalidParameter($"{field}: '{entry}' must be a word of 1–30 characters without spaces followed by |weight");
            }

            if (bar < 0 || !int.TryParse(entry.AsSpan(bar + 1), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var weight) || weight < -1 || weight > 11)
            {
                throw ApiException.InvalidParameter($"{field}: '{entry}' needs a weight between -1 and 11 (word|weight)");
            }
        }
    }
}

/// <summary>What a JSON <c>null</c> in an overlay means.</summary>
public enum JsonNullMeans
{
    /// <summary>Remove the field (UpdateAgent: the only way to drop an optional field).</summary>
    Remove,

    /// <summary>Not given: the baseline value stays (instance overrides; ZEGO's sample sends <c>"LLM": null</c>).</summary>
    NotGiven,
}

/// <summary>Field-by-field merge of configuration objects: given fields replace, nested objects (e.g. Params) merge recursively, arrays replace.</summary>
public static class JsonMerge
{
    public static JsonObject Merge(JsonObject? baseline, JsonObject? overlay, JsonNullMeans nulls = JsonNullMeans.Remove)
    {
        var result = baseline?.DeepClone().AsObject() ?? [];
        if (overlay is null)
        {
            return result;
        }

        foreach (var (key, value) in overlay)
        {
            if (value is null)
            {
                if (nulls == JsonNullMeans.Remove)
                {
                    result.Remove(key);
                }
            }
            else if (value is JsonObject overlayObject && result[key] is JsonObject baseObject)
            {
                result[key] = Merge(baseObject, overlayObject, nulls);
            }
            else
            {
                result[key] = value.DeepClone();
            }
        }

        return result;
    }
}
