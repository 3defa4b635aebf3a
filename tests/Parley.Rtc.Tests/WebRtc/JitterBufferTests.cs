using Parley.Rtc.WebRtc;

namespace Parley.Rtc.Tests.WebRtc;

public sealed class JitterBufferTests
{
    [Fact]
    public void ReorderedPackets_ComeOutInSequenceOrder()
    {
        var buffer = new JitterBuffer(3);
        var order = new List<int>();
        foreach (var seq in new ushort[] { 10, 12, 11, 13 })
        {
            buffer.Insert(seq, [(byte)seq]);
            Drain(buffer, order);
        }

        Assert.Equal([10, 11, 12, 13], order);
        Assert.Equal(0, buffer.Lost);
    }

    [Fact]
    public void MissingPacket_IsDeclaredLostOnceDepthPacketsWaitBehindIt()
    {
        var buffer = new JitterBuffer(3);
        var order = new List<int>();
        buffer.Insert(65534, [1]);
        Drain(buffer, order);
        foreach (var seq in new ushort[] { 0, 1 })
        {
            // 65535 is missing; sequence numbers wrap.
            buffer.Insert(seq, [(byte)(seq + 2)]);
            Drain(buffer, order);
            Assert.Equal([1], order);
        }

        buffer.Insert(2, [4]);
        Drain(buffer, order);
        Assert.Equal([1, -1, 2, 3, 4], order);
        Assert.Equal(1, buffer.Lost);

        // The lost packet arriving now is late and dropped.
        Assert.False(buffer.Insert(65535, [9]));
        Assert.Equal(1, buffer.Late);
    }

    [Fact]
    public void Duplicate_IsDropped()
    {
        var buffer = new JitterBuffer(3);
        Assert.True(buffer.Insert(5, [1]));
        Assert.False(buffer.Insert(5, [1]));
    }

    private static void Drain(JitterBuffer buffer, List<int> order)
    {
        while (true)
        {
            var result = buffer.TryTake(out var payload);
            if (result == JitterResult.None)
            {
                return;
            }

            order.Add(result == JitterResult.Lost ? -1 : payload[0]);
        }
    }
}
