using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace Parley.Core.Turns;

/// <summary>
/// Short listener responses ("mm-hmm", "yeah", "嗯", "对") that acknowledge the agent without taking the turn: speech whose
/// whole transcript is made of them does not interrupt (<see cref="InterruptionPolicy.Backchannels"/>). Matching ignores
/// case, spaces and punctuation, and a transcript may repeat or chain them ("yeah yeah", "嗯嗯", "oh okay").
/// </summary>
public sealed class Backchannels
{
    /// <summary>English backchannels.</summary>
    public static readonly IReadOnlyList<string> English =
    [
        "mm-hmm", "mhm", "mm", "hmm", "uh-huh", "uh huh", "yeah", "yep", "yup", "yes", "right", "okay", "ok", "sure", "i see",
        "got it", "alright", "all right", "oh", "ah", "uh", "um", "cool", "great", "nice", "wow", "really", "true", "exactly",
    ];

    /// <summary>Chinese backchannels.</summary>
    public static readonly IReadOnlyList<string> Chinese =
    [
        "嗯", "嗯嗯", "对", "对对", "对的", "好", "好的", "是", "是的", "哦", "噢", "啊", "呃", "行", "没错", "明白", "了解", "知道了",
    ];

    /// <summary>English and Chinese (Parley's default).</summary>
    public static Backchannels Default { get; } = new([.. English, .. Chinese]);

    /// <summary>No backchannels: every word may interrupt.</summary>
    public static Backchannels None { get; } = new([]);

    private readonly string[] _phrases; // normalised, longest first

    public Backchannels(IEnumerable<string> phrases)
    {
        ArgumentNullException.ThrowIfNull(phrases);
        _phrases = [.. phrases.Select(p => Normalize(p)).Where(p => p.Length > 0).Distinct(StringComparer.Ordinal).OrderByDescending(p => p.Length)];
        Phrases = _phrases.ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>The phrases, normalised (lower case, letters and digits only).</summary>
    public IReadOnlySet<string> Phrases { get; }

    /// <summary>Whether <paramref name="transcript"/> is non-empty and made only of backchannels.</summary>
    public bool Matches(string transcript)
    {
        ArgumentNullException.ThrowIfNull(transcript);
        var text = Normalize(transcript);
        return text.Length > 0 && _phrases.Length > 0 && Covers(text, 0);
    }

    private bool Covers(string text, int from)
    {
        if (from == text.Length)
        {
            return true;
        }

        foreach (var phrase in _phrases)
        {
            if (string.CompareOrdinal(text, from, phrase, 0, phrase.Length) == 0 && Covers(text, from + phrase.Length))
            {
                return true;
            }
        }

        return false;
    }

    private static string Normalize(string text)
    {
        var s = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c))
            {
                s.Append(char.ToLower(c, CultureInfo.InvariantCulture));
            }
        }

        return s.ToString();
    }
}
