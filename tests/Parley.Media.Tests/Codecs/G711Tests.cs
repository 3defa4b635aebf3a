using Parley.Media.Codecs;

namespace Parley.Media.Tests.Codecs;

public sealed class G711Tests
{
    [Fact]
    public void G711_MuLawRoundTrip_ErrorWithinStepSize()
    {
        var samples = Enumerable.Range(short.MinValue, 65536).Select(i => (short)i).ToArray();
        var encoded = new byte[samples.Length];
        var decoded = new short[samples.Length];
        G711.EncodeMuLaw(samples, encoded);
        G711.DecodeMuLaw(encoded, decoded);
        for (var i = 0; i < samples.Length; i++)
        {
            var magnitude = Math.Min(Math.Abs((int)samples[i]), 32635);
            var bound = Math.Max(8, (magnitude + 132) / 16 + 4); // half a segment step, plus clipping margin
            Assert.True(Math.Abs(samples[i] - decoded[i]) <= bound + Math.Max(0, Math.Abs((int)samples[i]) - 32635),
                $"μ-law {samples[i]} -> {decoded[i]}");
        }
    }

    [Fact]
    public void G711_ALawRoundTrip_ErrorWithinStepSize()
    {
        var samples = Enumerable.Range(short.MinValue, 65536).Select(i => (short)i).ToArray();
        var encoded = new byte[samples.Length];
        var decoded = new short[samples.Length];
        G711.EncodeALaw(samples, encoded);
        G711.DecodeALaw(encoded, decoded);
        for (var i = 0; i < samples.Length; i++)
        {
            var magnitude = Math.Abs((int)samples[i]);
            var bound = Math.Max(16, magnitude / 16 + 8);
            Assert.True(Math.Abs(samples[i] - decoded[i]) <= bound, $"A-law {samples[i]} -> {decoded[i]}");
        }
    }

    [Fact]
    public void G711_KnownCodeWords_MatchTheStandard()
    {
        Assert.Equal(0xFF, G711.EncodeMuLaw(0));
        Assert.Equal(0, G711.DecodeMuLaw(0xFF));
        Assert.Equal(0x80, G711.EncodeMuLaw(short.MaxValue));
        Assert.Equal(32124, G711.DecodeMuLaw(0x80));
        Assert.Equal(0xD5, G711.EncodeALaw(0));
        Assert.Equal(8, G711.DecodeALaw(0xD5));
        Assert.Equal(0xAA, G711.EncodeALaw(short.MaxValue));
        Assert.Equal(32256, G711.DecodeALaw(0xAA));
    }

    [Fact]
    public void G711_DecodeThenEncode_IsIdentityOnCodeWords()
    {
        for (var b = 0; b < 256; b++)
        {
            if (b != 0x7F)
            {
                // 0x7F and 0xFF are both μ-law zero
                Assert.Equal((byte)b, G711.EncodeMuLaw(G711.DecodeMuLaw((byte)b)));
            }

            Assert.Equal((byte)b, G711.EncodeALaw(G711.DecodeALaw((byte)b)));
        }
    }

    [Fact]
    public void G711_ToneRoundTrip_SignalToNoiseAbove30Db()
    {
        var tone = Signal.Tone(1000, 8000, 0.5, 8000);
        var encoded = new byte[tone.Length];
        var decoded = new short[tone.Length];
        G711.EncodeMuLaw(tone, encoded);
        G711.DecodeMuLaw(encoded, decoded);
        var noise = tone.Zip(decoded, (a, b) => (short)(a - b)).ToArray();
        Assert.True(20 * Math.Log10(Signal.Rms(tone) / Signal.Rms(noise)) > 30);

        G711.EncodeALaw(tone, encoded);
        G711.DecodeALaw(encoded, decoded);
        noise = tone.Zip(decoded, (a, b) => (short)(a - b)).ToArray();
        Assert.True(20 * Math.Log10(Signal.Rms(tone) / Signal.Rms(noise)) > 30);
    }

    [Fact]
    public void G711_ShortDestination_Throws()
    {
        Assert.Throws<ArgumentException>(() => G711.EncodeMuLaw(new short[10], new byte[9]));
    }
}
