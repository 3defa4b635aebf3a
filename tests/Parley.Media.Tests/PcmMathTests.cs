namespace Parley.Media.Tests;

public sealed class PcmMathTests
{
    [Fact]
    public void PcmMath_FullScaleSine_IsAboutMinus3Dbfs()
    {
        var tone = Signal.Tone(1000, 16000, 0.1, 32767);
        Assert.InRange(PcmMath.Dbfs(tone), -3.1, -2.9);
        Assert.InRange(PcmMath.Rms(tone), 23100, 23200);
    }

    [Fact]
    public void PcmMath_Silence_IsFloor()
    {
        Assert.Equal(PcmMath.SilenceDbfs, PcmMath.Dbfs(new short[160]));
        Assert.Equal(0, PcmMath.Rms(ReadOnlySpan<short>.Empty));
    }

    [Fact]
    public void PcmMath_BytesRoundTrip_IsLittleEndian()
    {
        short[] samples = [0, 1, -1, short.MaxValue, short.MinValue, 0x1234];
        var bytes = new byte[samples.Length * 2];
        PcmMath.ToBytes(samples, bytes);
        Assert.Equal(new byte[] { 0x34, 0x12 }, bytes.AsSpan(10, 2).ToArray());
        Assert.Equal(new byte[] { 0xFF, 0xFF }, bytes.AsSpan(4, 2).ToArray());

        var back = new short[samples.Length];
        Assert.Equal(samples.Length, PcmMath.FromBytes(bytes, back));
        Assert.Equal(samples, back);
    }

    [Fact]
    public void PcmMath_OddByteCount_Throws()
    {
        var error = Assert.Throws<ArgumentException>(() => PcmMath.FromBytes(new byte[3], new short[2]));
        Assert.Equal("bytes", error.ParamName);
    }
}
