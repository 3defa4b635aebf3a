using System.Buffers;
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using OpenAI;
using Parley.Core.Sessions;
using Parley.Providers.Net;

namespace Parley.Providers.Llm;

/// <summary>
/// Streams replies from any OpenAI-compatible Chat Completions endpoint through <see cref="IChatClient"/> over the
/// OpenAI SDK. <c>Url</c> is the full completions URL and is used verbatim; the body is the contract's
/// (model, messages, temperature, top_p, stream, every key of Params at top level, agent_info when asked, agent_extra_info when given).
/// Failures become <see cref="LlmException"/>: 401/403 authentication, 400/422 parameter, 429 rate limit,
/// 402 arrears, anything else (unreachable, 5xx, 3xx — redirects are not followed —, broken stream) general; their
/// messages name the failure class and never echo the far end's bytes. Connections obey the <see cref="OutboundPolicy"/>
/// (checked on the resolved address), and an error body, one SSE line and one event are bounded (<see cref="LlmClientLimits"/>).
/// </summary>
public sealed partial class OpenAICompatibleChatModel : IChatModel, IDisposable
{
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

    /// <summary>An <see cref="IChatClient"/> bound to one endpoint; <paramref name="bodyExtras"/> are merged into each body.</summary>
    public IChatClient CreateChatClient(LlmSettings settings, JsonObject? bodyExtras)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return CreateOpenAIClient(CheckedUrl(settings), settings, bodyExtras).GetChatClient(settings.Model).AsIChatClient();
    }

    /// <summary>LLM.Url once the outbound URL policy accepted it; an <see cref="LlmException"/> (parameter) otherwise.</summary>
    private Uri CheckedUrl(LlmSettings settings)
    {
        var refusal = _policy.CheckUrl(settings.Url, OutboundProtocol.Http, _origin);
        return refusal is null && Uri.TryCreate(settings.Url, UriKind.Absolute, out var url)
            ? url
            : throw new LlmException(LlmErrorKind.InvalidParameter, $"LLM.Url is refused by the outbound URL policy: it {refusal ?? "must be an absolute URL"}");
    }

    /// <summary>The SDK's client posting to exactly <paramref name="url"/> with the contract's headers and body.</summary>
    private OpenAIClient CreateOpenAIClient(Uri url, LlmSettings settings, JsonObject? bodyExtras)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = url,
            Transport = new HttpClientPipelineTransport(_http),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        };
        options.AddPolicy(new ContractRequestPolicy(url, settings.ApiKey, bodyExtras), PipelinePosition.BeforeTransport);

        // The credential is replaced by the policy (an empty key is allowed and sent as "Bearer ").
        return new OpenAIClient(new ApiKeyCredential("unused"), options);
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

    /// <summary>The audio rate of an audio-output model's <c>pcm</c>/<c>pcm16</c> stream (OpenAI and Qwen-Omni: 24 kHz).</summary>
    public const int ModelAudioSampleRate = 24000;

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
    /// The reply's text deltas and, when <c>Params.modalities</c> holds "audio", the model's streamed audio
    /// (<c>choices[].delta.audio.data</c>, base64 PCM16 at 24 kHz) with its transcript (<c>delta.audio.transcript</c>)
    /// as the text, as OpenAI's audio-output models and DashScope's Qwen-Omni stream them.
    /// </summary>
    public async IAsyncEnumerable<ChatOutput> StreamOutputAsync(ChatModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = request.Settings;
        var speaks = WantsAudio(settings.Params);
        var extras = new JsonObject();
        if (settings.Params is { } parameters)
        {
            foreach (var (key, value) in parameters)
            {
                extras[key] = value?.DeepClone();
            }
        }

        if (settings.AddAgentInfo)
        {
            extras["agent_info"] = new JsonObject
            {
                ["room_id"] = request.Identity.RoomId,
                ["agent_instance_id"] = request.Identity.SessionId,
                ["agent_user_id"] = request.Identity.AgentUserId,
                ["user_id"] = request.Identity.UserId,
                ["round_id"] = request.RoundId,
                ["time_stamp"] = request.TimestampMs,
            };
        }

        if (settings.AgentExtraInfo is { } extraInfo)
        {
            extras["agent_extra_info"] = extraInfo.DeepClone();
        }

        if (speaks)
        {
            // Microsoft.Extensions.AI's adapter fails on transcript-only audio deltas: the SDK's own client reads them.
            await foreach (var piece in StreamAudioAsync(request, extras, cancellationToken).ConfigureAwait(false))
            {
                yield return piece;
            }

            yield break;
        }

        using var client = CreateChatClient(settings, extras);
        var messages = new List<ChatMessage>(request.History.Count + 2);
        if (!string.IsNullOrEmpty(request.SystemPrompt))
        {
            messages.Add(new ChatMessage(ChatRole.System, request.SystemPrompt));
        }

        foreach (var message in request.History)
        {
            messages.Add(new ChatMessage(message.Role == MessageRole.User ? ChatRole.User : ChatRole.Assistant, message.Content));
        }

        messages.Add(new ChatMessage(ChatRole.User, request.UserText));
        var chatOptions = new ChatOptions
        {
            ModelId = settings.Model,
            Temperature = (float)settings.Temperature,
            TopP = (float)settings.TopP,
        };

        IAsyncEnumerator<ChatResponseUpdate> updates;
        try
        {
            updates = client.GetStreamingResponseAsync(messages, chatOptions, cancellationToken).GetAsyncEnumerator(cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw Map(ex);
        }

        var finished = false;
        await using (updates.ConfigureAwait(false))
        {
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await updates.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    update = updates.Current;
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not LlmException)
                {
                    throw Map(ex);
                }

                if (update.FinishReason is not null)
                {
                    finished = true;
                }

                var text = update.Text;
                if (!string.IsNullOrEmpty(text))
                {
                    yield return new ChatOutput(text, default, 0);
                }
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (!finished)
        {
            throw new LlmException(LlmErrorKind.General, "The LLM stream ended without a finish_reason");
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
    /// The failure in Parley's words: the HTTP status, or the class of the network failure (<see cref="OutboundFailure"/>).
    /// Nothing the far end sent (error text, a banner in a broken status line) is echoed: these messages reach
    /// callbacks and room messages, and would otherwise make the LLM client a port scanner's oracle.
    /// </summary>
    internal static LlmException Map(Exception ex)
    {
        if (ex is LlmException llm)
        {
            return llm;
        }

        if (ex is ClientResultException result && result.Status != 0)
        {
            var kind = result.Status switch
            {
                401 or 403 => LlmErrorKind.Authentication,
                400 or 422 => LlmErrorKind.InvalidParameter,
                429 => LlmErrorKind.RateLimited,
                402 => LlmErrorKind.Arrears,
                _ => LlmErrorKind.General,
            };
            var reason = Enum.IsDefined((HttpStatusCode)result.Status) ? $" ({(HttpStatusCode)result.Status})" : "";
            var redirect = result.Status is >= 300 and < 400 ? "; redirects are not followed" : "";
            return new LlmException(kind, $"LLM request failed: HTTP {result.Status}{reason}{redirect}", ex);
        }

        return new LlmException(LlmErrorKind.General, $"LLM request failed: {OutboundFailure.Describe(ex)}", ex);
    }

    /// <summary>Posts to exactly the configured URL with the contract's headers and body.</summary>
    private sealed class ContractRequestPolicy(Uri url, string apiKey, JsonObject? extras) : PipelinePolicy
    {
        private static readonly string[] KeptFields = ["model", "messages", "temperature", "top_p", "stream"];

        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Rewrite(message);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override async ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            Rewrite(message);
            await ProcessNextAsync(message, pipeline, currentIndex).ConfigureAwait(false);
        }

        private void Rewrite(PipelineMessage message)
        {
            var request = message.Request;
            request.Uri = url;
            request.Headers.Set("Authorization", $"Bearer {apiKey}");
            if (request.Content is null)
            {
                return;
            }

            request.Content = BinaryContent.Create(BinaryData.FromBytes(RewriteBody(request.Content, message.CancellationToken)));
            request.Headers.Set("Content-Type", "application/json");
        }

        /// <summary>
        /// The contract's body from the SDK's: its kept fields copied as they are (the conversation is not parsed into
        /// nodes and written again: it grows with every turn), <c>stream</c> true, then the extras (which win). Built with
        /// the thread's reusable buffers; only the body's bytes are allocated.
        /// </summary>
        private byte[] RewriteBody(BinaryContent content, CancellationToken cancellationToken)
        {
            var scratch = RewriteScratch.Take();
            try
            {
                content.WriteTo(scratch.Sdk, cancellationToken);
                var sdk = scratch.Sdk.GetBuffer().AsSpan(0, (int)scratch.Sdk.Length);
                Span<Range> kept = stackalloc Range[KeptFields.Length];
                kept.Fill(default);
                FindKept(sdk, kept);

                var writer = scratch.Writer;
                writer.WriteStartObject();
                for (var i = 0; i < KeptFields.Length; i++)
                {
                    var field = KeptFields[i];
                    if (field == "stream" || kept[i].End.Value == 0 || (extras?.ContainsKey(field) ?? false))
                    {
                        continue;
                    }

                    writer.WritePropertyName(field);
                    writer.WriteRawValue(sdk[kept[i]], skipInputValidation: true);
                }

                if (!(extras?.ContainsKey("stream") ?? false))
                {
                    writer.WriteBoolean("stream", true);
                }

                if (extras is not null)
                {
                    foreach (var (key, value) in extras)
                    {
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

                writer.WriteEndObject();
                writer.Flush();
                return scratch.Body.WrittenSpan.ToArray();
            }
            finally
            {
                RewriteScratch.Return(scratch);
            }
        }

        /// <summary>Where each kept field's value is in the SDK's body (top level; an empty range when absent).</summary>
        private static void FindKept(ReadOnlySpan<byte> sdk, Span<Range> kept)
        {
            var reader = new Utf8JsonReader(sdk);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var index = -1;
                for (var i = 0; i < KeptFields.Length; i++)
                {
                    if (reader.ValueTextEquals(KeptFields[i]))
                    {
                        index = i;
                        break;
                    }
                }

                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (index >= 0)
                {
                    kept[index] = start..(int)reader.BytesConsumed;
                }
            }
        }
    }

    /// <summary>The calling thread's buffers for <see cref="ContractRequestPolicy"/>'s rewrite (it runs synchronously).</summary>
    private sealed class RewriteScratch
    {
        /// <summary>Buffers that grew beyond this (a very long conversation) are not kept by the thread.</summary>
        private const int MaxKeptBytes = 1024 * 1024;

        [ThreadStatic]
        private static RewriteScratch? t_current;

        private RewriteScratch() => Writer = new Utf8JsonWriter(Body);

        public MemoryStream Sdk { get; } = new(4096);

        public ArrayBufferWriter<byte> Body { get; } = new(4096);

        public Utf8JsonWriter Writer { get; }

        public static RewriteScratch Take()
        {
            var scratch = t_current ?? new RewriteScratch();
            t_current = null;
            scratch.Sdk.SetLength(0);
            scratch.Body.ResetWrittenCount();
            scratch.Writer.Reset(scratch.Body);
            return scratch;
        }

        public static void Return(RewriteScratch scratch)
        {
            if (scratch.Sdk.Capacity <= MaxKeptBytes && scratch.Body.Capacity <= MaxKeptBytes)
            {
                t_current = scratch;
            }
        }
    }
}
