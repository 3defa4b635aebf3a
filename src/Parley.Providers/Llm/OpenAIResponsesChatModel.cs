using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Providers.Net;

namespace Parley.Providers.Llm;

/// <summary>
/// Streams replies from an OpenAI Responses API endpoint (<c>LLM.Vendor</c> <c>OpenAIResponses</c>, e.g. Volcengine
/// Ark <c>/api/v3/responses</c>). <c>Url</c> is the full Responses URL and is used verbatim; the body is
/// <c>{"model", "input": [messages], "stream": true, "temperature", "top_p", …Params at top level}</c>: the system
/// prompt, the history and the user's text become input messages (roles system, user, assistant). <c>AddAgentInfo</c>
/// and <c>AgentExtraInfo</c> are not sent (the contract: effective only with OpenAIChat). The reply is read as
/// server-sent events: <c>response.output_text.delta</c> deltas are the text; <c>response.completed</c> (or
/// <c>response.incomplete</c>) ends it; <c>response.failed</c>, <c>error</c>, a malformed event, or a stream that ends
/// first fail it. Failures are <see cref="LlmException"/> of the same classes as <see cref="OpenAICompatibleChatModel"/>
/// (HTTP 401/403 authentication, 400/422 parameter, 429 rate limit, 402 arrears, anything else general) and never
/// echo the far end's bytes. Connections obey the <see cref="OutboundPolicy"/>; error bodies, SSE lines and events are
/// bounded (<see cref="LlmClientLimits"/>).
/// </summary>
public sealed class OpenAIResponsesChatModel : IChatModel, IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly OutboundPolicy _policy;
    private readonly UrlOrigin _origin;

    /// <summary>A client whose connections go through <paramref name="policy"/>, that follows no redirects, and whose replies are bounded by <paramref name="limits"/>.</summary>
    public OpenAIResponsesChatModel(OutboundPolicy? policy = null, LlmClientLimits? limits = null, UrlOrigin origin = UrlOrigin.Agent)
    {
        _policy = policy ?? OutboundPolicy.Default;
        _origin = origin;
        _http = LlmHttp.Create(_policy, limits ?? new LlmClientLimits(), origin);
        _ownsHttp = true;
    }

    /// <summary>A client over <paramref name="httpClient"/> as given (its handler decides connections, redirects and limits).</summary>
    public OpenAIResponsesChatModel(HttpClient httpClient, OutboundPolicy? policy = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        _http = httpClient;
        _policy = policy ?? OutboundPolicy.Default;
        _origin = UrlOrigin.Agent;
    }

    /// <summary>The request body for <paramref name="request"/> (exposed for tests).</summary>
    public static JsonObject BuildBody(ChatModelRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = request.Settings;
        var input = new JsonArray();
        if (!string.IsNullOrEmpty(request.SystemPrompt))
        {
            input.Add(Message("system", request.SystemPrompt));
        }

        foreach (var message in request.History)
        {
            input.Add(Message(message.Role == MessageRole.User ? "user" : "assistant", message.Content));
        }

        input.Add(Message("user", request.UserText));
        var body = new JsonObject
        {
            ["model"] = settings.Model,
            ["input"] = input,
            ["temperature"] = settings.Temperature,
            ["top_p"] = settings.TopP,
        };
        if (settings.Params is { } parameters)
        {
            foreach (var (key, value) in parameters)
            {
                body[key] = value?.DeepClone();
            }
        }

        body["stream"] = true;
        return body;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = request.Settings;
        var refusal = _policy.CheckUrl(settings.Url, OutboundProtocol.Http, _origin);
        if (refusal is not null || !Uri.TryCreate(settings.Url, UriKind.Absolute, out var url))
        {
            throw new LlmException(LlmErrorKind.InvalidParameter, $"LLM.Url is refused by the outbound URL policy: it {refusal ?? "must be an absolute URL"}");
        }

        using var message = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(BuildBody(request))),
        };
        LlmHttp.AddHeaders(message, settings.ApiKey);

        var (response, events) = await LlmHttp.OpenEventStreamAsync(_http, message, cancellationToken).ConfigureAwait(false);

        using (response)
        using (events)
        {
            var finished = false;
            while (!finished)
            {
                if (!await LlmHttp.NextEventAsync(events, cancellationToken).ConfigureAwait(false))
                {
                    break;
                }

                var (delta, done) = ReadEvent(events.Data);
                finished = done;
                if (!string.IsNullOrEmpty(delta))
                {
                    yield return delta;
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (!finished)
            {
                throw new LlmException(LlmErrorKind.General, "The LLM stream ended without response.completed");
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    /// <summary>One event's data: its text delta (or null) and whether it ends the reply; throws for failures.</summary>
    internal static (string? Delta, bool Done) ReadEvent(ReadOnlySpan<byte> data)
    {
        if (data.SequenceEqual("[DONE]"u8))
        {
            throw new LlmException(LlmErrorKind.General, "The LLM stream ended without response.completed");
        }

        JsonObject? node;
        try
        {
            node = JsonNode.Parse(data) as JsonObject;
        }
        catch (JsonException ex)
        {
            throw new LlmException(LlmErrorKind.General, "LLM request failed: a malformed event (not JSON)", ex);
        }

        var type = node?["type"] is JsonValue t && t.TryGetValue<string>(out var s) ? s : null;
        switch (type)
        {
            case null:
                throw new LlmException(LlmErrorKind.General, "LLM request failed: a malformed event (no type)");
            case "response.output_text.delta":
                return node!["delta"] is JsonValue d && d.TryGetValue<string>(out var delta)
                    ? (delta, false)
                    : throw new LlmException(LlmErrorKind.General, "LLM request failed: a malformed response.output_text.delta (no delta string)");
            case "response.completed":
            case "response.incomplete":
                return (null, true);
            case "response.failed":
                throw new LlmException(KindOf(node!["response"]?["error"]?["code"]), "LLM request failed: response.failed");
            case "error":
                throw new LlmException(KindOf(node!["code"] ?? node["error"]?["code"]), "LLM request failed: an error event");
            default:
                return (null, false); // response.created, response.in_progress, output_item, content_part, output_text.done, …
        }
    }

    /// <summary>A failure's class from a Responses error code (only well-known codes; the code itself is not echoed).</summary>
    private static LlmErrorKind KindOf(JsonNode? code) =>
        (code is JsonValue v && v.TryGetValue<string>(out var s) ? s : null) switch
        {
            "rate_limit_exceeded" => LlmErrorKind.RateLimited,
            "invalid_prompt" or "invalid_request_error" => LlmErrorKind.InvalidParameter,
            "insufficient_quota" => LlmErrorKind.Arrears,
            _ => LlmErrorKind.General,
        };

    private static JsonObject Message(string role, string content) => new()
    {
        ["type"] = "message",
        ["role"] = role,
        ["content"] = content,
    };
}
