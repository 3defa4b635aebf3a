using System.Globalization;
using System.Runtime.CompilerServices;
using Parley.Core.Sessions;

namespace Parley.Providers.Llm;

/// <summary>
/// Parley's built-in demo LLM (<c>LLM.Url</c> = <c>parley:demo</c>, a Parley extension): no language model, no network.
/// It answers "Demo LLM (no language model configured): I heard: &lt;what the user said&gt;. It is 14:05." word by
/// word, a word every <see cref="WordInterval"/> on the session's clock, so a first run without an LLM server still
/// ends in a spoken conversation. The time is the server's local time of day.
/// </summary>
public sealed class DemoChatModel(TimeProvider? timeProvider = null) : IChatModel
{
    /// <summary>The <c>LLM.Url</c> that selects this model (case-insensitive).</summary>
    public const string Url = "parley:demo";

    public const string Label = "Demo LLM (no language model configured)";

    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>Pause before each word after the first (a model's token rate, so the stream is visibly a stream).</summary>
    public TimeSpan WordInterval { get; init; } = TimeSpan.FromMilliseconds(40);

    public static bool Selects(string? url) => string.Equals(url, Url, StringComparison.OrdinalIgnoreCase);

    /// <summary>The whole answer to <paramref name="userText"/> at <paramref name="now"/>.</summary>
    public static string Answer(string userText, DateTimeOffset now)
    {
        var heard = string.Join(' ', (userText ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).TrimEnd('.', '!', '?', ',', ';', ':');
        var what = heard.Length == 0 ? "nothing" : heard;
        return $"{Label}: I heard: {what}. It is {now.ToString("HH:mm", CultureInfo.InvariantCulture)}.";
    }

    public async IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        var answer = Answer(request.UserText, _time.GetLocalNow());
        var start = 0;
        var first = true;
        while (start < answer.Length)
        {
            // One token per word, with the space in front of it (as models stream).
            var next = answer.IndexOf(' ', start + 1);
            var token = next < 0 ? answer[start..] : answer[start..next];
            start = next < 0 ? answer.Length : next;
            if (!first && WordInterval > TimeSpan.Zero)
            {
                await Task.Delay(WordInterval, _time, cancellationToken).ConfigureAwait(false);
            }

            first = false;
            cancellationToken.ThrowIfCancellationRequested();
            yield return token;
        }
    }
}

/// <summary>
/// The LLM of a session by its <c>LLM.Url</c> and <c>LLM.Vendor</c>: <c>parley:demo</c> is <see cref="DemoChatModel"/>;
/// Vendor <c>OpenAIResponses</c> the Responses API client (<paramref name="responses"/>); anything else the
/// OpenAI-compatible Chat Completions client.
/// </summary>
public sealed class ChatModelRouter(IChatModel openAICompatible, DemoChatModel demo, IChatModel? responses = null) : IChatModel
{
    public IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (DemoChatModel.Selects(request.Settings.Url))
        {
            return demo.StreamReplyAsync(request, cancellationToken);
        }

        return responses is not null && LlmVendorNames.IsResponses(request.Settings.Vendor)
            ? responses.StreamReplyAsync(request, cancellationToken)
            : openAICompatible.StreamReplyAsync(request, cancellationToken);
    }

    public IAsyncEnumerable<ChatOutput> StreamOutputAsync(ChatModelRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (DemoChatModel.Selects(request.Settings.Url))
        {
            return ((IChatModel)demo).StreamOutputAsync(request, cancellationToken);
        }

        return responses is not null && LlmVendorNames.IsResponses(request.Settings.Vendor)
            ? responses.StreamOutputAsync(request, cancellationToken)
            : openAICompatible.StreamOutputAsync(request, cancellationToken);
    }
}
