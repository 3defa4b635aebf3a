using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Audio;

namespace Parley.Media.Tests;

public sealed class GapFillerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task RealFramesPassAtOnce_GapFillsSilenceEvery20ms_AudioReturnsAtOnce()
    {
        var time = new FakeTimeProvider(T0);
        var source = Channel.CreateBounded<AudioChunk>(new BoundedChannelOptions(25) { SingleReader = true });
        using var stop = new CancellationTokenSource();
        var output = GapFiller.Fill(source.Reader, time, stop.Token);

        source.Writer.TryWrite(Tone());
        using (var first = await ReadAsync(output))
        {
            Assert.Equal(1000, first.Samples[0]); // real audio passes without the clock moving
        }

        // The gap's entry on the shared clock is armed by the stream itself, and the frame read above was stamped before it
        // was queued; each tick re-arms the entry inside the tick (on this thread, in Advance): nothing to wait for.
        Assert.Equal(1, MediaTimer.For(time).Scheduled);
        time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.False(await HasFrameSoonAsync(output));
        time.Advance(TimeSpan.FromMilliseconds(1));
        for (var i = 0; i < 5; i++)
        {
            using (var silence = await ReadAsync(output))
            {
                Assert.Equal(320, silence.Length);
                Assert.True(silence.Samples.IndexOfAnyExcept((short)0) < 0);
            }

            Assert.Equal(1, MediaTimer.For(time).Scheduled);
            time.Advance(TimeSpan.FromMilliseconds(20));
        }

        using (var extra = await ReadAsync(output))
        {
            Assert.Equal(0, extra.Samples[0]);
        }

        source.Writer.TryWrite(Tone());
        using (var back = await ReadAsync(output))
        {
            Assert.Equal(1000, back.Samples[0]); // the first real frame after a gap does not wait for the next tick
        }

        source.Writer.TryComplete();
        Assert.True(await output.Completion.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(t => t.IsCompletedSuccessfully));
    }

    [Fact]
    public void GapFilledStream_AllocatesNothingPerFrame_SilentOrNot()
    {
        // Driven on this thread: FakeTimeProvider runs the clock's tick inside Advance.
        var time = new FakeTimeProvider(T0);
        using var stream = new GapFilledStream(time, CancellationToken.None);
        var period = TimeSpan.FromMilliseconds(20);

        void Frames(int count)
        {
            for (var i = 0; i < count; i++)
            {
                // Real frames for 60 ms, then a gap of 100 ms plus one silence frame.
                for (var f = 0; f < 3; f++)
                {
                    stream.Write(AudioChunk.Rent(320, 16000));
                    Assert.True(stream.Reader.TryRead(out var real));
                    real.Dispose();
                    time.Advance(period);
                }

                time.Advance(TimeSpan.FromMilliseconds(100));
                Assert.True(stream.Reader.TryRead(out var silence), "no silence after the gap");
                Assert.True(silence.Samples.IndexOfAnyExcept((short)0) < 0);
                silence.Dispose();
                while (stream.Reader.TryRead(out var more))
                {
                    more.Dispose();
                }
            }
        }

        using var plain = time.CreateTimer(static _ => { }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        void FakeClockOnly(int count)
        {
            for (var i = 0; i < count; i++)
            {
                for (var f = 0; f < 3; f++)
                {
                    plain.Change(period, Timeout.InfiniteTimeSpan);
                    time.Advance(period);
                }

                plain.Change(period, Timeout.InfiniteTimeSpan);
                time.Advance(TimeSpan.FromMilliseconds(100));
            }
        }

        Frames(100);
        FakeClockOnly(100);
        const int n = 500;
        var before = GC.GetAllocatedBytesForCurrentThread();
        FakeClockOnly(n);
        var clock = GC.GetAllocatedBytesForCurrentThread() - before; // FakeTimeProvider's own cost of the same Changes and Advances
        before = GC.GetAllocatedBytesForCurrentThread();
        Frames(n);
        var perFrame = (GC.GetAllocatedBytesForCurrentThread() - before - clock) / (double)(n * 4);

        Assert.True(perFrame < 8, $"{perFrame:F1} bytes allocated per frame (real or silence)");
    }

    [Fact]
    public void GapFilledStream_SilenceKeepsItsOwnSchedule_AndStopsWhenCompleted()
    {
        var time = new FakeTimeProvider(T0);
        using var stop = new CancellationTokenSource();
        using var stream = new GapFilledStream(time, stop.Token);
        var period = TimeSpan.FromMilliseconds(20);
        time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.False(stream.Reader.TryRead(out _));
        time.Advance(TimeSpan.FromMilliseconds(1));
        var count = Drain(stream);
        Assert.Equal(1, count);
        time.Advance(period * 10); // one clock tick per period: ten more, none lost, none doubled
        for (var i = 0; i < 10; i++)
        {
            time.Advance(period);
            count += Drain(stream);
        }

        Assert.InRange(count, 11, 21);
        stop.Cancel();
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, Drain(stream));
        Assert.True(stream.Reader.Completion.IsCompleted);
    }

    private static int Drain(GapFilledStream stream)
    {
        var n = 0;
        while (stream.Reader.TryRead(out var chunk))
        {
            chunk.Dispose();
            n++;
        }

        return n;
    }

    private static AudioChunk Tone()
    {
        var chunk = AudioChunk.Rent(320, 16000);
        chunk.WritableSpan.Fill(1000);
        return chunk;
    }

    private static async Task<AudioChunk> ReadAsync(ChannelReader<AudioChunk> output)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        return await output.ReadAsync(timeout.Token);
    }

    private static async Task<bool> HasFrameSoonAsync(ChannelReader<AudioChunk> output)
    {
        await Task.Delay(100);
        if (output.TryRead(out var frame))
        {
            frame.Dispose();
            return true;
        }

        return false;
    }
}
