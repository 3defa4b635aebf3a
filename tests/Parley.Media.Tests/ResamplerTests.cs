namespace Parley.Media.Tests;

public sealed class ResamplerTests
{
    [Theory]
    [InlineData(48000, 16000)]
    [InlineData(16000, 48000)]
    [InlineData(22050, 16000)]
    [InlineData(44100, 48000)]
    [InlineData(8000, 16000)]
    [InlineData(16000, 8000)]
    [InlineData(24000, 16000)]
    public void Resampler_Tone1kHz_KeepsFrequencyAndAmplitude(int inputRate, int outputRate)
    {
        var input = Signal.Tone(1000, inputRate, 1.0);
        var output = ResampleAll(new Resampler(inputRate, outputRate), input);

        Assert.Equal(outputRate, output.Length);

        // Skip the filter's start-up transient.
        var steady = output.AsSpan(outputRate / 10, outputRate * 8 / 10);
        Assert.InRange(Signal.ZeroCrossingFrequency(steady, outputRate), 999.0, 1001.0);
        Assert.InRange(Signal.AmplitudeAt(steady, 1000, outputRate), 9800, 10200);

        // Almost all of the energy stays in the 1 kHz tone (no images or aliases).
        var toneRms = Signal.AmplitudeAt(steady, 1000, outputRate) / Math.Sqrt(2);
        Assert.InRange(Signal.Rms(steady) / toneRms, 0.99, 1.01);
    }

    [Theory]
    [InlineData(9000)]   // would alias to 7 kHz
    [InlineData(10000)]  // would alias to 6 kHz
    [InlineData(12000)]  // would alias to 4 kHz
    public void Resampler_48kTo16k_AttenuatesToneAboveNewNyquist(int frequency)
    {
        var input = Signal.Tone(frequency, 48000, 1.0);
        var output = ResampleAll(new Resampler(48000, 16000), input);
        var steady = output.AsSpan(1600, 12800);

        var aliasFrequency = 16000 - frequency;
        var alias = Signal.AmplitudeAt(steady, aliasFrequency, 16000);
        Assert.True(alias < 10000 * 0.001, $"alias at {aliasFrequency} Hz has amplitude {alias:F1} (want < -60 dB)");
        Assert.True(Signal.Rms(steady) < 10000 * 0.001, $"output RMS {Signal.Rms(steady):F1} (want < -60 dB)");
    }

    [Fact]
    public void Resampler_48kTo16k_ToneJustBelowNewNyquistIsNotAliased()
    {
        // 7 kHz sits in the transition band just under the new 8 kHz Nyquist: it is kept (attenuated, not aliased).
        var input = Signal.Tone(7000, 48000, 1.0);
        var output = ResampleAll(new Resampler(48000, 16000), input);
        var steady = output.AsSpan(1600, 12800);
        Assert.InRange(Signal.ZeroCrossingFrequency(steady, 16000), 6990.0, 7010.0);
        Assert.InRange(Signal.AmplitudeAt(steady, 7000, 16000), 1000, 10000);
    }

    [Theory]
    [InlineData(48000, 16000)]
    [InlineData(16000, 48000)]
    [InlineData(22050, 16000)]
    [InlineData(44100, 16000)]
    [InlineData(16000, 22050)]
    public void Resampler_ChunkedProcessing_EqualsOneShot(int inputRate, int outputRate)
    {
        var random = new Random(42);
        var input = new short[inputRate];
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = (short)((Math.Sin(i * 0.05) * 8000) + random.Next(-3000, 3000));
        }

        var oneShot = ResampleAll(new Resampler(inputRate, outputRate), input);

        var chunked = new Resampler(inputRate, outputRate);
        var collected = new List<short>();
        var buffer = new short[chunked.MaxOutputSamples(2000)];
        var position = 0;
        while (position < input.Length)
        {
            var size = Math.Min(random.Next(1, 2000), input.Length - position);
            var written = chunked.Process(input.AsSpan(position, size), buffer);
            collected.AddRange(buffer.AsSpan(0, written));
            position += size;
        }

        var flushBuffer = new short[chunked.MaxFlushSamples];
        collected.AddRange(flushBuffer.AsSpan(0, chunked.Flush(flushBuffer)));

        Assert.Equal(oneShot, collected.ToArray());
    }

    [Fact]
    public void Resampler_ToneAcrossTinyChunks_HasNoClicks()
    {
        var input = Signal.Tone(440, 48000, 0.5);
        var resampler = new Resampler(48000, 16000);
        var output = new List<short>();
        var buffer = new short[resampler.MaxOutputSamples(7)];
        for (var i = 0; i < input.Length; i += 7)
        {
            var written = resampler.Process(input.AsSpan(i, Math.Min(7, input.Length - i)), buffer);
            output.AddRange(buffer.AsSpan(0, written));
        }

        // A 440 Hz sine of amplitude 10000 at 16 kHz never moves more than 2*pi*440/16000*10000 ≈ 1728 per sample.
        var samples = output.ToArray();
        for (var i = 1601; i < samples.Length; i++)
        {
            Assert.True(Math.Abs(samples[i] - samples[i - 1]) < 1800, $"jump of {samples[i] - samples[i - 1]} at {i}");
        }
    }

    [Fact]
    public void Resampler_UnsupportedRate_ThrowsNamingParameter()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new Resampler(11025, 16000));
        Assert.Equal("inputRate", error.ParamName);
    }

    [Fact]
    public void Resampler_OutputTooSmall_Throws()
    {
        var resampler = new Resampler(16000, 48000);
        Assert.Throws<ArgumentException>(() => resampler.Process(new short[320], new short[100]));
    }

    [Fact]
    public void Resampler_SteadyState_AllocatesNothingPerCall()
    {
        var resampler = new Resampler(48000, 16000);
        var input = Signal.Tone(1000, 48000, 0.02);
        var output = new short[resampler.MaxOutputSamples(input.Length)];
        resampler.Process(input, output); // first call may size the work buffer

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            resampler.Process(input, output);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Resampler_PerSentence_CostsOnlyItsHistory_AndSharedBanksKeepStreamsApart()
    {
        // A reply makes one resampler per sentence: after the first of a rate pair (which designs the bank), a new
        // one is its history and the object, not a bank and a work buffer (once ~17 KB at 24 kHz → 16 kHz).
        _ = new Resampler(24000, 16000);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var a = new Resampler(24000, 16000);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 1, 1024);

        // Two streams of the same rates, interleaved call by call, give what each gives alone.
        var b = new Resampler(24000, 16000);
        var tone = Signal.Tone(1000, 24000, 0.2);
        var chirp = Signal.Tone(3000, 24000, 0.2);
        var aloneA = ResampleAll(new Resampler(24000, 16000), tone);
        var aloneB = ResampleAll(new Resampler(24000, 16000), chirp);
        var outA = new List<short>();
        var outB = new List<short>();
        var buffer = new short[a.MaxOutputSamples(480) + a.MaxFlushSamples];
        for (var at = 0; at < tone.Length; at += 480)
        {
            outA.AddRange(buffer.AsSpan(0, a.Process(tone.AsSpan(at, 480), buffer)).ToArray());
            outB.AddRange(buffer.AsSpan(0, b.Process(chirp.AsSpan(at, 480), buffer)).ToArray());
        }

        outA.AddRange(buffer.AsSpan(0, a.Flush(buffer)).ToArray());
        outB.AddRange(buffer.AsSpan(0, b.Flush(buffer)).ToArray());
        Assert.Equal(aloneA, outA);
        Assert.Equal(aloneB, outB);
    }

    private static short[] ResampleAll(Resampler resampler, short[] input)
    {
        var output = new short[resampler.MaxOutputSamples(input.Length) + resampler.MaxFlushSamples];
        var written = resampler.Process(input, output);
        written += resampler.Flush(output.AsSpan(written));
        return output.AsSpan(0, written).ToArray();
    }
}
