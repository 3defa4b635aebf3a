using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Providers.AliyunNls;

/// <summary>
/// Reads and checks ZEGO's Aliyun TTS Params: <c>app</c> {app_key, ak_id, ak_key} (or {app_key, token} with a token
/// obtained elsewhere), <c>voice</c> (default xiaoyun), <c>volume</c> 0–100, <c>speech_rate</c> and
/// <c>pitch_rate</c> −500–500, <c>sample_rate</c>, and every other StartSynthesis payload field, passed through.
/// Parley forces <c>format</c> "pcm" and asks for <c>enable_subtitle</c> (word timings) unless the Params say false.
/// </summary>
internal static class AliyunNlsParams
{
    public const string ZegoTrialKey = "zego_test";
    public const string DefaultVoice = "xiaoyun";
    public const int DefaultSampleRate = 16000;

    public static readonly int[] SampleRates = [8000, 16000, 24000];

    private static readonly string[] Reserved = ["app", "text", "format", "sample_rate", "voice", "enable_subtitle"];

    public static string? Error(JsonObject? parameters) => CredentialError(parameters) ?? ConfigurationError(parameters);

    public static string? CredentialError(JsonObject? parameters)
    {
        if (parameters?["app"] is not JsonObject app)
        {
            return "TTS.Params.app is required: {\"app_key\", \"ak_id\", \"ak_key\"}.";
        }

        if (Missing(app, "app_key") is { } key)
        {
            return key;
        }

        if (NonEmpty(app["token"]))
        {
            return Placeholder(app, "app_key") ?? Placeholder(app, "token");
        }

        return Missing(app, "ak_id") ?? Missing(app, "ak_key") ?? Placeholder(app, "app_key") ?? Placeholder(app, "ak_id") ?? Placeholder(app, "ak_key");
    }

    public static string? ConfigurationError(JsonObject? parameters)
    {
        if (parameters is null)
        {
            return null;
        }

        if (parameters.TryGetPropertyValue("app", out var appNode) && appNode is not null)
        {
            if (appNode is not JsonObject app)
            {
                return "TTS.Params.app must be an object: {\"app_key\", \"ak_id\", \"ak_key\"}.";
            }

            foreach (var field in (ReadOnlySpan<string>)["app_key", "ak_id", "ak_key", "token"])
            {
                if (app[field] is { } value && !IsString(value))
                {
                    return $"TTS.Params.app.{field} must be a string.";
                }
            }
        }

        if (parameters["voice"] is { } voice && !IsString(voice))
        {
            return "TTS.Params.voice must be a string such as \"xiaoyun\".";
        }

        return Range(parameters, "volume", 0, 100) ?? Range(parameters, "speech_rate", -500, 500) ?? Range(parameters, "pitch_rate", -500, 500)
            ?? (parameters["sample_rate"] is { } rate && !(TryGetInt(rate, out var hz) && SampleRates.Contains(hz))
                ? $"TTS.Params.sample_rate must be one of {string.Join(", ", SampleRates)}."
                : null)
            ?? (parameters["text"] is not null ? "TTS.Params.text is not a parameter: the text comes from the agent." : null);
    }

    public static string AppKey(JsonObject p) => p["app"]!["app_key"]!.GetValue<string>().Trim();

    /// <summary>The token given directly (<c>app.token</c>), or null when it is to be obtained from ak_id/ak_key.</summary>
    public static string? Token(JsonObject p) => NonEmpty(p["app"]?["token"]) ? p["app"]!["token"]!.GetValue<string>().Trim() : null;

    public static (string Id, string Secret) AccessKey(JsonObject p) =>
        (p["app"]!["ak_id"]!.GetValue<string>().Trim(), p["app"]!["ak_key"]!.GetValue<string>().Trim());

    public static int SampleRate(JsonObject p) => TryGetInt(p["sample_rate"], out var hz) ? hz : DefaultSampleRate;

    public static bool Subtitles(JsonObject p) => p["enable_subtitle"] is not JsonValue v || v.GetValueKind() != JsonValueKind.False;

    /// <summary>The StartSynthesis message for one text.</summary>
    public static byte[] StartSynthesis(JsonObject p, string appKey, string taskId, string text)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartObject("header");
            w.WriteString("message_id", Guid.NewGuid().ToString("N"));
            w.WriteString("task_id", taskId);
            w.WriteString("namespace", "SpeechSynthesizer");
            w.WriteString("name", "StartSynthesis");
            w.WriteString("appkey", appKey);
            w.WriteEndObject();
            w.WriteStartObject("payload");
            w.WriteString("text", text);
            w.WriteString("voice", p["voice"] is JsonValue v && IsString(v) ? v.GetValue<string>() : DefaultVoice);
            w.WriteString("format", "pcm");
            w.WriteNumber("sample_rate", SampleRate(p));
            w.WriteBoolean("enable_subtitle", Subtitles(p));
            foreach (var (name, value) in p)
            {
                if (Reserved.Contains(name))
                {
                    continue;
                }

                w.WritePropertyName(name);
                if (value is null)
                {
                    w.WriteNullValue();
                }
                else
                {
                    value.WriteTo(w);
                }
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static bool IsString(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String;

    private static bool NonEmpty(JsonNode? node) => IsString(node) && !string.IsNullOrWhiteSpace(node!.GetValue<string>());

    private static string? Missing(JsonObject app, string field) =>
        NonEmpty(app[field]) ? null : $"TTS.Params.app.{field} is required and must be a non-empty string.";

    private static string? Placeholder(JsonObject app, string field) =>
        NonEmpty(app[field]) && app[field]!.GetValue<string>().Trim() == ZegoTrialKey
            ? $"TTS.Params.app.{field} \"{ZegoTrialKey}\" is ZEGO's trial placeholder, not an Aliyun credential."
            : null;

    private static string? Range(JsonObject p, string field, int min, int max) =>
        p[field] is { } node && !(TryGetInt(node, out var v) && v >= min && v <= max)
            ? $"TTS.Params.{field} must be an integer in [{min}, {max}]."
            : null;

    private static bool TryGetInt(JsonNode? node, out int value)
    {
        value = 0;
        return node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            && int.TryParse(v.ToJsonString(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out value);
    }
}
