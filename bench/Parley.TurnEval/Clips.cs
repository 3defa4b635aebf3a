using System.Collections.Concurrent;
using System.Diagnostics;
using Parley.Testing.Speech;

namespace Parley.TurnEval;

/// <summary>
/// The evaluation set's audio, made at run time on this machine: speech by flite (English, kal16) or espeak-ng
/// (Mandarin), noises by sox, all 16 kHz mono PCM16, cached per run. Nothing is downloaded or checked in.
/// </summary>
internal static class Clips
{
    public const int Rate = 16000;

    private static readonly ConcurrentDictionary<string, short[]> Cache = new();

    /// <summary>English speech by flite, its quiet ends trimmed (so offsets are where the voice is).</summary>
    public static short[] Say(string text) => Cache.GetOrAdd("flite:" + text, _ => SpeechTrim.QuietEnds(TestSpeech.Flite(text)));

    /// <summary>Mandarin speech by espeak-ng (voice cmn), resampled to 16 kHz by sox.</summary>
    public static short[] SayMandarin(string text) => Cache.GetOrAdd("cmn:" + text, _ =>
    {
        var wav = Temp("wav");
        var resampled = Temp("wav");
        try
        {
            Run("espeak-ng", "-v", "cmn", "-w", wav, text);
            Run("sox", wav, "-r", "16000", "-c", "1", "-b", "16", resampled);
            return SpeechTrim.QuietEnds(TestSpeech.ReadWav(File.ReadAllBytes(resampled)));
        }
        finally
        {
            File.Delete(wav);
            File.Delete(resampled);
        }
    });

    /// <summary>A cough: a 250 ms burst of band-passed noise with a fast attack and a decay.</summary>
    public static short[] Cough() => Sox("cough", "synth", "0.25", "pinknoise", "band", "900", "600", "fade", "q", "0.01", "0.25", "0.18", "gain", "-n", "-3");

    /// <summary>A door slam: 120 ms of low-passed noise, loud, decaying at once.</summary>
    public static short[] DoorSlam() => Sox("door", "synth", "0.12", "brownnoise", "lowpass", "300", "fade", "q", "0.002", "0.12", "0.11", "gain", "-n", "-1");

    /// <summary>Keyboard-like clicks: short noise bursts every 150 ms for 1.2 s.</summary>
    public static short[] Clicks()
    {
        var click = Sox("click", "synth", "0.015", "whitenoise", "highpass", "2000", "fade", "q", "0.001", "0.015", "0.01", "gain", "-n", "-6");
        var track = new short[Rate * 12 / 10];
        for (var at = 0; at + click.Length < track.Length; at += Rate * 15 / 100)
        {
            MixInto(track, click, at, 1.0);
        }

        return track;
    }

    /// <summary>Babble: four talkers at once (flite sentences, staggered and summed), 2 s.</summary>
    public static short[] Babble() => Cache.GetOrAdd("babble", _ =>
    {
        string[] talk =
        [
            "The meeting moved to the third floor conference room after lunch.",
            "Did you see the game last night, it went into overtime again.",
            "I will pick up the groceries on my way home from the station.",
            "Please remember to send the report before the end of the week.",
        ];
        var track = new short[Rate * 2];
        for (var i = 0; i < talk.Length; i++)
        {
            var voice = Say(talk[i]);
            MixInto(track, voice.AsSpan(Math.Min(voice.Length - 1, i * Rate / 3)).ToArray(), 0, 0.5);
        }

        return track;
    });

    /// <summary>Stationary noise (white, or babble looped) of <paramref name="samples"/>, scaled later for an SNR.</summary>
    public static short[] NoiseBed(string kind, int samples)
    {
        var source = kind == "babble" ? Babble() : Sox("white", "synth", "2", "whitenoise", "gain", "-n", "-12");
        var bed = new short[samples];
        for (var i = 0; i < samples; i++)
        {
            bed[i] = source[i % source.Length];
        }

        return bed;
    }

    /// <summary>Adds <paramref name="clip"/> × <paramref name="gain"/> into <paramref name="track"/> at <paramref name="at"/> (saturating).</summary>
    public static void MixInto(short[] track, ReadOnlySpan<short> clip, int at, double gain)
    {
        for (var i = 0; i < clip.Length && at + i < track.Length; i++)
        {
            if (at + i < 0)
            {
                continue;
            }

            track[at + i] = (short)Math.Clamp(track[at + i] + (clip[i] * gain), short.MinValue, short.MaxValue);
        }
    }

    /// <summary>RMS of the samples (0 for none).</summary>
    public static double Rms(ReadOnlySpan<short> samples)
    {
        if (samples.IsEmpty)
        {
            return 0;
        }

        double sum = 0;
        foreach (var s in samples)
        {
            sum += (double)s * s;
        }

        return Math.Sqrt(sum / samples.Length);
    }

    /// <summary>The gain that puts <paramref name="noise"/> <paramref name="snrDb"/> dB below <paramref name="speech"/> (RMS over the voice).</summary>
    public static double GainForSnr(ReadOnlySpan<short> speech, ReadOnlySpan<short> noise, double snrDb)
    {
        var noiseRms = Rms(noise);
        return noiseRms == 0 ? 0 : Rms(speech) / noiseRms / Math.Pow(10, snrDb / 20);
    }

    private static short[] Sox(string key, params string[] effects) => Cache.GetOrAdd("sox:" + key, _ =>
    {
        var file = Temp("wav");
        try
        {
            Run("sox", ["-n", "-r", "16000", "-c", "1", "-b", "16", file, .. effects]);
            return TestSpeech.ReadWav(File.ReadAllBytes(file));
        }
        finally
        {
            File.Delete(file);
        }
    });

    private static string Temp(string extension) => Path.Combine(Path.GetTempPath(), $"parley-eval-{Guid.NewGuid():N}.{extension}");

    private static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed ({process.ExitCode}): {error}");
        }
    }
}
