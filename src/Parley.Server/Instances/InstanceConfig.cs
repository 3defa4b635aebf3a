using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Server.Api;

namespace Parley.Server.Instances;

/// <summary>Parley's choices of codes for instance situations the contract leaves open (docs/compatibility.md).</summary>
public static class InstanceCodes
{
    /// <summary>A running instance already publishes the requested AgentStreamId: creation refused (instance creation failed).</summary>
    public const int AgentStreamIdInUse = ReturnCodes.InstanceCreateFailed;

    // Exception / AgentInstanceDeleted codes (spec 6.4, 6.6).
    public const int RoomGeneral = 1201;

    /// <summary>Internal (never sent): the grain's node is draining; CreateAgentInstance places the instance again.</summary>
    public const int NodeDraining = -410;
    public const int RoomIdle = 1202;
    public const int Kicked = 1203;
    public const int RoomLoginFailed = 1204;
    public const int Disconnected = 1205;
    public const int PublishFailed = 1206;
    public const int PlayFailed = 1207;
}

/// <summary>Per-instance configuration: overrides merged over the agent's (or the instance's current) settings.</summary>
public static class InstanceConfig
{
    /// <summary>Fields a given object does not replace on UpdateAgentInstance: the instance keeps its own value (TTS; update-agent-instance.yaml).</summary>
    private static readonly string[] Kept = ["FilterText", "TerminatorText", "CharacterFilter"];

    /// <summary>
    /// The UpdateAgentInstance rule (ZEGO 2.13, update-agent-instance.yaml: "updated in a cover-up manner"): a given
    /// <paramref name="overlay"/> REPLACES <paramref name="baseline"/> whole; no overlay keeps the baseline. JSON null
    /// fields of the overlay are dropped. <c>Vendor</c> stays the baseline's when the overlay omits it, and
    /// <c>FilterText</c>, <c>TerminatorText</c> and <c>CharacterFilter</c> (TTS) always stay the baseline's: they
    /// cannot change on a running instance.
    /// </summary>
    public static JsonObject Merge(JsonObject? baseline, JsonObject? overlay)
    {
        if (overlay is null)
        {
            return baseline?.DeepClone().AsObject() ?? [];
        }

        var result = new JsonObject();
        foreach (var (key, value) in overlay)
        {
            if (value is not null && !Kept.Contains(key, StringComparer.Ordinal))
            {
                result[key] = value.DeepClone();
            }
        }

        if (!result.ContainsKey("Vendor") && baseline?["Vendor"] is { } vendor)
        {
            result["Vendor"] = vendor.DeepClone();
        }

        foreach (var key in Kept)
        {
            if (baseline?[key] is { } kept)
            {
                result[key] = kept.DeepClone();
            }
        }

        return result;
    }

    /// <summary>
    /// The CreateAgentInstance rule: <paramref name="overlay"/> (the request's object) over <paramref name="baseline"/>
    /// (the registered agent's) field by field: nested objects (e.g. Params) merge key-wise recursively, arrays and
    /// scalars replace, JSON null means "not given" (the baseline value stays).
    /// </summary>
    public static JsonObject Overlay(JsonObject? baseline, JsonObject? overlay) => JsonMerge.Merge(baseline, overlay, JsonNullMeans.NotGiven);

    /// <summary>Validates a merged (complete) configuration; throws <see cref="ApiException"/> naming the field.</summary>
    public static void ValidateMerged(JsonObject llm, JsonObject tts, JsonObject asr, Parley.Providers.Net.OutboundPolicy policy, bool ttsComplete = true) =>
        AgentConfigValidator.ValidateComplete(llm, tts, asr, policy, ttsComplete);

    public static LlmSettings ToLlmSettings(JsonObject llm) => new(
        Url: llm["Url"]?.GetValue<string>() ?? "",
        ApiKey: llm["ApiKey"]?.GetValue<string>() ?? "",
        Model: llm["Model"]?.GetValue<string>() ?? "",
        SystemPrompt: llm["SystemPrompt"]?.GetValue<string>(),
        Temperature: llm["Temperature"] is JsonValue t ? t.GetValue<double>() : LlmSettings.DefaultTemperature,
        TopP: llm["TopP"] is JsonValue p ? p.GetValue<double>() : LlmSettings.DefaultTopP,
        Params: llm["Params"] is JsonObject parameters ? parameters.DeepClone().AsObject() : null,
        AddAgentInfo: llm["AddAgentInfo"] is JsonValue a && a.GetValue<bool>())
    {
        AgentExtraInfo = llm["AgentExtraInfo"] is JsonObject extra ? extra.DeepClone().AsObject() : null,
        Vendor = llm["Vendor"] is JsonValue vendor && vendor.TryGetValue<string>(out var name) ? name : null,
    };

    public static JsonObject Parse(string? json) =>
        string.IsNullOrEmpty(json) ? [] : JsonNode.Parse(json) as JsonObject ?? [];
}
