namespace Parley.Providers.Local;

/// <summary>Splits text into sentences so the engines can start speaking before the whole text is analysed.</summary>
internal static class LocalTtsText
{
    private const int MaxSentenceLength = 400;

    public static List<string> SplitSentences(string text)
    {
        var sentences = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var end = c is '\n' or '\r'
                || (c is '.' or '!' or '?' or ';' or '。' or '！' or '？' && (i + 1 == text.Length || char.IsWhiteSpace(text[i + 1]) || c > 0x3000))
                || (i - start >= MaxSentenceLength && (char.IsWhiteSpace(c) || c == ','));
            if (end)
            {
                Add(sentences, text.AsSpan(start, i + 1 - start));
                start = i + 1;
            }
        }

        Add(sentences, text.AsSpan(start));
        return sentences;
    }

    private static void Add(List<string> sentences, ReadOnlySpan<char> sentence)
    {
        var trimmed = sentence.Trim();
        foreach (var c in trimmed)
        {
            if (char.IsLetterOrDigit(c))
            {
                sentences.Add(trimmed.ToString());
                return;
            }
        }
    }
}
