using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Speech;

namespace Parley.Providers.Volcengine;

/// <summary>
/// The <c>VolcSeedASR</c> ASR vendor: Volcengine's big-model streaming ASR over the V3 binary WebSocket protocol
/// (<c>wss://openspeech.bytedance.com/api/v3/sauc/bigmodel</c>, or <c>bigmodel_async</c> via the Url). Credentials:
/// <c>Params.app</c> <c>appid</c> (or <c>app_key</c>), <c>token</c> (or <c>access_token</c>), <c>resource_id</c>, else
/// the deployment's <c>Parley:Vendors:VolcSeedASR:AppId/AccessToken/ResourceId</c> (ZEGO supplies its own ASR
/// credentials, so its agents send none); resource id default <c>volc.bigasr.sauc.duration</c>. Params: ZEGO's
/// <c>corpus</c> (<c>boosting_table_id</c>) goes into <c>request.corpus</c>; <c>request</c> is merged over Parley's
/// (<c>model_name</c> bigmodel, <c>enable_punc</c>, <c>show_utterances</c>, <c>result_type</c> full); other keys
/// except <c>app</c>/<c>user</c>/<c>audio</c> go into <c>request</c>. Audio is always pcm 16 kHz 16-bit mono. ASR
/// <c>HotWord</c> becomes <c>request.corpus.context</c> hot words unless the Params give a context.
/// </summary>
public sealed class VolcSeedAsrRecognizerProvider(VolcConnectionPool pool, ILoggerFactory? loggerFactory = null) : ISpeechRecognizer
{
    public const string VendorName = "VolcSeedASR";
    public const string DefaultResourceId = "volc.bigasr.sauc.duration";

    private static readonly string[][] CredentialFields = [["appid", "app_key", "app_id"], ["token", "access_token"]];

    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<VolcSeedAsrRecognizerProvider>();

    public string Name => VendorName;

    public string? Validate(JsonObject? parameters)
    {
        var defaults = pool.Options.VolcSeedASR;
        if (VolcParams.CredentialTypeError(parameters, "ASR", "appid", "app_key", "token", "access_token", "resource_id") is { } type)
        {
            return type;
        }

        if (VolcParams.CredentialError(parameters, "ASR", CredentialFields, [defaults.AppId, defaults.AccessToken]) is { } missing)
        {
            return missing + " (or set Parley:Vendors:VolcSeedASR:AppId and :AccessToken)";
        }

        if (parameters?["corpus"] is { } corpus)
        {
            if (corpus is not JsonObject c)
            {
                return "ASR.Params.corpus must be an object such as {\"boosting_table_id\":\"…\"}.";
            }

            if (c["boosting_table_id"] is { } id && !VolcParams.IsString(id))
            {
                return "ASR.Params.corpus.boosting_table_id must be a string.";
            }
        }

        if (parameters?["request"] is { } request && request is not JsonObject)
        {
            return "ASR.Params.request must be an object.";
        }

        if (parameters?["audio"] is JsonObject audio
            && ((audio["rate"] is { } rate && !(VolcParams.TryGetInt(rate, out var hz) && hz == 16000))
                || (audio["format"] is { } format && !(VolcParams.IsString(format) && format.GetValue<string>() == "pcm"))))
        {
            return "ASR.Params.audio: Parley sends pcm at 16000 Hz; leave format and rate out.";
        }

        return null;
    }

    public ISpeechRecognitionStream Open(SpeechRecognitionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (Validate(options.Parameters) is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        var parameters = options.Parameters ?? [];
        var defaults = pool.Options.VolcSeedASR;
        var credentials = new VolcCredentials(
            VolcParams.Credential(parameters, defaults.AppId, "appid", "app_key", "app_id")!,
            VolcParams.Credential(parameters, defaults.AccessToken, "token", "access_token")!,
            VolcParams.Credential(parameters, defaults.ResourceId ?? DefaultResourceId, "resource_id")!);
        return new VolcSeedRecognitionStream(pool, credentials, RequestJson(parameters, options.HotWords), _logger);
    }

    /// <summary>The full client request's JSON (sent gzip-compressed).</summary>
    internal static byte[] RequestJson(JsonObject parameters, string? hotWords)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartObject("user");
            VolcParams.WriteMembers(w, parameters["user"] as JsonObject);
            if (parameters["user"]?["uid"] is null)
            {
                w.WriteString("uid", "parley");
            }

            w.WriteEndObject();
            w.WriteStartObject("audio");
            VolcParams.WriteMembers(w, parameters["audio"] as JsonObject, "format", "codec", "rate", "bits", "channel");
            w.WriteString("format", "pcm");
            w.WriteString("codec", "raw");
            w.WriteNumber("rate", 16000);
            w.WriteNumber("bits", 16);
            w.WriteNumber("channel", 1);
            w.WriteEndObject();
            var request = parameters["request"] as JsonObject;
            w.WriteStartObject("request");
            w.WriteString("model_name", request?["model_name"] is { } model && VolcParams.IsString(model) ? model.GetValue<string>() : "bigmodel");
            foreach (var (name, value) in new (string, bool)[] { ("enable_punc", true), ("show_utterances", true) })
            {
                if (request?[name] is null && parameters[name] is null)
                {
                    w.WriteBoolean(name, value);
                }
            }

            if (request?["result_type"] is null && parameters["result_type"] is null)
            {
                w.WriteString("result_type", "full");
            }

            VolcParams.WriteMembers(w, parameters, "app", "user", "audio", "request", "corpus");
            VolcParams.WriteMembers(w, request, "model_name", "corpus");
            var corpus = (parameters["corpus"] ?? request?["corpus"]) as JsonObject;
            if (corpus is not null || !string.IsNullOrWhiteSpace(hotWords))
            {
                w.WriteStartObject("corpus");
                VolcParams.WriteMembers(w, corpus);
                if (corpus?["context"] is null && !string.IsNullOrWhiteSpace(hotWords))
                {
                    w.WriteString("context", HotWordContext(hotWords));
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>ZEGO's <c>HotWord</c> ("word|weight,word2|weight") as Volcengine's context JSON string <c>{"hotwords":[{"word":"…"}]}</c>.</summary>
    private static string HotWordContext(string hotWords)
    {
        var list = new JsonArray();
        foreach (var entry in hotWords.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var word = entry.Split('|')[0].Trim();
            if (word.Length > 0)
            {
                list.Add(new JsonObject { ["word"] = word });
            }
        }

        return new JsonObject { ["hotwords"] = list }.ToJsonString();
    }
}
