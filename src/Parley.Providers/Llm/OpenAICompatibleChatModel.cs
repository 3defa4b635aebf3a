using System.Buffers;
using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Providers.Net;

namespace Parley.Providers.Llm;

/// <summary>
/// Streams replies from any OpenAI-compatible Chat Completions endpoint. <c>Url</c> is the full completions URL and
/// is used verbatim; the body is the contract's (model, messages, temperature, top_p, stream, every key of Params at
/// top level — they win —, agent_info when asked, agent_extra_info when given). The reply is read as server-sent
/// events (<c>data:</c> chunks until <c>data: [DONE]</c>): the first choice's <c>delta.content</c> is the text and its
/// <c>finish_reason</c> ends it; when <c>Params.modalities</c> holds "audio", <c>delta.audio.data</c> (base64 PCM16 at
/// 24 kHz) is the model's speech and <c>delta.audio.transcript</c> its text, as OpenAI's audio-output models and
/// DashScope's Qwen-Omni stream them.
/// Failures become <see cref="LlmException"/>: 401/403 authentication, 400/422 parameter, 429 rate limit,
/// 402 arrears, anything else (unreachable, 5xx, 3xx — redirects are not followed —, broken stream, an error event, a
/// stream that ends without a finish_reason) general; their messages name the failure class and never echo the far
/// end's bytes. Connections obey the <see cref="OutboundPolicy"/> (checked on the resolved address), and an error
/// body, one SSE line and one event are bounded (<see cref="LlmClientLimits"/>).
/// The body is written and the stream parsed with System.Text.Json's writer and reader over reused buffers: a reply
/// allocates its text deltas, not an object graph per chunk (the OpenAI SDK and Microsoft.Extensions.AI did, and
/// were a fifth of the server's allocations at 100 live sessions; see docs/benchmarks.md).
/// </summary>
public sealed class OpenAICompatibleChatModel : IChatModel, IDisposable
{
    /// <summary>The audio rate of an audio-output model's <c>pcm</c>/<c>pcm16</c> stream (OpenAI and Qwen-Omni: 24 kHz).</summary>
    public const int ModelAudioSampleRate = 24000;

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly OutboundPolicy _policy;
    private readonly UrlOrigin _origin = UrlOrigin.Agent;

    /// <summary>
    /// A client whose connections go through <paramref name="policy"/> (default <see cref="OutboundPolicy.Default"/>:
    /// link-local, metadata and unusable addresses refused), that follows no redirects, and whose replies are bounded
    /// by <paramref name="limits"/>. <paramref name="origin"/> says whose URLs it calls: an agent's (the whole policy)
    /// or the operator's (<c>Parley:Llm:Trial:Url</c>: loopback and private networks allowed).
    /// </summary>
    public OpenAICompatibleChatModel(OutboundPolicy? policy = null, LlmClientLimits? limits = null, UrlOrigin origin = UrlOrigin.Agent)
    {
        _policy = policy ?? OutboundPolicy.Default;
        _origin = origin;
        _http = LlmHttp.Create(_policy, limits ?? new LlmClientLimits(), origin);
        _ownsHttp = true;
    }

    /// <summary>A client over <paramref name="httpClient"/> as given (its handler decides connections, redirects and limits).</summary>
    public OpenAICompatibleChatModel(HttpClient httpClient, OutboundPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        _http = httpClient;
        _policy = policy ?? OutboundPolicy.Default;
    }

    public async IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var piece in StreamOutputAsync(request, cancellationToken).ConfigureAwait(false))
        {
            if (!string.IsNullOrEmpty(piece.Text))
            {
                yield return piece.Text;
            }
        }
    }

    /// <summary>
    /// Whether the Params ask the model to speak (<c>modalities</c> holds "audio"); throws for an audio format Parley
    /// cannot play (only raw PCM16: <c>audio.format</c> "pcm" or "pcm16", or none).
    /// </summary>
    public static bool WantsAudio(JsonObject? parameters)
    {
        if (parameters?["modalities"] is not JsonArray modalities || !modalities.Any(m => m is JsonValue v && v.TryGetValue<string>(out var s) && s == "audio"))
        {
            return false;
        }

        var format = parameters["audio"]?["format"] is JsonValue f && f.TryGetValue<string>(out var value) ? value : "pcm";
        return format is "pcm" or "pcm16"
            ? true
            : throw new LlmException(LlmErrorKind.InvalidParameter, "LLM.Params.audio.format must be \"pcm\" (raw PCM16) for the model's audio to be played");
    }

    /// <summary>
    /// The reply's text deltas and, when <c>Params.modalities</c> holds "audio", the model's streamed audio with its
    /// transcript as the text. A piece's audio is valid until the next piece is read.
    /// </summary>
    public async IAsyncEnumerable<ChatOutput> StreamOutputAsync(ChatModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = request.Settings;
        var speaks = WantsAudio(settings.Params);
        var refusal = _policy.CheckUrl(settings.Url, OutboundProtocol.Http, _origin);
        if (refusal is not null || !Uri.TryCreate(settings.Url, UriKind.Absolute, out var url))
        {
            throw new LlmException(LlmErrorKind.InvalidParameter, $"LLM.Url is refused by the outbound URL policy: it {refusal ?? "must be an absolute URL"}");
        }

        using var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(BuildBody(request)) };
        LlmHttp.AddHeaders(message, settings.ApiKey);

        var (response, events) = await LlmHttp.OpenEventStreamAsync(_http, message, cancellationToken).ConfigureAwait(false);

        using (response)
        using (events)
        {
            var audio = speaks ? new AudioScratch() : null;
            try
            {
                var finished = false;
                while (true)
                {
                    if (!await LlmHttp.NextEventAsync(events, cancellationToken).ConfigureAwait(false))
                    {
                        break;
                    }

                    if (events.Data.SequenceEqual("[DONE]"u8))
                    {
                        break;
                    }

                    var chunk = ReadChunk(events.Data, audio);
                    finished |= chunk.Finished;
                    if (!string.IsNullOrEmpty(chunk.Text) || chunk.AudioBytes > 0)
                    {
                        yield return new ChatOutput(
                            string.IsNullOrEmpty(chunk.Text) ? null : chunk.Text,
                            chunk.AudioBytes > 0 ? audio!.Buffer.AsMemory(0, chunk.AudioBytes) : default,
                            chunk.AudioBytes > 0 ? ModelAudioSampleRate : 0);
                    }
                }

                cancellationToken.ThrowIfCancellationRequested();
                if (!finished)
                {
                    throw new LlmException(LlmErrorKind.General, "The LLM stream ended without a finish_reason");
                }
            }
            finally
            {
                audio?.Dispose();
            }
        }
    }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    /// <summary>
    /// The request body: <c>model</c>, <c>messages</c> (the system prompt, the history, the user's text; content as a
    /// string), <c>temperature</c>, <c>top_p</c>, <c>stream: true</c>, then every key of Params (which win over those),
    /// then <c>agent_info</c> (when asked) and <c>agent_extra_info</c> (when given), which win over Params' keys of the
    /// same name. Non-ASCII text is written as UTF-8, not as <c>\u</c> escapes.
    /// </summary>
    internal static byte[] BuildBody(ChatModelRequest request)
    {
        var settings = request.Settings;
        var parameters = settings.Params;
        var writer = BodyScratch.Take(out var body);
        try
        {
            writer.WriteStartObject();
            if (!Has(parameters, "model"))
            {
                writer.WriteString("model"u8, settings.Model);
            }

            if (!Has(parameters, "messages"))
            {
                writer.WriteStartArray("messages"u8);
                if (!string.IsNullOrEmpty(request.SystemPrompt))
                {
                    WriteMessage(writer, "system"u8, request.SystemPrompt);
                }

                foreach (var message in request.History)
                {
                    WriteMessage(writer, message.Role == MessageRole.User ? "user"u8 : "assistant"u8, message.Content);
                }

                WriteMessage(writer, "user"u8, request.UserText);
                writer.WriteEndArray();
            }

            if (!Has(parameters, "temperature"))
            {
                writer.WriteNumber("temperature"u8, settings.Temperature);
            }

            if (!Has(parameters, "top_p"))
            {
                writer.WriteNumber("top_p"u8, settings.TopP);
            }

            if (!Has(parameters, "stream"))
            {
                writer.WriteBoolean("stream"u8, true);
            }

            if (parameters is not null)
            {
                foreach (var (key, value) in parameters)
                {
                    if ((settings.AddAgentInfo && key == "agent_info") || (settings.AgentExtraInfo is not null && key == "agent_extra_info"))
                    {
                        continue;
                    }

                    writer.WritePropertyName(key);
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

            if (settings.AddAgentInfo)
            {
                writer.WriteStartObject("agent_info"u8);
                writer.WriteString("room_id"u8, request.Identity.RoomId);
                writer.WriteString("agent_instance_id"u8, request.Identity.SessionId);
                writer.WriteString("agent_user_id"u8, request.Identity.AgentUserId);
                writer.WriteString("user_id"u8, request.Identity.UserId);
                writer.WriteNumber("round_id"u8, request.RoundId);
                writer.WriteNumber("time_stamp"u8, request.TimestampMs);
                writer.WriteEndObject();
            }

            if (settings.AgentExtraInfo is { } extraInfo)
            {
                writer.WritePropertyName("agent_extra_info"u8);
                extraInfo.WriteTo(writer);
            }

            writer.WriteEndObject();
            writer.Flush();
            return body.WrittenSpan.ToArray();
        }
        finally
        {
            BodyScratch.Return(body);
        }
    }

    /// <summary>
    /// One chunk (<c>chat.completion.chunk</c>): its first choice's text (<c>delta.content</c>, and with
    /// <paramref name="audio"/> <c>delta.audio.transcript</c>), audio (<c>delta.audio.data</c>, decoded into
    /// <paramref name="audio"/>'s buffer) and whether it carries a <c>finish_reason</c>. A chunk without choices (a
    /// usage chunk) is empty; an <c>error</c> member or bytes that are not a JSON object fail the reply.
    /// </summary>
    internal static (string? Text, int AudioBytes, bool Finished) ReadChunk(ReadOnlySpan<byte> json, AudioScratch? audio)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw Malformed();
            }

            (string? Text, int AudioBytes, bool Finished) chunk = default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("choices"u8))
                {
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.StartArray)
                    {
                        reader.Skip();
                        continue;
                    }

                    var first = true;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (first && reader.TokenType == JsonTokenType.StartObject)
                        {
                            chunk = ReadChoice(ref reader, audio);
                        }
                        else
                        {
                            reader.Skip();
                        }

                        first = false;
                    }
                }
                else if (reader.ValueTextEquals("error"u8))
                {
                    if (ReadValue(ref reader) != JsonTokenType.Null)
                    {
                        throw new LlmException(LlmErrorKind.General, "LLM request failed: an error event");
                    }
                }
                else
                {
                    ReadValue(ref reader);
                }
            }

            return chunk;
        }
        catch (JsonException ex)
        {
            throw Malformed(ex);
        }
        catch (FormatException ex)
        {
            throw Malformed(ex); // audio.data that is not base64
        }
    }

    private static (string? Text, int AudioBytes, bool Finished) ReadChoice(ref Utf8JsonReader reader, AudioScratch? audio)
    {
        string? content = null;
        string? transcript = null;
        var audioBytes = 0;
        var finished = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("delta"u8))
            {
                if (EnterObject(ref reader))
                {
                    ReadDelta(ref reader, audio, ref content, ref transcript, ref audioBytes);
                }
            }
            else if (reader.ValueTextEquals("finish_reason"u8))
            {
                finished = ReadValue(ref reader) == JsonTokenType.String;
            }
            else
            {
                ReadValue(ref reader);
            }
        }

        var text = transcript is null ? content : content is null ? transcript : content + transcript;
        return (text, audioBytes, finished);
    }

    /// <summary>A choice's <c>delta</c> (the reader is inside it): <c>content</c>, and with <paramref name="audio"/> <c>audio.transcript</c> and <c>audio.data</c>.</summary>
    private static void ReadDelta(ref Utf8JsonReader reader, AudioScratch? audio, ref string? content, ref string? transcript, ref int audioBytes)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8))
            {
                content = ReadString(ref reader);
            }
            else if (audio is not null && reader.ValueTextEquals("audio"u8))
            {
                if (EnterObject(ref reader))
                {
                    ReadAudio(ref reader, audio, ref transcript, ref audioBytes);
                }
            }
            else
            {
                ReadValue(ref reader);
            }
        }
    }

    /// <summary>A delta's <c>audio</c> (the reader is inside it): <c>transcript</c>, and <c>data</c> decoded into <paramref name="audio"/>.</summary>
    private static void ReadAudio(ref Utf8JsonReader reader, AudioScratch audio, ref string? transcript, ref int audioBytes)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("transcript"u8))
            {
                transcript = ReadString(ref reader);
            }
            else if (reader.ValueTextEquals("data"u8))
            {
                audioBytes = ReadValue(ref reader) == JsonTokenType.String ? audio.Decode(ref reader) : 0;
            }
            else
            {
                ReadValue(ref reader);
            }
        }
    }

    /// <summary>Moves from a property name onto its value: true when it is an object (the reader is then inside it); any other value is skipped.</summary>
    private static bool EnterObject(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            return true;
        }

        reader.Skip();
        return false;
    }

    /// <summary>
    /// Moves from a property name onto its value and gives its token type; the reader stays on a scalar (to be read) and
    /// is past a container.
    /// </summary>
    private static JsonTokenType ReadValue(ref Utf8JsonReader reader)
    {
        reader.Read();
        var type = reader.TokenType;
        reader.Skip();
        return type;
    }

    private static string? ReadString(ref Utf8JsonReader reader) =>
        ReadValue(ref reader) == JsonTokenType.String ? reader.GetString() : null;

    private static LlmException Malformed(Exception? inner = null) =>
        new(LlmErrorKind.General, "LLM request failed: invalid response", inner);

    private static bool Has(JsonObject? parameters, string key) => parameters?.ContainsKey(key) ?? false;

    private static void WriteMessage(Utf8JsonWriter writer, ReadOnlySpan<byte> role, string content)
    {
        writer.WriteStartObject();
        writer.WriteString("role"u8, role);
        writer.WriteString("content"u8, content);
        writer.WriteEndObject();
    }

    /// <summary>One reply's buffer for its decoded audio chunks (a piece's audio is valid until the next is read).</summary>
    internal sealed class AudioScratch : IDisposable
    {
        public byte[] Buffer { get; private set; } = ArrayPool<byte>.Shared.Rent(16 * 1024);

        /// <summary>Decodes the base64 string the reader is on into <see cref="Buffer"/>; its length.</summary>
        public int Decode(ref Utf8JsonReader reader)
        {
            if (reader.ValueIsEscaped || reader.HasValueSequence)
            {
                var bytes = reader.GetBytesFromBase64(); // "\/" escapes: rare
                Ensure(bytes.Length);
                bytes.CopyTo(Buffer, 0);
                return bytes.Length;
            }

            var base64 = reader.ValueSpan;
            Ensure(Base64.GetMaxDecodedFromUtf8Length(base64.Length));
            return Base64.DecodeFromUtf8(base64, Buffer, out _, out var written) == OperationStatus.Done
                ? written
                : throw new FormatException("delta.audio.data is not base64");
        }

        public void Dispose()
        {
            if (Buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(Buffer);
                Buffer = [];
            }
        }

        private void Ensure(int length)
        {
            if (length > Buffer.Length)
            {
                ArrayPool<byte>.Shared.Return(Buffer);
                Buffer = ArrayPool<byte>.Shared.Rent(length);
            }
        }
    }

    /// <summary>The calling thread's buffer and writer for <see cref="BuildBody"/> (it runs synchronously).</summary>
    private static class BodyScratch
    {
        /// <summary>A buffer that grew beyond this (a very long conversation) is not kept by the thread.</summary>
        private const int MaxKeptBytes = 1024 * 1024;

        private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

        [ThreadStatic]
        private static ArrayBufferWriter<byte>? t_body;

        [ThreadStatic]
        private static Utf8JsonWriter? t_writer;

        public static Utf8JsonWriter Take(out ArrayBufferWriter<byte> body)
        {
            body = t_body ?? new ArrayBufferWriter<byte>(4096);
            t_body = null;
            body.ResetWrittenCount();
            var writer = t_writer ??= new Utf8JsonWriter(body, Options);
            writer.Reset(body);
            return writer;
        }

        public static void Return(ArrayBufferWriter<byte> body)
        {
            if (body.Capacity <= MaxKeptBytes)
            {
                t_body = body;
            }
        }
    }
}
