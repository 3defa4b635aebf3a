using Parley.Core.Sessions;

namespace Parley.Providers.Llm;

/// <summary>
/// Where an LLM configured with ZEGO's trial key goes (<c>Parley:Llm:Trial</c>): ZEGO lets a new account use
/// <c>LLM.ApiKey</c> <c>"zego_test"</c> with one of four provider URLs during its first two weeks, and many of its
/// samples and guides ship that configuration. Parley has no such account behind it, so the operator names the LLM the
/// trial key is served by; with nothing configured it is the built-in demo LLM, so a ZEGO sample runs as it is.
/// </summary>
public sealed class ZegoTrialLlmOptions
{
    /// <summary>The OpenAI-compatible Chat Completions URL that serves trial-key requests (empty: the demo LLM).</summary>
    public string Url { get; set; } = "";

    /// <summary>The key sent to <see cref="Url"/> instead of <c>zego_test</c> (empty: none).</summary>
    public string ApiKey { get; set; } = "";

    /// <summary>The model asked of <see cref="Url"/> (empty: the agent's own <c>LLM.Model</c>).</summary>
    public string Model { get; set; } = "";

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting when <see cref="Url"/> is not usable.</summary>
    public void Validate()
    {
        if (Url.Length > 0 && !DemoChatModel.Selects(Url)
            && (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
        {
            throw new ArgumentException("Parley:Llm:Trial:Url must be an absolute http or https URL (or parley:demo)");
        }
    }
}

/// <summary>
/// Serves requests made with ZEGO's trial key (<see cref="TrialKey"/>) from <see cref="ZegoTrialLlmOptions"/>: the
/// configured LLM through <paramref name="trial"/> (a client for the operator's URL), or the demo LLM; every other
/// request goes to <paramref name="inner"/> unchanged.
/// </summary>
public sealed class ZegoTrialChatModel(IChatModel inner, IChatModel trial, DemoChatModel demo, ZegoTrialLlmOptions options) : IChatModel
{
    /// <summary>ZEGO's trial credential (shared-components.yaml <c>LLM.ApiKey</c>).</summary>
    public const string TrialKey = "zego_test";

    /// <summary>
    /// The URLs ZEGO allows with the trial key (shared-components.yaml <c>LLM.Url</c>, plus Volcengine Ark's Responses
    /// endpoint, which ZEGO's own OpenAIResponses examples use with it); others are refused with 410001047. Whatever the
    /// agent's <c>LLM.Vendor</c>, the trial LLM is asked through Chat Completions (or is the demo LLM).
    /// </summary>
    public static readonly IReadOnlyList<string> TrialUrls =
    [
        "https://api.minimax.chat/v1/text/chatcompletion_v2",
        "https://ark.cn-beijing.volces.com/api/v3/chat/completions",
        "https://ark.cn-beijing.volces.com/api/v3/responses",
        "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions",
        "https://api.stepfun.com/v1/chat/completions",
    ];

    /// <summary>Whether <paramref name="apiKey"/> is ZEGO's trial key.</summary>
    public static bool IsTrialKey(string? apiKey) => string.Equals(apiKey, TrialKey, StringComparison.Ordinal);

    /// <summary>Whether <paramref name="url"/> is one the trial key may be used with (trailing slash and case of scheme/host ignored).</summary>
    public static bool IsTrialUrl(string? url) =>
        url is not null && Uri.TryCreate(url.TrimEnd('/'), UriKind.Absolute, out var given)
        && TrialUrls.Any(t => Uri.Compare(new Uri(t), given, UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0);

    public IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!IsTrialKey(request.Settings.ApiKey) || DemoChatModel.Selects(request.Settings.Url))
        {
            return inner.StreamReplyAsync(request, cancellationToken);
        }

        return TrialText(request, cancellationToken);
    }

    /// <summary>An audio-output model's audio passes through (the trial LLM answers in text).</summary>
    public IAsyncEnumerable<ChatOutput> StreamOutputAsync(ChatModelRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        return !IsTrialKey(request.Settings.ApiKey) || DemoChatModel.Selects(request.Settings.Url)
            ? inner.StreamOutputAsync(request, cancellationToken)
            : ChatOutput.FromText(TrialText(request, cancellationToken), cancellationToken);
    }

    private IAsyncEnumerable<string> TrialText(ChatModelRequest request, CancellationToken cancellationToken)
    {

        if (options.Url.Length == 0 || DemoChatModel.Selects(options.Url))
        {
            return demo.StreamReplyAsync(request, cancellationToken);
        }

        var settings = request.Settings with
        {
            Url = options.Url,
            ApiKey = options.ApiKey,
            Model = options.Model.Length > 0 ? options.Model : request.Settings.Model,
        };
        return trial.StreamReplyAsync(request with { Settings = settings }, cancellationToken);
    }
}
