namespace Parley.Media.Tests;

public sealed class FrameAssemblerTests
{
    [Fact]
    public void FrameAssembler_ArbitraryPieces_YieldsContiguousFixedFrames()
    {
        using var assembler = new FrameAssembler(320);
        var source = Enumerable.Range(0, 5000).Select(i => (short)i).ToArray();
        var frames = new List<short[]>();
        var frame = new short[320];
        var position = 0;
        var random = new Random(7);
        while (position < source.Length)
        {
            var size = Math.Min(random.Next(0, 900), source.Length - position);
            assembler.Write(source.AsSpan(position, size));
            position += size;
            while (assembler.TryReadFrame(frame))
            {
                frames.Add(frame.ToArray());
            }
        }

        Assert.Equal(5000 / 320, frames.Count);
        Assert.Equal(5000 % 320, assembler.Buffered);
        Assert.Equal(source.AsSpan(0, frames.Count * 320).ToArray(), frames.SelectMany(f => f).ToArray());
    }

    [Fact]
    public void FrameAssembler_Flush_PadsPartialFrameWithSilence()
    {
        using var assembler = new FrameAssembler(160);
        assembler.Write(Enumerable.Repeat((short)1234, 200).ToArray());
        var frame = new short[160];
        Assert.True(assembler.TryReadFrame(frame));
        Assert.False(assembler.TryReadFrame(frame));

        Array.Fill(frame, (short)-1);
        Assert.True(assembler.Flush(frame));
        Assert.All(frame.AsSpan(0, 40).ToArray(), s => Assert.Equal(1234, s));
        Assert.All(frame.AsSpan(40).ToArray(), s => Assert.Equal(0, s));
        Assert.Equal(0, assembler.Buffered);
        Assert.False(assembler.Flush(frame));
    }

    [Fact]
    public void FrameAssembler_PieceLargerThanBuffer_GrowsAndKeepsOrder()
    {
        using var assembler = new FrameAssembler(10);
        var big = Enumerable.Range(0, 1000).Select(i => (short)i).ToArray();
        assembler.Write(big.AsSpan(0, 5));
        assembler.Write(big.AsSpan(5));
        Assert.Equal(100, assembler.FramesAvailable);
        var frame = new short[10];
        for (var f = 0; f < 100; f++)
        {
            Assert.True(assembler.TryReadFrame(frame));
            Assert.Equal(big.AsSpan(f * 10, 10).ToArray(), frame);
        }
    }

    [Fact]
    public void FrameAssembler_SteadyState_AllocatesNothing()
    {
        using var assembler = new FrameAssembler(320);
        var piece = new short[441];
        var frame = new short[320];
        assembler.Write(piece);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            assembler.Write(piece);
            while (assembler.TryReadFrame(frame))
            {
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void FrameAssembler_SmallFrameBuffer_Throws()
    {
        using var assembler = new FrameAssembler(320);
        Assert.Throws<ArgumentException>(() => assembler.TryReadFrame(new short[100]));
    }
}
