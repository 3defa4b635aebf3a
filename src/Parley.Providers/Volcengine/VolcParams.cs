using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Providers.Volcengine;

/// <summary>The credentials of one Volcengine request (never logged).</summary>
internal sealed record VolcCredentials(string AppId, string Token, string ResourceId, string? Cluster = null)
{
    /// <summary>The pool key: endpoint and credentials.</summary>
    public string Key(Uri endpoint) => endpoint.AbsoluteUri + "\n" + AppId + "\n" + Token + "\n" + ResourceId;
}

/// <summary>Reads and checks the Params shared by the Volcengine vendors (<c>Params.app</c>, <c>req_params</c>).</summary>
internal static class VolcParams
{
    /// <summary>The contract's trial credential: meaningless to Volcengine.</summary>
    public const string ZegoTrialValue = "zego_test";

    public static readonly int[] SampleRates = [8000, 16000, 22050, 24000, 32000, 44100, 48000];

    public static bool IsString(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String;

    public static bool IsNumber(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number;

    public static string? String(JsonNode? node) => IsString(node) ? node!.GetValue<string>() : null;

    /// <summary>
    /// An error naming the first missing credential of <c>Params.app</c> (<paramref name="fields"/>; the first name of
    /// each is the documented one, the others accepted aliases), or null. <paramref name="defaults"/> fill absent fields.
    /// </summary>
    public static string? CredentialError(JsonObject? parameters, string prefix, IReadOnlyList<string[]> fields, IReadOnlyList<string?>? defaults = null)
    {
        var app = parameters?["app"];
        if (app is not null and not JsonObject)
        {
            return $"{prefix}.Params.app must be an object.";
        }

        for (var i = 0; i < fields.Count; i++)
        {
            var names = fields[i];
            var found = names.Select(n => (app as JsonObject)?[n]).FirstOrDefault(n => n is not null);
            if (found is not null && !IsString(found))
            {
                return $"{prefix}.Params.app.{names[0]} must be a string.";
            }

            var value = String(found)?.Trim();
            if (string.IsNullOrEmpty(value))
            {
                if (defaults is not null && !string.IsNullOrWhiteSpace(defaults[i]))
                {
                    continue;
                }

                return $"{prefix}.Params.app.{names[0]} is required and must be a non-empty string.";
            }

            if (string.Equals(value, ZegoTrialValue, StringComparison.Ordinal) && !(defaults is not null && !string.IsNullOrWhiteSpace(defaults[i])))
            {
                return $"{prefix}.Params.app.{names[0]} \"{ZegoTrialValue}\" is ZEGO's trial placeholder, not a Volcengine credential.";
            }
        }

        return null;
    }

    /// <summary>A credential from <c>Params.app</c> (first of <paramref name="names"/> present), else <paramref name="fallback"/>; placeholders give way to the fallback.</summary>
    public static string? Credential(JsonObject? parameters, string? fallback, params string[] names)
    {
        var app = parameters?["app"] as JsonObject;
        foreach (var name in names)
        {
            var value = String(app?[name])?.Trim();
            if (!string.IsNullOrEmpty(value) && !(value == ZegoTrialValue && !string.IsNullOrWhiteSpace(fallback)))
            {
                return value;
            }
        }

        return string.IsNullOrWhiteSpace(fallback) ? null : fallback.Trim();
    }

    /// <summary>Whether <c>Params.app</c> has a credential of the wrong type (a mistake, refused at configuration).</summary>
    public static string? CredentialTypeError(JsonObject? parameters, string prefix, params string[] names)
    {
        var app = parameters?["app"];
        if (app is null)
        {
            return null;
        }

        if (app is not JsonObject o)
        {
            return $"{prefix}.Params.app must be an object.";
        }

        return names.FirstOrDefault(n => o[n] is { } v && !IsString(v)) is { } bad ? $"{prefix}.Params.app.{bad} must be a string." : null;
    }

    /// <summary>Checks <c>req_params</c> of the V3 TTS vendors: speaker a string, audio_params an object with pcm and a known rate, numbers in range.</summary>
    public static string? ReqParamsError(JsonObject? parameters, string vendor)
    {
        if (parameters?["req_params"] is not { } node)
        {
            return null;
        }

        if (node is not JsonObject req)
        {
            return "TTS.Params.req_params must be an object.";
        }

        if (req["speaker"] is { } speaker && !IsString(speaker))
        {
            return "TTS.Params.req_params.speaker must be a string such as \"zh_female_vv_uranus_bigtts\".";
        }

        if (req["additions"] is { } additions && additions is not JsonObject && !IsString(additions))
        {
            return "TTS.Params.req_params.additions must be an object or a JSON string.";
        }

        if (req["audio_params"] is not { } audioNode)
        {
            return null;
        }

        if (audioNode is not JsonObject audio)
        {
            return "TTS.Params.req_params.audio_params must be an object.";
        }

        if (audio["format"] is { } format && !(IsString(format) && string.Equals(format.GetValue<string>(), "pcm", StringComparison.OrdinalIgnoreCase)))
        {
            return $"TTS.Params.req_params.audio_params.format must be \"pcm\" ({vendor} audio is streamed as raw PCM16); leave it out.";
        }

        if (audio["sample_rate"] is { } rate && !(TryGetInt(rate, out var hz) && SampleRates.Contains(hz)))
        {
            return $"TTS.Params.req_params.audio_params.sample_rate must be one of {string.Join(", ", SampleRates)}.";
        }

        foreach (var name in new[] { "speech_rate", "loudness_rate" })
        {
            if (audio[name] is { } value && !(TryGetDouble(value, out var number) && number is >= -50 and <= 100))
            {
                return $"TTS.Params.req_params.audio_params.{name} must be a number in [-50, 100].";
            }
        }

        return null;
    }

    /// <summary>A JSON number as a double, whether parsed or built in code (int, long, decimal…).</summary>
    public static bool TryGetDouble(JsonNode? node, out double value)
    {
        value = 0;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number)
        {
            return false;
        }

        if (v.TryGetValue(out value))
        {
            return true;
        }

        return double.TryParse(v.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out value);
    }

    public static bool TryGetInt(JsonNode? node, out int value)
    {
        value = 0;
        return node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out value);
    }

    /// <summary>Writes <paramref name="node"/>'s members into the current object, skipping <paramref name="skip"/>.</summary>
    public static void WriteMembers(Utf8JsonWriter writer, JsonObject? node, params ReadOnlySpan<string> skip)
    {
        if (node is null)
        {
            return;
        }

        foreach (var (name, value) in node)
        {
            if (skip.Contains(name))
            {
                continue;
            }

            writer.WritePropertyName(name);
            if (value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                value.WriteTo(writer);
            }
        }
    }
}
