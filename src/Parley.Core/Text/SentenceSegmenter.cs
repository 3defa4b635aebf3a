using System.Text;

namespace Parley.Core.Text;

/// <summary>
/// Splits streamed reply text into speakable sentences as soon as each one is complete, so synthesis can start on
/// the first sentence while the LLM is still writing the rest. A sentence ends at <c>. ! ? ; …</c> (and their CJK
/// forms) followed by whitespace or end of input, or at a newline. Very long runs without punctuation are cut at a
/// comma or space after <see cref="MaxSentenceLength"/> characters so that speech never waits too long.
/// A terminal at the very end of the text so far ends the sentence at once when it cannot be the inside of a number or
/// an abbreviation (it follows a lowercase word that is not a known abbreviation): the first sentence of a reply
/// ("Sure.") then goes to synthesis without waiting one more LLM token for the whitespace after it. After a digit, a
/// capital (U.S.) or an abbreviation (Dr.) the segmenter still waits for what follows.
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
                else if (j >= text.Length && (final || EndsWithoutLookahead(text, i)))
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

    private static readonly string[] Abbreviations = ["mr", "mrs", "ms", "dr", "jr", "sr", "st", "vs", "etc", "eg", "ie", "approx", "no", "fig", "inc", "ltd", "co", "am", "pm"];

    /// <summary>Whether the terminal at <paramref name="i"/> (text ends after its run) surely ends a sentence.</summary>
    private static bool EndsWithoutLookahead(string text, int i)
    {
        if (text[i] is '!' or '?')
        {
            return true;
        }

        // The word before the terminal: letters only, the last one lowercase, and not an abbreviation.
        var wordEnd = i;
        var wordStart = wordEnd;
        while (wordStart > 0 && (char.IsLetter(text[wordStart - 1]) || text[wordStart - 1] == '.'))
        {
            wordStart--;
        }

        if (wordStart == wordEnd || !char.IsLower(text[wordEnd - 1]))
        {
            return false;
        }

        Span<char> word = stackalloc char[Math.Min(wordEnd - wordStart, 16)];
        var length = 0;
        for (var k = wordStart; k < wordEnd && length < word.Length; k++)
        {
            if (text[k] != '.')
            {
                word[length++] = char.ToLowerInvariant(text[k]);
            }
        }

        foreach (var abbreviation in Abbreviations)
        {
            if (word[..length].SequenceEqual(abbreviation))
            {
                return false;
            }
        }

        // "e.g." / "i.e." style: dots inside the word.
        return text.AsSpan(wordStart, wordEnd - wordStart).IndexOf('.') < 0;
    }

    private static bool IsTerminal(char c) => c is '.' or '!' or '?' or ';' or '…';

    private static bool IsCjkTerminal(char c) => c is '。' or '！' or '？' or '；';
}
