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

        await Task.Delay(100); // let the pump arm its gap timer
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

            await Task.Delay(20);
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
    public void FrameOrGapWait_AllocatesNothingPerFrame_SilentOrNot()
    {
        // Driven on this thread: FakeTimeProvider runs the timer callback inside Advance.
        var time = new FakeTimeProvider(T0);
        var source = Channel.CreateBounded<AudioChunk>(new BoundedChannelOptions(25) { SingleReader = true });
        using var wait = new GapFiller.FrameOrGap(source.Reader, time, CancellationToken.None);
        using var plain = time.CreateTimer(static _ => { }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        var period = TimeSpan.FromMilliseconds(20);

        void Frames(int count)
        {
            for (var i = 0; i < count; i++)
            {
                var gap = wait.WaitAsync(period);
                Assert.False(gap.IsCompleted);
                time.Advance(period);
                Assert.True(gap.IsCompleted);
                Assert.True(gap.Result == GapFiller.FrameOrGap.Outcome.Gap); // (Assert.Equal allocates)

                source.Writer.TryWrite(AudioChunk.Rent(320, 16000));
                var frames = wait.WaitAsync(period);
                var spins = 0;
                while (!frames.IsCompleted)
                {
                    Assert.True(++spins < 10_000_000, "the frame was not seen");
                    Thread.Yield(); // the channel signals readers from the thread pool
                }

                Assert.True(frames.Result == GapFiller.FrameOrGap.Outcome.Frames);
                Assert.True(source.Reader.TryRead(out var chunk));
                chunk.Dispose();
            }
        }

        void FakeClockOnly(int count)
        {
            for (var i = 0; i < count; i++)
            {
                plain.Change(period, Timeout.InfiniteTimeSpan); // as the gap wait arms
                time.Advance(period);
                plain.Change(period, Timeout.InfiniteTimeSpan); // as the frame wait arms before the frame is seen
            }
        }

        Frames(50);
        FakeClockOnly(50);
        const int n = 500;
        var before = GC.GetAllocatedBytesForCurrentThread();
        FakeClockOnly(n);
        var clock = GC.GetAllocatedBytesForCurrentThread() - before; // FakeTimeProvider's own cost of the same Changes and Advance
        before = GC.GetAllocatedBytesForCurrentThread();
        Frames(n);
        var perFrame = (GC.GetAllocatedBytesForCurrentThread() - before - clock) / (double)n;

        // A timer, a CancellationTokenSource and a linked one per wait were several hundred bytes.
        Assert.True(perFrame < 8, $"{perFrame:F0} bytes allocated per gap + frame beyond the fake clock's own");
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
