using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Providers.Volcengine;

/// <summary>
/// The request of the V3 TTS vendors (ByteDanceV3, ByteDanceFlowing) from an agent's Params:
/// <c>{"app":{"appid","token","resource_id"},"req_params":{"speaker", "audio_params":{…}, "additions":{…}, …}, …}</c>.
/// Parley sets <c>audio_params.format</c> pcm and <c>sample_rate</c> (default 24000); everything else in
/// <c>req_params</c> and the other top-level keys (except <c>app</c>) pass through; an <c>additions</c> object is sent
/// as the JSON string the protocol documents.
/// </summary>
internal sealed class VolcTtsRequest
{
    public const string DefaultResourceId = "seed-tts-2.0";
    public const int DefaultSampleRate = 24000;

    private static readonly string[][] CredentialFields = [["appid", "app_id"], ["token", "access_token"]];

    private readonly JsonObject _parameters;
    private readonly JsonObject? _req;
    private readonly JsonObject? _audio;

    public VolcTtsRequest(JsonObject? parameters)
    {
        _parameters = parameters ?? [];
        _req = _parameters["req_params"] as JsonObject;
        _audio = _req?["audio_params"] as JsonObject;
        Credentials = new VolcCredentials(
            VolcParams.Credential(_parameters, null, "appid", "app_id") ?? "",
            VolcParams.Credential(_parameters, null, "token", "access_token") ?? "",
            VolcParams.Credential(_parameters, DefaultResourceId, "resource_id")!);
        SampleRate = VolcParams.TryGetInt(_audio?["sample_rate"], out var hz) ? hz : DefaultSampleRate;
        WordTimings = _audio?["enable_timestamp"] is JsonValue t && t.GetValueKind() == JsonValueKind.True;
    }

    public VolcCredentials Credentials { get; }

    public int SampleRate { get; }

    /// <summary><c>audio_params.enable_timestamp</c>: TTSSentenceEnd carries the words' times.</summary>
    public bool WordTimings { get; }

    /// <summary>Credentials and <c>req_params.speaker</c> present (what speaking needs), then <see cref="ConfigurationError"/>.</summary>
    public static string? Error(JsonObject? parameters, string vendor)
    {
        if (VolcParams.CredentialError(parameters, "TTS", CredentialFields) is { } credentials)
        {
            return credentials;
        }

        if (ConfigurationError(parameters, vendor) is { } config)
        {
            return config;
        }

        return parameters?["req_params"]?["speaker"] is null
            ? "TTS.Params.req_params.speaker is required (a Volcengine voice such as \"zh_female_vv_uranus_bigtts\")."
            : null;
    }

    /// <summary>Values no request could be made with (wrong types, non-pcm format, a rate or speed out of range).</summary>
    public static string? ConfigurationError(JsonObject? parameters, string vendor) =>
        VolcParams.CredentialTypeError(parameters, "TTS", "appid", "token", "resource_id") ?? VolcParams.ReqParamsError(parameters, vendor);

    /// <summary>
    /// Writes the JSON payload: <paramref name="event"/> and <c>namespace</c> for the bidirectional protocol (0 = none),
    /// <paramref name="text"/> as <c>req_params.text</c> (null = none).
    /// </summary>
    public void Write(ArrayBufferWriter<byte> buffer, int @event, string? text, string uid)
    {
        buffer.ResetWrittenCount();
        using var w = new Utf8JsonWriter(buffer);
        w.WriteStartObject();
        if (_parameters["user"] is JsonObject user)
        {
            w.WritePropertyName("user");
            user.WriteTo(w);
        }
        else
        {
            w.WriteStartObject("user");
            w.WriteString("uid", uid);
            w.WriteEndObject();
        }

        if (@event != 0)
        {
            w.WriteNumber("event", @event);
            w.WriteString("namespace", _parameters["namespace"] is { } ns && VolcParams.IsString(ns) ? ns.GetValue<string>() : "BidirectionalTTS");
        }

        VolcParams.WriteMembers(w, _parameters, "app", "user", "event", "namespace", "req_params");
        w.WriteStartObject("req_params");
        if (text is not null)
        {
            w.WriteString("text", text);
        }

        VolcParams.WriteMembers(w, _req, "text", "audio_params", "additions");
        w.WriteStartObject("audio_params");
        w.WriteString("format", "pcm");
        w.WriteNumber("sample_rate", SampleRate);
        VolcParams.WriteMembers(w, _audio, "format", "sample_rate");
        w.WriteEndObject();
        switch (_req?["additions"])
        {
            case JsonObject additions:
                w.WriteString("additions", additions.ToJsonString());
                break;
            case JsonValue additions when VolcParams.IsString(additions):
                w.WriteString("additions", additions.GetValue<string>());
                break;
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }
}
