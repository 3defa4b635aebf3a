using System.Text;

namespace Parley.Core.Text;

/// <summary>
/// Splits streamed reply text into speakable sentences as soon as each one is complete, so synthesis can start on
/// the first sentence while the LLM is still writing the rest. A sentence ends at <c>. ! ? ; …</c> (and their CJK
/// forms) followed by whitespace or end of input, or at a newline. Very long runs without punctuation are cut at a
/// comma or space after <see cref="MaxSentenceLength"/> characters so that speech never waits too long.
/// </summary>
public sealed class SentenceSegmenter
{
    public const int MinSentenceLength = 2;
    public const int MaxSentenceLength = 200;
    private readonly StringBuilder _buffer = new();

    /// <summary>Adds a delta and returns the sentences it completed (often none).</summary>
    public IReadOnlyList<string> Push(string delta)
    {
        _buffer.Append(delta);
        List<string>? sentences = null;
        while (TryTakeSentence(final: false, out var sentence))
        {
            (sentences ??= []).Add(sentence);
        }

        return sentences ?? (IReadOnlyList<string>)[];
    }

    /// <summary>Ends the input: returns the last, unterminated sentence, if any.</summary>
    public string? Complete()
    {
        var rest = _buffer.ToString().Trim();
        _buffer.Clear();
        return rest.Length == 0 ? null : rest;
    }

    private bool TryTakeSentence(bool final, out string sentence)
    {
        var text = _buffer.ToString();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var end = -1;
            if (c == '\n')
            {
                end = i + 1;
            }
            else if (IsCjkTerminal(c))
            {
                end = i + 1;
            }
            else if (IsTerminal(c))
            {
                // "3.14" and "e.g." stay together: a terminal must be followed by whitespace (or more terminals).
                var j = i + 1;
                while (j < text.Length && (IsTerminal(text[j]) || text[j] is '"' or '\'' or ')' or '”' or '’'))
                {
                    j++;
                }

                if (j < text.Length && char.IsWhiteSpace(text[j]))
                {
                    end = j;
                }
                else if (j >= text.Length && final)
                {
                    end = j;
                }
                else
                {
                    i = j - 1;
                }
            }

            if (end > 0)
            {
                var candidate = text[..end].Trim();
                if (candidate.Length >= MinSentenceLength)
                {
                    _buffer.Remove(0, end);
                    sentence = candidate;
                    return true;
                }
            }
        }

        if (text.Length > MaxSentenceLength)
        {
            var cut = text.LastIndexOfAny([',', '，', '、', ' '], MaxSentenceLength);
            cut = cut <= 0 ? MaxSentenceLength : cut + 1;
            sentence = text[..cut].Trim();
            _buffer.Remove(0, cut);
            return sentence.Length > 0;
        }

        sentence = "";
        return false;
    }

    private static bool IsTerminal(char c) => c is '.' or '!' or '?' or ';' or '…';

    private static bool IsCjkTerminal(char c) => c is '。' or '！' or '？' or '；';
}
