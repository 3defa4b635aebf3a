using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;
using Parley.Providers.Net;

namespace Parley.Providers.Volcengine;

/// <summary>
/// The legacy <c>ByteDance</c> TTS vendor (also spelled <c>Bytedance</c>): Volcengine's HTTP TTS
/// (<c>POST https://openspeech.bytedance.com/api/v1/tts</c>, <c>Authorization: Bearer;&lt;token&gt;</c>). Params as
/// ZEGO's examples give them: <c>{"app":{"appid","token","cluster"},"audio":{"voice_type", "speed_ratio", …}}</c>;
/// Parley sets <c>audio.encoding</c> pcm and <c>audio.rate</c> (default 24000), <c>request.reqid</c>, <c>text</c> and
/// <c>operation: "query"</c>; <c>user</c>, the rest of <c>audio</c> and <c>request</c> pass through. The reply's
/// base64 <c>data</c> is the sentence's audio; <c>code</c> other than 3000 is a <see cref="VolcengineException"/>.
/// </summary>
public sealed partial class ByteDanceHttpTtsProvider(VolcConnectionPool pool, ILoggerFactory? loggerFactory = null) : SentenceTtsBase
{
    public const string VendorName = "ByteDance";
    public const string DefaultCluster = "volcano_tts";
    public const int DefaultSampleRate = 24000;

    private static readonly string[][] CredentialFields = [["appid", "app_id"], ["token", "access_token"]];
    private static readonly int[] SampleRates = [8000, 16000, 24000];
    private static readonly string[] LegacyAudioKeys = ["speed_ratio", "volume_ratio", "pitch_ratio", "emotion", "language"];
    private static readonly TtsCapabilities SentenceCapabilities = new(StreamingText: false, WordTimings: false, NativeSampleRate: DefaultSampleRate);

    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ByteDanceHttpTtsProvider>();

    public override string Name => VendorName;

    public override TtsCapabilities Capabilities => SentenceCapabilities;

    public override string? Validate(JsonObject? parameters) =>
        VolcParams.CredentialError(parameters, "TTS", CredentialFields) ?? ValidateConfiguration(parameters)
        ?? (parameters?["audio"]?["voice_type"] is null ? "TTS.Params.audio.voice_type is required (a Volcengine voice such as \"zh_female_wanwanxiaohe_moon_bigtts\")." : null);

    public override string? ValidateConfiguration(JsonObject? parameters)
    {
        if (VolcParams.CredentialTypeError(parameters, "TTS", "appid", "token", "cluster") is { } credentials)
        {
            return credentials;
        }

        if (parameters?["audio"] is not { } node)
        {
            return null;
        }

        if (node is not JsonObject audio)
        {
            return "TTS.Params.audio must be an object.";
        }

        if (audio["voice_type"] is { } voice && !VolcParams.IsString(voice))
        {
            return "TTS.Params.audio.voice_type must be a string.";
        }

        if (audio["encoding"] is { } encoding && !(VolcParams.IsString(encoding) && string.Equals(encoding.GetValue<string>(), "pcm", StringComparison.OrdinalIgnoreCase)))
        {
            return "TTS.Params.audio.encoding must be \"pcm\" (Parley plays raw PCM16); leave it out.";
        }

        if (audio["rate"] is { } rate && !(VolcParams.TryGetInt(rate, out var hz) && SampleRates.Contains(hz)))
        {
            return $"TTS.Params.audio.rate must be one of {string.Join(", ", SampleRates)}.";
        }

        foreach (var (name, min, max) in new[] { ("speed_ratio", 0.1, 3.0), ("volume_ratio", 0.1, 3.0), ("pitch_ratio", 0.1, 3.0) })
        {
            if (audio[name] is { } value && !(VolcParams.TryGetDouble(value, out var number) && number >= min && number <= max))
            {
                return $"TTS.Params.audio.{name} must be a number in [{min}, {max}].";
            }
        }

        return null;
    }

    protected override IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(string text, JsonObject? parameters, CancellationToken cancellationToken) =>
        SynthesizeSentenceAsync(text, parameters, null, cancellationToken);

    protected override async IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(
        string text, JsonObject? parameters, Uri? endpoint, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        parameters ??= [];
        var agentEndpoint = pool.AgentEndpoint(endpoint, webSocket: false);
        var uri = agentEndpoint ?? new Uri(pool.Options.HttpTtsUrl);
        var token = VolcParams.Credential(parameters, null, "token", "access_token")!;
        var rate = VolcParams.TryGetInt(parameters["audio"]?["rate"], out var hz) ? hz : DefaultSampleRate;
        using var message = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(Body(parameters, text, rate)) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        message.Headers.TryAddWithoutValidation("Authorization", "Bearer;" + token);
        var data = await SendAsync(agentEndpoint is not null ? pool.AgentHttp : pool.Http, message, uri, cancellationToken).ConfigureAwait(false);

        // The whole sentence arrives at once: hand it out in 100 ms chunks so playout can start on the first.
        var carry = -1;
        var step = rate / 10 * 2;
        for (var offset = 0; offset < data.Length; offset += step)
        {
            var chunk = VolcPcm.ToChunk(data.AsSpan(offset, Math.Min(step, data.Length - offset)), ref carry, rate);
            if (!chunk.IsEmpty)
            {
                yield return chunk;
            }
        }
    }

    private async Task<byte[]> SendAsync(HttpClient http, HttpRequestMessage message, Uri uri, CancellationToken cancellationToken)
    {
        var endpoint = uri.GetLeftPart(UriPartial.Path);
        using var limit = new CancellationTokenSource(pool.Options.ResponseTimeout, pool.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        byte[] body;
        HttpStatusCode status;
        try
        {
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            status = response.StatusCode;
            body = await ReadBoundedAsync(response, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new VolcengineException($"{VendorName}: {endpoint} did not answer within {pool.Options.ResponseTimeout.TotalSeconds:0.#} s.", VolcengineErrorKind.Timeout, null, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OutboundPolicyException)
        {
            throw new VolcengineException($"{VendorName}: the request to {endpoint} failed: {OutboundFailure.Describe(ex)}.", VolcengineErrorKind.ConnectFailed, null, ex);
        }

        long code = 0;
        string? text = null;
        string? data = null;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                code = root.TryGetProperty("code", out var c) && c.TryGetInt64(out var v) ? v : 0;
                text = root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                data = root.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            }
        }
        catch (JsonException) when (status != HttpStatusCode.OK)
        {
        }
        catch (JsonException ex)
        {
            throw new VolcengineException($"{VendorName}: {endpoint} answered with something that is not JSON.", VolcengineErrorKind.Protocol, null, ex);
        }

        if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw new VolcengineException($"{VendorName}: {endpoint} rejected the credentials (HTTP {(int)status}); check Params.app (appid, token, cluster).", VolcengineErrorKind.Unauthorized, code == 0 ? (int)status : code);
        }

        if (code != 3000)
        {
            var kind = status == HttpStatusCode.TooManyRequests ? VolcengineErrorKind.RateLimited : code == 0 ? VolcengineErrorKind.ServerError : VolcengineException.KindOfV1(code);
            LogFailed(_logger, code, kind);
            throw new VolcengineException($"{VendorName}: Volcengine TTS failed (HTTP {(int)status}): {code}: {VolcengineException.Clip(text)}", kind, code == 0 ? (int)status : code);
        }

        try
        {
            return Convert.FromBase64String(data ?? "");
        }
        catch (FormatException ex)
        {
            throw new VolcengineException($"{VendorName}: {endpoint} sent audio that is not base64.", VolcengineErrorKind.Protocol, code, ex);
        }
    }

    private async Task<byte[]> ReadBoundedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var max = pool.Options.MaxMessageBytes;
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        int read;
        while ((read = await stream.ReadAsync(buffer.GetMemory(16 * 1024), cancellationToken).ConfigureAwait(false)) > 0)
        {
            buffer.Advance(read);
            if (buffer.WrittenCount > max)
            {
                throw new VolcengineException($"{VendorName}: the reply exceeds {max} bytes (Parley:Vendors:Volcengine:MaxMessageBytes).", VolcengineErrorKind.Protocol);
            }
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Body(JsonObject parameters, string text, int rate)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartObject("app");
            w.WriteString("appid", VolcParams.Credential(parameters, null, "appid", "app_id"));
            w.WriteString("token", VolcParams.Credential(parameters, null, "token", "access_token"));
            w.WriteString("cluster", VolcParams.Credential(parameters, DefaultCluster, "cluster"));
            w.WriteEndObject();
            w.WriteStartObject("user");
            VolcParams.WriteMembers(w, parameters["user"] as JsonObject);
            if (parameters["user"]?["uid"] is null)
            {
                w.WriteString("uid", "parley");
            }

            w.WriteEndObject();
            w.WriteStartObject("audio");
            w.WriteString("encoding", "pcm");
            w.WriteNumber("rate", rate);
            var audio = parameters["audio"] as JsonObject;
            VolcParams.WriteMembers(w, audio, "encoding", "rate");

            // ZEGO's older samples put these next to app/audio: they are audio settings.
            foreach (var name in LegacyAudioKeys)
            {
                if (parameters[name] is { } value && audio?[name] is null)
                {
                    w.WritePropertyName(name);
                    value.WriteTo(w);
                }
            }

            w.WriteEndObject();
            w.WriteStartObject("request");
            w.WriteString("reqid", Guid.NewGuid().ToString());
            w.WriteString("text", text);
            w.WriteString("operation", "query");
            VolcParams.WriteMembers(w, parameters["request"] as JsonObject, "reqid", "text", "operation");
            w.WriteEndObject();
            VolcParams.WriteMembers(w, parameters, ["app", "user", "audio", "request", .. LegacyAudioKeys]);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "ByteDance HTTP TTS failed with code {Code} ({Kind})")]
    private static partial void LogFailed(ILogger logger, long code, VolcengineErrorKind kind);
}
