namespace Parley.Testing.Speech;

/// <summary>
/// Cuts synthesised speech to its voice, one way for every test and benchmark that measures from "speech sent".
/// flite's leading pause holds clicks above −40 dBFS peak but no voice, so the onset is found by block loudness.
/// </summary>
public static class SpeechTrim
{
    /// <summary>32768 × 10^(−40/20): the peak below which a sample counts as quiet.</summary>
    public const int QuietPeak = 328;

    /// <summary>32768 × 10^(−35/20): the RMS of a 20 ms block at which the voice is audible.</summary>
    public const double AudibleRms = 582.7;

    private const int Block = 320;

    /// <summary>Drops leading and trailing samples quieter than −40 dBFS peak.</summary>
    public static short[] QuietEnds(short[] samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var start = 0;
        while (start < samples.Length && Math.Abs((int)samples[start]) < QuietPeak)
        {
            start++;
        }

        return samples[start..VoiceEnd(samples, start)];
    }

    /// <summary>
    /// Starts at the first 20 ms block whose RMS reaches −35 dBFS and ends after the last sample above −40 dBFS peak
    /// (the voice's decay still counts as speech to a VAD). Empty when nothing is audible.
    /// </summary>
    public static short[] ToVoice(short[] samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var start = AudibleOnset(samples);
        return start < 0 ? [] : samples[start..VoiceEnd(samples, start)];
    }

    /// <summary>The first sample of the first 20 ms block (a shorter last block included) whose RMS reaches −35 dBFS, or −1.</summary>
    public static int AudibleOnset(ReadOnlySpan<short> samples)
    {
        for (var b = 0; b < samples.Length; b += Block)
        {
            var block = samples.Slice(b, Math.Min(Block, samples.Length - b));
            double sum = 0;
            foreach (var x in block)
            {
                sum += (double)x * x;
            }

            if (Math.Sqrt(sum / block.Length) >= AudibleRms)
            {
                return b;
            }
        }

        return -1;
    }

    private static int VoiceEnd(short[] samples, int start)
    {
        var end = samples.Length;
        while (end > start && Math.Abs((int)samples[end - 1]) < QuietPeak)
        {
            end--;
        }

        return end;
    }
}
