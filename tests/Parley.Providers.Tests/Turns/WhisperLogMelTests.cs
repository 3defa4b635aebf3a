using System.Numerics;
using Parley.Providers.Turns;
using Xunit;

namespace Parley.Providers.Tests.Turns;

/// <summary>The properties Smart Turn v3's Whisper log-mel input must have (see <see cref="WhisperLogMel"/> for the reference).</summary>
public sealed class WhisperLogMelTests
{
    private static float[] Features(ReadOnlySpan<short> audio)
    {
        var features = new float[WhisperLogMel.Mels * WhisperLogMel.Frames];
        WhisperLogMel.Compute(audio, features);
        return features;
    }

    private static short[] Sine(double hz, double seconds, double amplitude = 8000)
    {
        var samples = new short[(int)(seconds * WhisperLogMel.SampleRate)];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (short)(amplitude * Math.Sin(2 * Math.PI * hz * i / WhisperLogMel.SampleRate));
        }

        return samples;
    }

    [Theory]
    [InlineData(400)]
    [InlineData(16)]
    [InlineData(45)]
    [InlineData(7)]
    public void Fft_MatchesTheDirectDft(int n)
    {
        var random = new Random(n);
        var input = Enumerable.Range(0, n).Select(_ => new Complex(random.NextDouble() - 0.5, random.NextDouble() - 0.5)).ToArray();
        var re = input.Select(c => c.Real).ToArray();
        var im = input.Select(c => c.Imaginary).ToArray();
        new MixedRadixFft(n).Forward(re, im, new double[n], new double[n]);
        for (var k = 0; k < n; k++)
        {
            var expected = Complex.Zero;
            for (var t = 0; t < n; t++)
            {
                expected += input[t] * Complex.FromPolarCoordinates(1, -2 * Math.PI * k * t / n);
            }

            Assert.True(Math.Abs(expected.Real - re[k]) < 1e-9 && Math.Abs(expected.Imaginary - im[k]) < 1e-9, $"bin {k}: {expected} vs ({re[k]}, {im[k]})");
        }
    }

    [Fact]
    public void Silence_IsTheNormalisedFloorEverywhere()
    {
        // Zero audio normalises to zero, every mel energy is clamped to 1e-10: log10 = -10, then (-10 + 4) / 4.
        var features = Features(new short[WhisperLogMel.Samples]);
        Assert.Equal(80 * 800, features.Length);
        Assert.All(features, f => Assert.Equal(-1.5f, f));
        Assert.All(Features([]), f => Assert.Equal(-1.5f, f));
    }

    [Fact]
    public void A1kHzSine_PeaksInTheMelBinCentredNearest1kHz_InEveryFrame()
    {
        var features = Features(Sine(1000, 8));
        var nearest = Enumerable.Range(0, WhisperLogMel.Mels).MinBy(b => Math.Abs(WhisperLogMel.CentreFrequency(b) - 1000));
        Assert.InRange(WhisperLogMel.CentreFrequency(nearest), 950, 1050);
        foreach (var frame in new[] { 5, 200, 400, 799 })
        {
            var peak = Enumerable.Range(0, WhisperLogMel.Mels).MaxBy(b => features[(b * WhisperLogMel.Frames) + frame]);
            Assert.InRange(peak, nearest - 1, nearest + 1);
            Assert.Equal(features.Max(), features[(peak * WhisperLogMel.Frames) + frame], 0.2f); // the tone is the loudest thing there is
        }

        // Whatever the level, the top is at most 8 decades above the floor: values span at most 2 after (x + 4) / 4.
        Assert.InRange(features.Max() - features.Min(), 1.9f, 2.0001f);

        // A 3 kHz tone peaks higher up.
        var high = Features(Sine(3000, 8));
        var highPeak = Enumerable.Range(0, WhisperLogMel.Mels).MaxBy(b => high[(b * WhisperLogMel.Frames) + 400]);
        Assert.InRange(WhisperLogMel.CentreFrequency(highPeak), 2700, 3300);
    }

    [Fact]
    public void ShortAudio_IsPaddedOnTheLeft_TheLast8sOfLongAudioAreRead()
    {
        // 1 s of tone: it fills the last 100 frames (10 ms hop); the frames before hold the padding (the floor).
        var features = Features(Sine(1000, 1));
        var bin = Enumerable.Range(0, WhisperLogMel.Mels).MinBy(b => Math.Abs(WhisperLogMel.CentreFrequency(b) - 1000));
        var row = features.AsSpan(bin * WhisperLogMel.Frames, WhisperLogMel.Frames);
        var floor = features.Min();
        for (var frame = 0; frame < 690; frame++)
        {
            Assert.Equal(floor, row[frame], 0.01f);
        }

        for (var frame = 710; frame < 800; frame++)
        {
            Assert.True(row[frame] > floor + 1.5f, $"frame {frame}: {row[frame]}");
        }

        // 10 s of audio whose first 2 s are a tone: only the last 8 s (silence) are read, so the features are those of
        // 8 s of silence.
        var longAudio = new short[10 * WhisperLogMel.SampleRate];
        Sine(1000, 2).CopyTo(longAudio, 0);
        Assert.All(Features(longAudio), f => Assert.Equal(-1.5f, f));
    }

    [Fact]
    public void Compute_AllocatesNothingOnceThePoolIsWarm()
    {
        var audio = Sine(440, 3);
        var features = new float[WhisperLogMel.Mels * WhisperLogMel.Frames];
        WhisperLogMel.Compute(audio, features);
        var before = GC.GetAllocatedBytesForCurrentThread();
        WhisperLogMel.Compute(audio, features);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 256);
        Assert.Throws<ArgumentException>(() => WhisperLogMel.Compute(audio, new float[10]));
    }
}
