using Parley.Providers.Local;
using Xunit;
using Xunit.Abstractions;

namespace Parley.Providers.Tests.Local;

/// <summary>
/// <see cref="SpeexEchoCanceller"/> against the real libspeexdsp.so.1 (Debian's libspeexdsp1): the far end is flite
/// speech, the microphone hears it back delayed and attenuated (the agent's voice leaking from a loudspeaker), with
/// and without a different near-end talker. Audio goes through in 20 ms pieces, as the input pipeline sends it.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class SpeexEchoCancellerTests(ITestOutputHelper output)
{
    private const int Rate = SpeechTestAudio.SampleRate;
    private const int Piece = 320;

    // The canceller hands each piece back two speex frames late (its delay line and the suppressor's overlap-add).
    private const int OutputDelay = 320;

    private const string FarSentence = "The weather today is sunny with a light breeze from the west, and tomorrow should be much the same.";
    private const string NearSentence = "Could you please book a table for four people at seven o'clock tonight?";

    [Theory]
    [InlineData(40, -6.0, 15)]
    [InlineData(40, -20.0, 14)]
    [InlineData(80, -6.0, 15)]
    [InlineData(80, -20.0, 14)]
    public void Echo_AfterConvergence_IsCancelled(int delayMs, double gainDb, double minErleDb)
    {
        // Measured with Debian's libspeexdsp 1.2.1, 256 ms tail: 23.0 / 18.4 / 19.2 / 18.3 dB (the rows in order; the
        // linear filter alone, without the suppressor, 17.9 / 11.6 / 14.6 / 10.2). The quieter echo is only ~12 dB above
        // the microphone's noise, which passes through and is not counted.
        var far = Speech(FarSentence);
        var echo = Echo(far, delayMs, gainDb);
        var noise = Noise(far.Length);
        var mic = Mix(echo, noise);

        using var canceller = new SpeexEchoCanceller();
        var cancelled = Run(canceller, mic, far);

        // Convergence: the first second is not judged. ERLE: the echo's energy over what is left of it (the output
        // less the noise, which passes through).
        var end = far.Length;
        var erle = Erle(echo, noise, cancelled);
        var micToOutput = Db(Energy(mic, Rate, end) / Energy(cancelled, Rate, end));
        output.WriteLine($"delay {delayMs} ms, echo {gainDb} dB: ERLE {erle:0.0} dB after the first second (microphone → output {micToOutput:0.0} dB, echo over noise {Db(Energy(echo, Rate, end) / Energy(noise, Rate, end)):0.0} dB)");
        Assert.True(erle >= minErleDb, $"the echo was reduced by only {erle:0.0} dB");
    }

    [Fact]
    public void ResidualSuppressor_TakesOutMoreEchoThanTheLinearFilterAlone()
    {
        // The suppressor's gains apply only with speex's denoise on (at a 0 dB noise floor): this fails if it is a no-op.
        var far = Speech(FarSentence);
        var echo = Echo(far, 80, -20);
        var noise = Noise(far.Length);
        var mic = Mix(echo, noise);

        using var both = new SpeexEchoCanceller();
        using var filterOnly = new SpeexEchoCanceller(suppressResidual: false);
        var withSuppressor = Erle(echo, noise, Run(both, mic, far));
        var withoutSuppressor = Erle(echo, noise, Run(filterOnly, mic, far, delay: 160));
        output.WriteLine($"ERLE with the suppressor {withSuppressor:0.0} dB, the filter alone {withoutSuppressor:0.0} dB");
        Assert.True(withSuppressor >= withoutSuppressor + 4, $"{withSuppressor:0.0} dB with the suppressor, {withoutSuppressor:0.0} dB without");
    }

    [Fact]
    public void Echo_WithoutTheFarEnd_IsNotCancelled()
    {
        // The test can fail: with a silent reference nothing is cancelled, the output is the microphone (10 ms late).
        var far = Speech(FarSentence);
        var mic = Mix(Echo(far, 60, -6), Noise(far.Length));

        using var canceller = new SpeexEchoCanceller();
        var cancelled = Run(canceller, mic, new short[far.Length]);

        var reduction = Db(Energy(mic, Rate, mic.Length) / Energy(cancelled, Rate, mic.Length));
        output.WriteLine($"reference silent: {reduction:0.0} dB");
        Assert.InRange(reduction, -1, 1);
    }

    [Theory]
    [InlineData(-6.0)]
    [InlineData(-20.0)]
    public void DoubleTalk_NearEndSpeechSurvives(double gainDb)
    {
        // The agent talks from 0 s; the user starts at 1.5 s, over the agent's last seconds, and goes on after it stops.
        var far = Speech(FarSentence);
        var nearSpeech = Speech(NearSentence);
        var nearStart = (int)(1.5 * Rate);
        var length = Math.Max(far.Length, nearStart + nearSpeech.Length) + Rate;
        var near = new short[length];
        nearSpeech.CopyTo(near, nearStart);
        var echo = Echo(Padded(far, length), 60, gainDb);
        var mic = Mix(Mix(echo, near), Noise(length));

        using var canceller = new SpeexEchoCanceller();
        var cancelled = Run(canceller, mic, Padded(far, length));

        // Near-end-only windows: the user speaks, the echo is (almost) silent.
        double nearEnergy = 0, outEnergy = 0;
        for (var at = 0; at + Piece <= length; at += Piece)
        {
            var n = Energy(near, at, at + Piece);
            if (n > 1e5 * Piece && Energy(echo, at, at + Piece) < n / 1000)
            {
                nearEnergy += n;
                outEnergy += Energy(cancelled, at, at + Piece);
            }
        }

        var nearOnlyChange = Db(outEnergy / nearEnergy);

        // Over the whole of the user's speech, double talk included: the output still follows the near end.
        var correlation = Correlation(cancelled, near, nearStart, nearStart + nearSpeech.Length);
        var echoLeft = Db(Energy(echo, nearStart, nearStart + nearSpeech.Length) / Energy(near, nearStart, nearStart + nearSpeech.Length));
        output.WriteLine($"echo {gainDb} dB: near-only windows {nearEnergy / Piece:0} → {nearOnlyChange:0.0} dB; correlation with the near end {correlation:0.000} (mic: echo/near {echoLeft:0.0} dB)");
        Assert.True(nearEnergy > 0, "no near-end-only windows");
        Assert.InRange(nearOnlyChange, -3, 1);
        Assert.True(correlation >= 0.9, $"the output correlates with the near end only {correlation:0.000}");
    }

    [Fact]
    public void Process_FarEndOfAnotherLength_ThrowsNamingFarEnd()
    {
        using var canceller = new SpeexEchoCanceller();
        var error = Assert.Throws<ArgumentException>(() => canceller.Process(new short[Piece], new short[Piece - 1]));
        Assert.Equal("farEnd", error.ParamName);
    }

    [Fact]
    public void Constructor_OtherSampleRate_ThrowsNamingSampleRate()
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => new SpeexEchoCanceller(sampleRate: 48000));
        Assert.Equal("sampleRate", error.ParamName);
        Assert.Contains("16000", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(5000)]
    public void Constructor_TailOutOfRange_ThrowsNamingTailLength(int milliseconds)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => new SpeexEchoCanceller(TimeSpan.FromMilliseconds(milliseconds)));
        Assert.Equal("tailLength", error.ParamName);
    }

    [Fact]
    public void Dispose_Twice_IsSafe_AndProcessAfterwardsThrows()
    {
        var canceller = new SpeexEchoCanceller();
        canceller.Process(new short[Piece], new short[Piece]);
        canceller.Dispose();
        canceller.Dispose();
        Assert.Throws<ObjectDisposedException>(() => canceller.Process(new short[Piece], new short[Piece]));
    }

    [Theory]
    [InlineData(true, 320)]
    [InlineData(false, 160)]
    public void Process_OddPieceLengths_OutputIsTheInputDelayLate(bool suppressResidual, int delay)
    {
        // Without a reference the canceller passes the microphone through, Delay late, whatever the pieces' lengths.
        var mic = Speech(NearSentence)[..16000];
        using var canceller = new SpeexEchoCanceller(suppressResidual: suppressResidual);
        Assert.Equal(TimeSpan.FromMilliseconds(delay / 16), canceller.Delay);
        var result = new short[mic.Length];
        var at = 0;
        foreach (var length in Enumerable.Repeat((int[])[1, 77, 160, 333, 0, 429], 20).SelectMany(l => l))
        {
            var n = Math.Min(length, mic.Length - at);
            mic.AsSpan(at, n).CopyTo(result.AsSpan(at));
            canceller.Process(result.AsSpan(at, n), new short[n]);
            at += n;
        }

        // Equal to the input but for speex's input filters (DC notch, pre-emphasis): correlated at the delay, not
        // a few samples off it.
        Assert.Equal(mic.Length, at);
        Assert.All(result.Take(160), s => Assert.Equal(0, s));
        var atDelay = CorrelationAt(result, mic, delay);
        var early = CorrelationAt(result, mic, delay - 16);
        var late = CorrelationAt(result, mic, delay + 16);
        output.WriteLine($"correlation at {delay}: {atDelay:0.000}, 1 ms early {early:0.000}, 1 ms late {late:0.000}");
        Assert.True(atDelay >= 0.9, $"correlation {atDelay:0.000} at {delay}");
        Assert.True(early < 0.5 && late < 0.5, $"1 ms off the delay: {early:0.000} / {late:0.000}");
    }

    [Fact]
    public void Process_AllocatesNothingPerPiece()
    {
        var far = Speech(FarSentence);
        var mic = Echo(far, 60, -6);
        using var canceller = new SpeexEchoCanceller();
        var near = new short[Piece];
        for (var at = 0; at + Piece <= Rate; at += Piece)
        {
            mic.AsSpan(at, Piece).CopyTo(near);
            canceller.Process(near, far.AsSpan(at, Piece));
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var at = Rate; at + Piece <= far.Length; at += Piece)
        {
            mic.AsSpan(at, Piece).CopyTo(near);
            canceller.Process(near, far.AsSpan(at, Piece));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>
    /// Flite speech through a 100 Hz high-pass (2nd-order Butterworth): flite's output wanders far below the voice band,
    /// which speex's DC notch takes out of the microphone; a real microphone path removes it too.
    /// </summary>
    private static short[] Speech(string text)
    {
        var raw = SpeechTestAudio.Speech(text);
        var k = Math.Tan(Math.PI * 100 / Rate);
        var norm = 1 / (1 + (Math.Sqrt(2) * k) + (k * k));
        double b0 = norm, b1 = -2 * norm, b2 = norm;
        var a1 = 2 * ((k * k) - 1) * norm;
        var a2 = (1 - (Math.Sqrt(2) * k) + (k * k)) * norm;
        double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
        var filtered = new short[raw.Length];
        for (var i = 0; i < raw.Length; i++)
        {
            var y = (b0 * raw[i]) + (b1 * x1) + (b2 * x2) - (a1 * y1) - (a2 * y2);
            (x2, x1, y2, y1) = (x1, raw[i], y1, y);
            filtered[i] = (short)Math.Clamp(Math.Round(y), short.MinValue, short.MaxValue);
        }

        return filtered;
    }

    /// <summary>Runs <paramref name="mic"/> through in 20 ms pieces and returns the output realigned with the input.</summary>
    private static short[] Run(SpeexEchoCanceller canceller, short[] mic, short[] far, int delay = OutputDelay)
    {
        Assert.Equal(delay, (int)(canceller.Delay.TotalSeconds * Rate));
        var processed = new short[mic.Length + delay + Piece];
        mic.CopyTo(processed, 0);
        var reference = Padded(far, processed.Length);
        for (var at = 0; at + Piece <= processed.Length; at += Piece)
        {
            canceller.Process(processed.AsSpan(at, Piece), reference.AsSpan(at, Piece));
        }

        return processed[delay..(delay + mic.Length)];
    }

    /// <summary>
    /// Echo return loss enhancement after the first second (convergence): the echo's energy over what is left of it,
    /// the output less the microphone's noise (which passes through).
    /// </summary>
    private static double Erle(short[] echo, short[] noise, short[] cancelled)
    {
        var end = echo.Length;
        var residual = Math.Max(Energy(cancelled, Rate, end) - Energy(noise, Rate, end), 1);
        return Db(Energy(echo, Rate, end) / residual);
    }

    private static short[] Echo(short[] far, int delayMs, double gainDb)
    {
        var delay = delayMs * Rate / 1000;
        var gain = Math.Pow(10, gainDb / 20);
        var echo = new short[far.Length];
        for (var i = delay; i < far.Length; i++)
        {
            echo[i] = (short)Math.Round(far[i - delay] * gain);
        }

        return echo;
    }

    private static short[] Mix(short[] a, short[] b)
    {
        var mixed = new short[Math.Max(a.Length, b.Length)];
        for (var i = 0; i < mixed.Length; i++)
        {
            var sum = (i < a.Length ? a[i] : 0) + (i < b.Length ? b[i] : 0);
            mixed[i] = (short)Math.Clamp(sum, short.MinValue, short.MaxValue);
        }

        return mixed;
    }

    /// <summary>A microphone's self-noise, about −60 dBFS.</summary>
    private static short[] Noise(int length) => SpeechTestAudio.WhiteNoise(TimeSpan.FromSeconds((double)length / Rate), 57);

    private static short[] Padded(short[] samples, int length)
    {
        var padded = new short[length];
        samples.AsSpan(0, Math.Min(samples.Length, length)).CopyTo(padded);
        return padded;
    }

    private static double Energy(short[] samples, int from, int to)
    {
        double sum = 0;
        for (var i = from; i < Math.Min(to, samples.Length); i++)
        {
            sum += (double)samples[i] * samples[i];
        }

        return sum;
    }

    private static double Correlation(short[] a, short[] b, int from, int to)
    {
        double ab = 0, aa = 0, bb = 0;
        for (var i = from; i < to; i++)
        {
            ab += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
        }

        return ab / Math.Sqrt(aa * bb);
    }

    /// <summary>The correlation of <paramref name="output"/> with <paramref name="input"/> delayed by <paramref name="lag"/> samples.</summary>
    private static double CorrelationAt(short[] output, short[] input, int lag) => Correlation(output[lag..], input[..^lag], 0, input.Length - lag);

    private static double Db(double ratio) => 10 * Math.Log10(ratio);
}
