using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Core.Text;
using Parley.Server.Api;

namespace Parley.Server.Instances;

/// <summary>
/// <c>AdvancedConfig.LLMMetaInfo</c> and <c>AdvancedConfig.TTSParamPaths</c> of CreateAgentInstance: checked (bad
/// input is <c>410000003</c> naming the field), stored on the <see cref="InstanceSpec"/> as JSON and turned into the
/// session's metadata rules and the voice's parameter paths.
/// </summary>
internal static class SpeechTextConfig
{
    /// <summary>The longest Begin/End delimiter accepted.</summary>
    public const int MaxDelimiterLength = 16;

    public const int MaxSendMetaKeys = 32;

    public const int MaxParamPaths = 32;

    /// <summary>Checks both fields; returns their JSON (null when absent).</summary>
    public static (string? MetaInfoJson, string? ParamPathsJson) Read(RequestBody? advanced)
    {
        if (advanced is null)
        {
            return (null, null);
        }

        return (ReadMetaInfo(advanced.OptionalObject("LLMMetaInfo")), ReadParamPaths(advanced.OptionalObject("TTSParamPaths")));
    }

    /// <summary>The session's metadata rules from the stored JSON, or null.</summary>
    public static MetaInfoRules? ToRules(string? json)
    {
        if (string.IsNullOrEmpty(json) || JsonNode.Parse(json) is not JsonObject o)
        {
            return null;
        }

        var keys = o["SendMetaKeys"] is JsonArray a ? a.Select(k => k!.GetValue<string>()).ToList() : [];
        return new MetaInfoRules(o["BeginCharacters"]!.GetValue<string>(), o["EndCharacters"]!.GetValue<string>(), keys);
    }

    /// <summary>The voice's parameter paths from the stored JSON, or null.</summary>
    public static IReadOnlyDictionary<string, string>? ToParamPaths(string? json)
    {
        if (string.IsNullOrEmpty(json) || JsonNode.Parse(json) is not JsonObject o || o.Count == 0)
        {
            return null;
        }

        return o.ToDictionary(p => p.Key, p => p.Value!.GetValue<string>(), StringComparer.Ordinal);
    }

    private static string? ReadMetaInfo(RequestBody? meta)
    {
        if (meta is null)
        {
            return null;
        }

        var begin = Delimiter(meta, "BeginCharacters");
        var end = Delimiter(meta, "EndCharacters");
        var keys = new JsonArray();
        foreach (var key in meta.OptionalArray("SendMetaKeys", MaxSendMetaKeys) ?? [])
        {
            var name = key.AsString(128);
            if (string.IsNullOrWhiteSpace(name))
            {
                throw ApiException.InvalidParameter($"{key.FieldPath("")[..^1]} must be a non-empty string");
            }

            keys.Add(name);
        }

        return new JsonObject { ["BeginCharacters"] = begin, ["EndCharacters"] = end, ["SendMetaKeys"] = keys }.ToJsonString();
    }

    private static string Delimiter(RequestBody meta, string name)
    {
        var value = meta.OptionalString(name, 64);
        if (string.IsNullOrWhiteSpace(value))
        {
            throw ApiException.InvalidParameter($"{meta.FieldPath(name)} is required and cannot be empty or only whitespace");
        }

        if (value.Length > MaxDelimiterLength)
        {
            throw ApiException.InvalidParameter($"{meta.FieldPath(name)} must be at most {MaxDelimiterLength} characters");
        }

        return value;
    }

    private static string? ReadParamPaths(RequestBody? paths)
    {
        if (paths is null)
        {
            return null;
        }

        var o = paths.ToJsonObject();
        if (o.Count > MaxParamPaths)
        {
            throw ApiException.InvalidParameter($"{paths.FieldPath("")[..^1]} may have at most {MaxParamPaths} entries");
        }

        foreach (var (key, value) in o)
        {
            var field = paths.FieldPath(key);
            if (key.Length == 0)
            {
                throw ApiException.InvalidParameter($"{paths.FieldPath("")[..^1]} keys must be non-empty metadata keys");
            }

            if (value is not JsonValue v || v.GetValueKind() != JsonValueKind.String)
            {
                throw ApiException.InvalidParameter($"{field} must be a string (a dotted path in TTS.Params, e.g. \"payload.parameters.instruction\")");
            }

            var path = v.GetValue<string>();
            if (path.Length is 0 or > 256 || path.Split('.').Any(part => part.Trim().Length == 0))
            {
                throw ApiException.InvalidParameter($"{field} '{path}' must be a dotted path of non-empty names (at most 256 characters), e.g. \"payload.parameters.instruction\"");
            }
        }

        return o.ToJsonString();
    }
}
