using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Providers.DashScope;

/// <summary>
/// Reads the credential block shared by the DashScope vendors: <c>Params.app.api_key</c>, or when an agent gives none
/// (or ZEGO's trial placeholder), the deployment's <see cref="DashScopeOptions.ApiKey"/>.
/// </summary>
internal static class DashScopeParams
{
    /// <summary>The contract's trial credential ("may be zego_test during trial"): meaningless to DashScope.</summary>
    public const string ZegoTrialKey = "zego_test";

    public static string? ApiKeyError(JsonObject? parameters, string prefix, string? defaultKey)
    {
        var error = OwnKeyError(parameters, prefix);
        return error is not null && !string.IsNullOrWhiteSpace(defaultKey) && !HasOwnKeyOfWrongType(parameters) ? null : error;
    }

    /// <summary>The agent's own key when usable, else the deployment's default (call after <see cref="ApiKeyError"/> passed).</summary>
    public static string ApiKey(JsonObject? parameters, string? defaultKey) =>
        OwnKeyError(parameters, "") is null ? parameters!["app"]!["api_key"]!.GetValue<string>().Trim() : defaultKey!.Trim();

    /// <summary>An error for an <c>app</c> or <c>api_key</c> that is present but not an object/string, else null (absent or placeholder keys pass).</summary>
    public static string? KeyTypeError(JsonObject? parameters, string prefix) =>
        HasOwnKeyOfWrongType(parameters) ? OwnKeyError(parameters, prefix) : null;

    /// <summary>An <c>app</c> or <c>api_key</c> that is present but not an object/string is a mistake, not an absence.</summary>
    private static bool HasOwnKeyOfWrongType(JsonObject? parameters) =>
        parameters is not null
        && parameters.TryGetPropertyValue("app", out var app) && app is not null
        && (app is not JsonObject o || (o.TryGetPropertyValue("api_key", out var key) && key is not null && !IsString(key)));

    private static string? OwnKeyError(JsonObject? parameters, string prefix)
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

    /// <summary>Whether <paramref name="parameters"/> asks for an audio <c>format</c> other than pcm (Parley streams raw PCM16).</summary>
    public static bool AsksForNonPcm(JsonObject parameters) =>
        parameters.TryGetPropertyValue("format", out var format) && format is not null
        && !(IsString(format) && string.Equals(format.GetValue<string>(), "pcm", StringComparison.OrdinalIgnoreCase));

    public static bool IsString(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String;

    public static bool TryGetInt(JsonNode? node, out int value)
    {
        value = 0;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
        {
            return false;
        }

        // A value parsed from JSON reads as any integer type; one built in code holds its own CLR type (long, double…).
        if (v.TryGetValue(out value))
        {
            return true;
        }

        if (v.TryGetValue(out long wide) && wide is >= int.MinValue and <= int.MaxValue)
        {
            value = (int)wide;
            return true;
        }

        if (v.TryGetValue(out double real) && real == Math.Floor(real) && real is >= int.MinValue and <= int.MaxValue)
        {
            value = (int)real;
            return true;
        }

        return false;
    }
}
