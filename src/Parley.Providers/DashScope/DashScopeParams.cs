using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Providers.DashScope;

/// <summary>Reads the credential block shared by the DashScope vendors: <c>Params.app.api_key</c>.</summary>
internal static class DashScopeParams
{
    /// <summary>The contract's trial credential ("may be zego_test during trial"): meaningless to DashScope.</summary>
    public const string ZegoTrialKey = "zego_test";

    public static string? ApiKeyError(JsonObject? parameters, string prefix)
    {
        if (parameters?["app"] is not JsonObject app)
        {
            return $"{prefix}.Params.app.api_key is required (Params.app must be an object).";
        }

        if (!(app["api_key"] is JsonValue key && key.GetValueKind() == JsonValueKind.String && !string.IsNullOrWhiteSpace(key.GetValue<string>())))
        {
            return $"{prefix}.Params.app.api_key is required and must be a non-empty string.";
        }

        return string.Equals(key.GetValue<string>().Trim(), ZegoTrialKey, StringComparison.Ordinal)
            ? $"{prefix}.Params.app.api_key \"{ZegoTrialKey}\" is ZEGO's trial placeholder, not a DashScope API key."
            : null;
    }

    public static string ApiKey(JsonObject parameters) => parameters["app"]!["api_key"]!.GetValue<string>().Trim();

    public static bool IsString(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String;

    public static bool TryGetInt(JsonNode? node, out int value)
    {
        value = 0;
        return node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out value);
    }
}
