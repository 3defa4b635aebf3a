using System.Net;
using System.Runtime.CompilerServices;
using Parley.Core.Sessions;
using Parley.Providers.Net;

namespace Parley.Providers.Llm;

/// <summary>The HTTP client both LLM clients (Chat Completions, Responses) call through, and their failures.</summary>
internal static class LlmHttp
{
    /// <summary>
    /// A client whose connections go through <paramref name="policy"/> for URLs of <paramref name="origin"/>, that
    /// follows no redirects, whose replies are bounded by <paramref name="limits"/>, and that never times out by itself
    /// (a streamed reply lasts as long as the model speaks; the session's stall timer bounds it).
    /// </summary>
    public static HttpClient Create(OutboundPolicy policy, LlmClientLimits limits, UrlOrigin origin) =>
        new(new BoundedResponseHandler(policy.CreateHandler(origin, limits.ConnectTimeout), limits.MaxErrorBodyBytes, limits.MaxEventBytes, "the LLM"))
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };

    /// <summary>The headers of a streamed request: JSON body, the key as a bearer token (an empty key is sent as is), SSE accepted.</summary>
    public static void AddHeaders(HttpRequestMessage message, string apiKey)
    {
        message.Content!.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        message.Headers.TryAddWithoutValidation("Authorization", "Bearer " + apiKey);
        message.Headers.TryAddWithoutValidation("Accept", "text/event-stream");
    }

    /// <summary>
    /// Sends <paramref name="message"/> and opens its reply as server-sent events; a status other than 2xx and a failed
    /// call are <see cref="LlmException"/>s (<see cref="StatusFailure"/>, <see cref="Failure"/>). The caller disposes both.
    /// </summary>
    public static async Task<(HttpResponseMessage Response, SseEventReader Events)> OpenEventStreamAsync(HttpClient http, HttpRequestMessage message, CancellationToken cancellationToken)
    {
        try
        {
            var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var status = (int)response.StatusCode;
                response.Dispose();
                throw StatusFailure(status);
            }

            try
            {
                return (response, new SseEventReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false)));
            }
            catch
            {
                response.Dispose();
                throw;
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not LlmException)
        {
            throw Failure(ex);
        }
    }

    /// <summary>
    /// The next event that carries data (one whose data field is empty, <c>data:</c> alone, is skipped): false at the
    /// end of the stream; a failed read is an <see cref="LlmException"/> (<see cref="Failure"/>).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<bool> NextEventAsync(SseEventReader events, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                if (!await events.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return false;
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw Failure(ex);
            }

            if (!events.Data.IsEmpty)
            {
                return true;
            }
        }
    }

    /// <summary>
    /// A reply's HTTP status in Parley's words: 401/403 authentication, 400/422 parameter, 429 rate limit, 402 arrears,
    /// anything else general. The far end's error text is not read into it.
    /// </summary>
    public static LlmException StatusFailure(int status)
    {
        var kind = status switch
        {
            401 or 403 => LlmErrorKind.Authentication,
            400 or 422 => LlmErrorKind.InvalidParameter,
            429 => LlmErrorKind.RateLimited,
            402 => LlmErrorKind.Arrears,
            _ => LlmErrorKind.General,
        };
        var reason = Enum.IsDefined((HttpStatusCode)status) ? $" ({(HttpStatusCode)status})" : "";
        var redirect = status is >= 300 and < 400 ? "; redirects are not followed" : "";
        return new LlmException(kind, $"LLM request failed: HTTP {status}{reason}{redirect}");
    }

    /// <summary>
    /// A failed call as the class of its failure (<see cref="OutboundFailure"/>): nothing the far end sent (error text, a
    /// banner in a broken status line) is echoed, since these messages reach callbacks and room messages, and would
    /// otherwise make the LLM client a port scanner's oracle.
    /// </summary>
    public static LlmException Failure(Exception ex) =>
        ex as LlmException ?? new LlmException(LlmErrorKind.General, $"LLM request failed: {OutboundFailure.Describe(ex)}", ex);
}
