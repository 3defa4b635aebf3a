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
    public void ManyFlowingStreams_CheckTheirGapsOnASharedGrid_SoTheClockTicksAtMostOncePer10ms()
    {
        // 50 streams whose frames come every 20 ms, each at its own phase (0.4 ms apart), for one second of fake time.
        // Each stream checks for a gap about ten times a second; at their own phases the shared clock ticked 188 times
        // in this second (its 1 ms slack merges a few). On the 10 ms grid the checks of all streams coincide: at most 100.
        var time = new FakeTimeProvider(T0);
        var clock = MediaTimer.For(time);
        var streams = Enumerable.Range(0, 50).Select(_ => new GapFilledStream(time, CancellationToken.None)).ToArray();
        var step = TimeSpan.FromMilliseconds(0.4);
        var ticksBefore = clock.Ticks;
        for (var k = 0; k < 2500; k++) // 1 s in 0.4 ms steps: stream k % 50 sends its frame at each step
        {
            var stream = streams[k % streams.Length];
            stream.Write(AudioChunk.Rent(320, 16000));
            Assert.True(stream.Reader.TryRead(out var real));
            real.Dispose();
            time.Advance(step);
        }

        var ticks = clock.Ticks - ticksBefore;
        Assert.InRange(ticks, 1, 101);
        Assert.All(streams, s => Assert.False(s.Reader.TryRead(out _), "silence while frames flow"));

        // When the frames stop, every stream still fills its gap: silence within 100 ms plus one grid step.
        time.Advance(TimeSpan.FromMilliseconds(110));
        Assert.All(streams, s =>
        {
            Assert.True(s.Reader.TryRead(out var silence), "no silence after the gap");
            Assert.True(silence.Samples.IndexOfAnyExcept((short)0) < 0);
            silence.Dispose();
        });

        foreach (var stream in streams)
        {
            stream.Dispose();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ReaderInline_AWaitingReaderGoesOnOnTheWritersThread_ButNeverOnTheClocksTick(bool inline)
    {
        var time = new FakeTimeProvider(T0);
        using var stream = new GapFilledStream(time, CancellationToken.None, readerInline: inline);
        var writer = Environment.CurrentManagedThreadId;

        // A real frame: with readerInline the reader's continuation has run, on this thread, before Write returns.
        var ranOn = 0;
        var wait = stream.Reader.WaitToReadAsync();
        Assert.False(wait.IsCompleted);
        _ = wait.AsTask().ContinueWith(_ => Volatile.Write(ref ranOn, Environment.CurrentManagedThreadId), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        stream.Write(Tone());
        if (inline)
        {
            Assert.Equal(writer, Volatile.Read(ref ranOn));
        }
        else
        {
            Assert.NotEqual(writer, Volatile.Read(ref ranOn)); // not yet, or on the pool
        }

        Assert.Equal(1, Drain(stream));

        // A gap's silence: the tick (run here, inside Advance) never runs the reader; with readerInline the silence is
        // written from the pool, and the reader goes on there.
        var silenceOn = 0;
        var next = stream.Reader.WaitToReadAsync();
        Assert.False(next.IsCompleted);
        _ = next.AsTask().ContinueWith(_ => Volatile.Write(ref silenceOn, Environment.CurrentManagedThreadId), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        time.Advance(TimeSpan.FromMilliseconds(110));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Volatile.Read(ref silenceOn) == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "no silence after the gap");
            Thread.Yield();
        }

        if (inline)
        {
            Assert.NotEqual(writer, silenceOn);
        }

        Assert.True(stream.Reader.TryRead(out var silence));
        Assert.True(silence.Samples.IndexOfAnyExcept((short)0) < 0);
        silence.Dispose();
    }

    [Fact]
    public void ReaderInline_SilenceKeepsItsSchedule_AndStopsWhileFramesFlow()
    {
        var time = new FakeTimeProvider(T0);
        using var stream = new GapFilledStream(time, CancellationToken.None, readerInline: true);
        var period = TimeSpan.FromMilliseconds(20);

        int Gap(int periods)
        {
            var n = 0;
            for (var i = 0; i < periods; i++)
            {
                time.Advance(period);
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
                while (stream.SilencePending != 0)
                {
                    Assert.True(DateTime.UtcNow < deadline, "silence queued to the pool was never written");
                    Thread.Yield();
                }

                n += Drain(stream);
            }

            return n;
        }

        // 100 ms of gap, then one silence frame per 20 ms: none lost, none doubled.
        Assert.Equal(0, Gap(4));
        Assert.Equal(20, Gap(20));

        // A real frame ends the gap: it passes at once, and no silence follows while frames flow.
        stream.Write(Tone());
        Assert.True(stream.Reader.TryRead(out var real));
        Assert.Equal(1000, real.Samples[0]);
        real.Dispose();
        for (var i = 0; i < 20; i++)
        {
            stream.Write(Tone());
            Assert.Equal(1, Drain(stream));
            time.Advance(period);
        }

        Assert.Equal(0, stream.SilencePending);
        Assert.Equal(0, Drain(stream));
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
