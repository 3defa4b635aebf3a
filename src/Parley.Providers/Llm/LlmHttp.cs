using Parley.Providers.Net;

namespace Parley.Providers.Llm;

/// <summary>The HTTP client both LLM clients (Chat Completions, Responses) call through.</summary>
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
}
