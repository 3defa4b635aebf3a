using System.Text;

namespace Parley.Providers.Net;

/// <summary>Joins recognised sentences: separated by a space, except next to CJK characters (which use none).</summary>
internal static class TranscriptText
{
    public static StringBuilder Join(StringBuilder text, string? sentence)
    {
        sentence = sentence?.Trim();
        if (string.IsNullOrEmpty(sentence))
        {
            return text;
        }

        if (text.Length > 0 && !(IsCjk(text[^1]) || IsCjk(sentence[0])))
        {
            text.Append(' ');
        }

        return text.Append(sentence);
    }

    /// <summary>The stable sentences followed by the unstable one.</summary>
    public static string With(StringBuilder stable, string? pending) =>
        string.IsNullOrWhiteSpace(pending) ? stable.ToString() : Join(new StringBuilder(stable.ToString()), pending).ToString();

    private static bool IsCjk(char c) => c >= '\u2E80' && c <= '\uFFEF';
}
