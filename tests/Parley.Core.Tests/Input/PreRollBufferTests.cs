using Parley.Core.Input;

namespace Parley.Core.Tests.Input;

public sealed class PreRollBufferTests
{
    [Fact]
    public void Grow_KeepsEveryHeldSampleAtItsPosition_AndHoldsMoreAfterwards()
    {
        var ring = new PreRollBuffer(8);
        ring.Write([.. Enumerable.Range(1, 13).Select(i => (short)i)]); // holds 6..13 (positions 5..12), wrapped
        ring.Grow(20);
        Assert.Equal(20, ring.Capacity);
        Assert.Equal(5, ring.Oldest);
        Assert.Equal(Enumerable.Range(6, 8).Select(i => (short)i), Read(ring, 5, 13));

        ring.Write([.. Enumerable.Range(14, 10).Select(i => (short)i)]); // 23 written: holds positions 3..22
        Assert.Equal(Enumerable.Range(6, 18).Select(i => (short)i), Read(ring, 5, 23));

        ring.Grow(10); // never shrinks
        Assert.Equal(20, ring.Capacity);
    }

    private static short[] Read(PreRollBuffer ring, long from, long to)
    {
        var (first, second) = ring.Range(from, to);
        return [.. first.ToArray(), .. second.ToArray()];
    }
}
