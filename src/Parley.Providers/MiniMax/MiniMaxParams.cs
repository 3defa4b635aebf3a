using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Providers.MiniMax;

/// <summary>
/// Reads and checks ZEGO's MiniMax TTS Params: <c>app.api_key</c> (required; <c>app.group_id</c> of older examples is
/// accepted and sent as the <c>GroupId</c> query), <c>model</c>, <c>voice_setting</c>
/// {voice_id, speed [0.5, 2], vol (0, 10], pitch [-12, 12] integer, emotion}, <c>audio_setting</c> {sample_rate, …} and
/// every other field, passed through into <c>task_start</c>. Parley forces <c>audio_setting.format</c> "pcm" and
/// <c>channel</c> 1 (raw PCM16 mono it can play) and reports the sample rate it asked for.
/// </summary>
internal static class MiniMaxParams
{
    public const string ZegoTrialKey = "zego_test";
    public const string DefaultModel = "speech-02-turbo";
    public const string DefaultVoice = "female-shaonv";
    public const int DefaultSampleRate = 24000;

    /// <summary>The rates MiniMax T2A offers (audio_setting.sample_rate).</summary>
    public static readonly int[] SampleRates = [8000, 16000, 22050, 24000, 32000, 44100];

    /// <summary>Members of the Params that are Parley's or the envelope's, never copied into task_start.</summary>
    private static readonly string[] Reserved = ["app", "event", "text", "model", "voice_setting", "audio_setting"];

    /// <summary>Missing or placeholder credentials (the server then speaks with its fallback), then the value rules.</summary>
    public static string? Error(JsonObject? parameters) => CredentialError(parameters) ?? ConfigurationError(parameters);

    public static string? CredentialError(JsonObject? parameters)
    {
        if (parameters?["app"] is not JsonObject app)
        {
            return "TTS.Params.app.api_key is required (Params.app must be an object).";
        }

        if (!(app["api_key"] is JsonValue key && key.GetValueKind() == JsonValueKind.String && !string.IsNullOrWhiteSpace(key.GetValue<string>())))
        {
            return "TTS.Params.app.api_key is required and must be a non-empty string.";
        }

        return key.GetValue<string>().Trim() == ZegoTrialKey
            ? $"TTS.Params.app.api_key \"{ZegoTrialKey}\" is ZEGO's trial placeholder, not a MiniMax API key."
            : null;
    }

    /// <summary>Values MiniMax could never accept (wrong types, out of range); absent or placeholder credentials pass.</summary>
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
                return "TTS.Params.app must be an object holding api_key.";
            }

            if (app["api_key"] is { } key && !IsString(key))
            {
                return "TTS.Params.app.api_key must be a string.";
            }

            if (app["group_id"] is { } group && !IsString(group) && !(group is JsonValue g && g.GetValueKind() == JsonValueKind.Number))
            {
                return "TTS.Params.app.group_id must be a string.";
            }
        }

        if (parameters["model"] is { } model && !IsString(model))
        {
            return "TTS.Params.model must be a string such as \"speech-02-turbo\".";
        }

        if (parameters.TryGetPropertyValue("voice_setting", out var voiceNode) && voiceNode is not null)
        {
            if (voiceNode is not JsonObject voice)
            {
                return "TTS.Params.voice_setting must be an object (voice_id, speed, vol, pitch).";
            }

            if (voice["voice_id"] is { } id && !IsString(id))
            {
                return "TTS.Params.voice_setting.voice_id must be a string such as \"female-shaonv\".";
            }

            if (voice["speed"] is { } speed && !(TryGetDouble(speed, out var s) && s >= 0.5 && s <= 2))
            {
                return "TTS.Params.voice_setting.speed must be a number in [0.5, 2].";
            }

            if (voice["vol"] is { } vol && !(TryGetDouble(vol, out var v) && v > 0 && v <= 10))
            {
                return "TTS.Params.voice_setting.vol must be a number in (0, 10].";
            }

            if (voice["pitch"] is { } pitch && !(TryGetDouble(pitch, out var p) && p >= -12 && p <= 12 && p == Math.Floor(p)))
            {
                return "TTS.Params.voice_setting.pitch must be an integer in [-12, 12].";
            }

            if (voice["emotion"] is { } emotion && !IsString(emotion))
            {
                return "TTS.Params.voice_setting.emotion must be a string such as \"happy\".";
            }
        }

        if (parameters.TryGetPropertyValue("audio_setting", out var audioNode) && audioNode is not null)
        {
            if (audioNode is not JsonObject audio)
            {
                return "TTS.Params.audio_setting must be an object.";
            }

            if (audio["sample_rate"] is { } rate && !(TryGetDouble(rate, out var hz) && SampleRates.Contains((int)hz) && hz == Math.Floor(hz)))
            {
                return $"TTS.Params.audio_setting.sample_rate must be one of {string.Join(", ", SampleRates)}.";
            }

            if (audio["channel"] is { } channel && !(TryGetDouble(channel, out var c) && c is 1 or 2))
            {
                return "TTS.Params.audio_setting.channel must be 1 or 2 (Parley always asks for 1).";
            }
        }

        if (parameters["pronunciation_dict"] is { } dict && dict is not JsonObject)
        {
            return "TTS.Params.pronunciation_dict must be an object such as {\"tone\": [\"处理/(chu3)(li3)\"]}.";
        }

        return null;
    }

    public static string ApiKey(JsonObject parameters) => parameters["app"]!["api_key"]!.GetValue<string>().Trim();

    /// <summary>The legacy <c>app.group_id</c>, or null.</summary>
    public static string? GroupId(JsonObject parameters) => parameters["app"]?["group_id"] switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>().Trim() is { Length: > 0 } s ? s : null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
        _ => null,
    };

    public static int SampleRate(JsonObject parameters) =>
        parameters["audio_setting"]?["sample_rate"] is { } rate && TryGetDouble(rate, out var hz) ? (int)hz : DefaultSampleRate;

    /// <summary>The <c>task_start</c> message for these Params (also the pool key: equal settings share started tasks).</summary>
    public static byte[] TaskStart(JsonObject parameters)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("event", "task_start");
            w.WriteString("model", parameters["model"] is JsonValue m && IsString(m) ? m.GetValue<string>() : DefaultModel);
            w.WriteStartObject("voice_setting");
            var voice = parameters["voice_setting"] as JsonObject;
            if (voice?["voice_id"] is null)
            {
                w.WriteString("voice_id", DefaultVoice);
            }

            WriteMembers(w, voice);
            w.WriteEndObject();
            w.WriteStartObject("audio_setting");
            w.WriteNumber("sample_rate", SampleRate(parameters));
            w.WriteString("format", "pcm");
            w.WriteNumber("channel", 1);
            WriteMembers(w, parameters["audio_setting"] as JsonObject, "sample_rate", "format", "channel");
            w.WriteEndObject();
            WriteMembers(w, parameters, Reserved);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static bool IsString(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String;

    private static bool TryGetDouble(JsonNode node, out double value)
    {
        value = 0;
        return node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            && double.TryParse(v.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out value);
    }

    private static void WriteMembers(Utf8JsonWriter writer, JsonObject? node, params ReadOnlySpan<string> skip)
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
