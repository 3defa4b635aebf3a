namespace Parley.Core.Turns;

/// <summary>
/// When the user's speech may interrupt the agent: <see cref="BargeIn"/> allows it at all, and a user's speech counts
/// as an interruption only once it has lasted <see cref="MinSpeech"/> (audio time, from the VAD's speech boundary) and
/// its transcript holds <see cref="MinWords"/> words. Shorter or wordless speech (a cough, "mm") is not an interruption.
/// The input pipeline reports when an utterance reaches <see cref="MinSpeech"/> (<see cref="UserSpeechSustained"/>);
/// the session combines that with the words of the transcript through <see cref="Allows"/>.
/// </summary>
public sealed record InterruptionPolicy
{
    public InterruptionPolicy(bool bargeIn, TimeSpan minSpeech, int minWords)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minSpeech, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(minWords);
        BargeIn = bargeIn;
        MinSpeech = minSpeech;
        MinWords = minWords;
    }

    /// <summary>Barge-in on the first speech the VAD confirms, no minimum length or words.</summary>
    public static InterruptionPolicy Default { get; } = new(bargeIn: true, TimeSpan.Zero, 0);

    /// <summary>The agent finishes its reply; speech heard meanwhile does not interrupt it.</summary>
    public static InterruptionPolicy NoBargeIn { get; } = new(bargeIn: false, TimeSpan.Zero, 0);

    /// <summary>The user's speech may interrupt a reply.</summary>
    public bool BargeIn { get; }

    /// <summary>Speech must have lasted this long to interrupt.</summary>
    public TimeSpan MinSpeech { get; }

    /// <summary>The transcript must hold this many words to interrupt (0: no transcript needed).</summary>
    public int MinWords { get; }

    /// <summary>Whether speech that lasted <paramref name="speech"/> with <paramref name="words"/> words interrupts.</summary>
    public bool Allows(TimeSpan speech, int words) => BargeIn && speech >= MinSpeech && words >= MinWords;

    /// <summary>
    /// Words in a transcript: runs of letters or digits separated by anything else, and each CJK character on its own
    /// (Chinese and Japanese are written without spaces).
    /// </summary>
    public static int CountWords(ReadOnlySpan<char> text)
    {
        var words = 0;
        var inWord = false;
        foreach (var c in text)
        {
            if (IsCjk(c))
            {
                words++;
                inWord = false;
            }
            else if (char.IsLetterOrDigit(c) || (inWord && c == '\''))
            {
                if (!inWord)
                {
                    words++;
                    inWord = true;
                }
            }
            else
            {
                inWord = false;
            }
        }

        return words;
    }

    private static bool IsCjk(char c) =>
        c is >= '\u4E00' and <= '\u9FFF' or >= '\u3400' and <= '\u4DBF' or >= '\u3040' and <= '\u30FF' or >= '\uF900' and <= '\uFAFF';
}
