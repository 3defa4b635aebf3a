using Parley.Core.Sessions;

namespace Parley.Core.Replies;

/// <summary>
/// The conversation context of a session: messages oldest first, capped at a maximum (oldest dropped first), and the
/// rule for what an interrupted reply leaves in it. Not thread-safe: the owning session guards it with its lock.
/// </summary>
public sealed class ConversationContext(IEnumerable<ContextMessage> initial, int maxMessages)
{
    private readonly List<ContextMessage> _messages = [.. initial];

    public int Count => _messages.Count;

    public IReadOnlyList<ContextMessage> Snapshot() => [.. _messages];

    /// <summary>The most recent <paramref name="size"/> messages (what an LLM call includes).</summary>
    public IReadOnlyList<ContextMessage> Window(int size)
    {
        var n = Math.Clamp(size, 0, _messages.Count);
        return _messages.GetRange(_messages.Count - n, n);
    }

    public void Add(ContextMessage message)
    {
        _messages.Add(message);
        var excess = _messages.Count - maxMessages;
        if (excess > 0)
        {
            _messages.RemoveRange(0, excess);
        }
    }

    public void Clear() => _messages.Clear();

    /// <summary>
    /// What a reply that did not finish leaves in the context: once audio started, only what was played (finished
    /// segments and the current one cut at its played position, at a word boundary); before that, the generated text.
    /// A speech reply that added its whole text when it started has that message replaced (or removed).
    /// </summary>
    /// <returns>The text already played ("" before audio started), whether or not it was kept.</returns>
    internal string CommitUnfinished(SpeechHandle handle)
    {
        var played = handle.SpeakBegun ? PlayedText(handle) : "";
        var keep = handle.Kind == ReplyKind.Llm ? handle.Llm!.AddAnswerToHistory : handle.Speech!.AddToHistory;
        if (!keep)
        {
            return played;
        }

        var text = handle.SpeakBegun ? played : handle.Text.ToString();
        if (handle.HistoryMessage is { } added)
        {
            var index = _messages.FindLastIndex(m => ReferenceEquals(m, added));
            if (index < 0)
            {
                return played;
            }

            if (text.Length > 0)
            {
                _messages[index] = new ContextMessage(MessageRole.Assistant, text);
            }
            else
            {
                _messages.RemoveAt(index);
            }
        }
        else if (text.Length > 0)
        {
            Add(new ContextMessage(MessageRole.Assistant, text));
        }

        return played;
    }

    private static string PlayedText(SpeechHandle handle)
    {
        var played = handle.Played.ToString();
        if (handle.CurrentSegment is not { } segment)
        {
            return played;
        }

        var cut = PlayedPart(segment.Text, segment.Progress.PlayedFraction);
        return cut.Length == 0 ? played : played.Length == 0 ? cut : played + " " + cut;
    }

    /// <summary>The part of <paramref name="text"/> played at <paramref name="fraction"/>, cut back to a word boundary.</summary>
    public static string PlayedPart(string text, double fraction)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (fraction >= 1)
        {
            return text;
        }

        var n = (int)Math.Floor(text.Length * Math.Max(fraction, 0));
        if (n <= 0)
        {
            return string.Empty;
        }

        var hasSpaces = text.AsSpan().IndexOfAny(' ', '\t', '\n') >= 0;
        if (hasSpaces && !char.IsWhiteSpace(text[n]) && !char.IsWhiteSpace(text[n - 1]))
        {
            // Mid-word: keep only the words that were completely played.
            var space = text.AsSpan(0, n).LastIndexOfAny(' ', '\t', '\n');
            n = space < 0 ? 0 : space;
        }

        return text[..n].TrimEnd();
    }
}
