namespace Parley.Core.Turns;

/// <summary>
/// When the user's speech may interrupt the agent: <see cref="BargeIn"/> allows it at all, and a user's speech counts
/// as an interruption only once it has lasted <see cref="MinSpeech"/> (audio time, from the VAD's speech boundary) and
/// its transcript holds <see cref="MinWords"/> words. Shorter or wordless speech (a cough, "mm") is not an interruption.
/// The input pipeline reports when an utterance reaches <see cref="MinSpeech"/> (<see cref="UserSpeechSustained"/>);
/// the session combines that with the words of the transcript through <see cref="Allows"/>. A transcript made only of
/// <see cref="Backchannels"/> never interrupts. The <see cref="EchoGuard"/>: speech that starts within that long of the
/// agent's audio onset (a reply's first frame out, or a resume) does not pause the agent provisionally and needs
/// <see cref="EchoGuardMinSpeech"/> to interrupt (the agent's own voice leaking back without an echo reference).
/// While speech is pending, the agent's audio is paused (<see cref="PauseOnSpeech"/>) and resumes if it does not qualify.
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

    /// <summary>
    /// Parley's defaults, chosen on the turn-taking evaluation set (docs/benchmarks.md): 300 ms of speech, one word
    /// that is not a backchannel (English and Chinese lists), and a 1 s echo guard needing 600 ms of speech.
    /// </summary>
    public static InterruptionPolicy Parley { get; } = new(bargeIn: true, TimeSpan.FromMilliseconds(300), 1)
    {
        Backchannels = Turns.Backchannels.Default,
        EchoGuard = TimeSpan.FromSeconds(1),
        EchoGuardMinSpeech = TimeSpan.FromMilliseconds(600),
    };

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

    /// <summary>Transcripts made only of these do not interrupt (<see cref="Backchannels.None"/>: any words do).</summary>
    public Backchannels Backchannels { get; init; } = Backchannels.None;

    /// <summary>After each onset of the agent's audio, speech starting within this long is judged by the echo guard (0: off).</summary>
    public TimeSpan EchoGuard
    {
        get;
        init => field = value >= TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(EchoGuard), value, "EchoGuard must not be negative.");
    }

    /// <summary>The speech an interruption needs inside the <see cref="EchoGuard"/> (used when longer than <see cref="MinSpeech"/>).</summary>
    public TimeSpan EchoGuardMinSpeech
    {
        get;
        init => field = value >= TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(EchoGuardMinSpeech), value, "EchoGuardMinSpeech must not be negative.");
    }

    /// <summary>Pending speech pauses the agent's audio (resumed when the speech is released or does not qualify).</summary>
    public bool PauseOnSpeech { get; init; } = true;

    /// <summary>Speech needs judging before it interrupts (a minimum, words, a backchannel list or the echo guard).</summary>
    public bool Judged => MinSpeech > TimeSpan.Zero || MinWords > 0 || Backchannels.Phrases.Count > 0 || EchoGuard > TimeSpan.Zero;

    /// <summary>The speech needed to interrupt, inside the echo guard or not.</summary>
    public TimeSpan RequiredSpeech(bool inEchoGuard) => inEchoGuard && EchoGuardMinSpeech > MinSpeech ? EchoGuardMinSpeech : MinSpeech;

    /// <summary>Whether speech that lasted <paramref name="speech"/> with <paramref name="words"/> words interrupts.</summary>
    public bool Allows(TimeSpan speech, int words) => BargeIn && speech >= MinSpeech && words >= MinWords;

    /// <summary>Whether a sustained speech's transcript <paramref name="text"/> has its words and is not only backchannels.</summary>
    public bool WordsQualify(string text) => CountWords(text) >= MinWords && !Backchannels.Matches(text);


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
