namespace Parley.Media.Tests;

public sealed class LinearResamplerTests
{
    [Fact]
    public void LinearResampler_16kTo48k_KeepsToneFrequencyAndLength()
    {
        var resampler = new LinearResampler(16000, 48000);
        var tone = Signal.Tone(500, 16000, 1.0, 8000);
        var output = new List<short>();
        var buffer = new short[resampler.MaxOutputFor(320)];
        for (var i = 0; i < tone.Length; i += 320)
        {
            var n = resampler.Process(tone.AsSpan(i, 320), buffer);
            output.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        Assert.InRange(output.Count, 47990, 48000);
        Assert.InRange(Signal.ZeroCrossingFrequency(output.ToArray(), 48000), 495, 505);
    }
}
