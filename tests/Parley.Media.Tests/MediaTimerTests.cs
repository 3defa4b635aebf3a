using Microsoft.Extensions.Time.Testing;

namespace Parley.Media.Tests;

/// <summary>The one clock for all streams: many pacers on one timer, on a fake clock.</summary>
public sealed class MediaTimerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Frame = TimeSpan.FromMilliseconds(20);

    [Fact]
    public void Entries_FireAtTheirDeadlines_InOrder_ChangedAndDisposedOnesDoNot()
    {
        var time = new FakeTimeProvider(T0);
        var clock = new MediaTimer(time);
        var fired = new List<string>();
        using var a = clock.CreateTimer(_ => fired.Add("a"), null, TimeSpan.FromMilliseconds(30), Timeout.InfiniteTimeSpan);
        using var b = clock.CreateTimer(_ => fired.Add("b"), null, TimeSpan.FromMilliseconds(10), Timeout.InfiniteTimeSpan);
        var c = clock.CreateTimer(_ => fired.Add("c"), null, TimeSpan.FromMilliseconds(20), Timeout.InfiniteTimeSpan);
        using var d = clock.CreateTimer(_ => fired.Add("d"), null, TimeSpan.FromMilliseconds(15), Timeout.InfiniteTimeSpan);
        c.Dispose();
        d.Change(TimeSpan.FromMilliseconds(40), Timeout.InfiniteTimeSpan); // re-armed: its first deadline is stale
        Assert.Equal(3, clock.Scheduled);

        time.Advance(TimeSpan.FromMilliseconds(9));
        Assert.Empty(fired);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(["b"], fired);
        time.Advance(TimeSpan.FromMilliseconds(10)); // c's and d's old deadlines pass: nothing
        Assert.Equal(["b"], fired);
        time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(["b", "a"], fired);
        time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(["b", "a", "d"], fired);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(["b", "a", "d"], fired);
        Assert.Equal(0, clock.Scheduled);
    }

    [Fact]
    public void PeriodicEntry_RepeatsUntilDisposed_ACallbackThatThrowsDoesNotStopOthers()
    {
        var time = new FakeTimeProvider(T0);
        var clock = new MediaTimer(time);
        var ticks = 0;
        var periodic = clock.CreateTimer(_ => ticks++, null, Frame, Frame);
        using var bad = clock.CreateTimer(_ => throw new InvalidOperationException("boom"), null, Frame, Frame);
        for (var i = 0; i < 5; i++)
        {
            time.Advance(Frame);
        }

        Assert.Equal(5, ticks);
        periodic.Dispose();
        time.Advance(Frame * 3);
        Assert.Equal(5, ticks);
    }

    [Fact]
    public void TwoHundredEntriesDueTogether_TakeOneTickOfTheUnderlyingTimer()
    {
        var time = new FakeTimeProvider(T0);
        var clock = new MediaTimer(time);
        var fired = 0;
        var timers = Enumerable.Range(0, 200).Select(i => clock.CreateTimer(_ => fired++, null, Frame + TimeSpan.FromMicroseconds(i * 4), Frame)).ToList();
        for (var i = 0; i < 10; i++)
        {
            time.Advance(Frame + TimeSpan.FromMilliseconds(1));
        }

        Assert.Equal(2000, fired);
        Assert.Equal(10, clock.Ticks); // within the 1 ms slack: one tick ends all 200
        timers.ForEach(t => t.Dispose());
    }

    [Fact]
    public async Task ManyStreamsOnOneClock_Keep20msPacing_ARemovedOneStops_ASlowOneDelaysNoOther()
    {
        var time = new FakeTimeProvider(T0);
        var clock = MediaTimer.For(time);
        Assert.Same(clock, MediaTimer.For(time));
        const int streams = 50;
        var counts = new int[streams];
        var stops = Enumerable.Range(0, streams).Select(_ => new CancellationTokenSource()).ToArray();
        using var slowGate = new ManualResetEventSlim(false);
        var slowEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pacers = Enumerable.Range(0, streams).Select(i => Task.Run(async () =>
        {
            using var frames = new FrameClock(time, stops[i].Token);
            var start = time.GetTimestamp();
            for (long index = 1; ; index++)
            {
                var due = (Frame * index) - time.GetElapsedTime(start);
                try
                {
                    await frames.DelayAsync(due);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Interlocked.Increment(ref counts[i]);
                if (i == 0 && index == 3)
                {
                    slowEntered.TrySetResult();
                    slowGate.Wait(TimeSpan.FromSeconds(30)); // stream 0 is stuck in its own work
                }
            }
        })).ToArray();

        async Task TickAsync(int expectedWaiting)
        {
            await WaitUntilAsync(() => clock.Scheduled == expectedWaiting);
            time.Advance(Frame);
        }

        // Every stream gets exactly one frame per 20 ms.
        for (var tick = 1; tick <= 3; tick++)
        {
            await TickAsync(streams);
            var t = tick;
            await WaitUntilAsync(() => counts.All(c => c == t));
        }

        // Stream 0 is now stuck after its third frame; stream 7 is removed. The other 48 keep their pace.
        await slowEntered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await stops[7].CancelAsync();
        for (var tick = 4; tick <= 10; tick++)
        {
            await TickAsync(streams - 2);
            var t = tick;
            await WaitUntilAsync(() => counts.Where((_, i) => i is not 0 and not 7).All(c => c == t));
        }

        Assert.Equal(3, counts[0]);
        Assert.Equal(3, counts[7]);
        Assert.Equal(10, counts[10]);

        // The slow stream resumes on its own schedule (its missed slots are due at once).
        slowGate.Set();
        await WaitUntilAsync(() => Volatile.Read(ref counts[0]) == 10);
        foreach (var stop in stops)
        {
            await stop.CancelAsync();
        }

        await Task.WhenAll(pacers).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, clock.Scheduled);
        Assert.True(clock.Ticks <= 12, $"{clock.Ticks} ticks of the one timer for 10 frame periods of 50 streams");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition was not reached in 10 s");
            await Task.Yield();
        }
    }
}
