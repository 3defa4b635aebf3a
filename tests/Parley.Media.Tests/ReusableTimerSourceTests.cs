using Microsoft.Extensions.Time.Testing;

namespace Parley.Media.Tests;

public sealed class ReusableTimerSourceTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Fact]
    public async Task Wait_EndsWithTheDueResult_OnlyOnceItsDelayHasPassed()
    {
        var time = new FakeTimeProvider(T0);
        using var source = new ReusableTimerSource<int>(time, 7, runContinuationsAsynchronously: false, CancellationToken.None);

        var wait = source.WaitAsync(100 * Ms);
        time.Advance(99 * Ms);
        Assert.False(wait.IsCompleted);
        time.Advance(Ms);
        Assert.True(wait.IsCompleted);
        Assert.Equal(7, await wait);
        Assert.False(source.TryClaim()); // the timer ended it: nothing left to claim
    }

    [Fact]
    public async Task DeadlineWait_ArmedAfterTheClockPassedIt_EndsAtOnce_WhereADelayWouldCountFromTheLaterClock()
    {
        // A pacer computes its next frame's deadline, and the clock steps before it arms the wait (a fake clock's Advance
        // on the test's thread, or the pacer preempted): the frame must still be due at its deadline, not a step later.
        var time = new FakeTimeProvider(T0);
        using var source = new ReusableTimerSource<int>(time, 7, runContinuationsAsynchronously: false, CancellationToken.None);
        var deadline = time.GetTimestamp() + (20 * Ms).Ticks;
        time.Advance(20 * Ms);
        var atDeadline = source.DelayUntilAsync(deadline);
        Assert.True(atDeadline.IsCompleted);
        await atDeadline;

        // The same clock step between computing and arming a relative delay puts the wait a whole step later.
        var computed = 20 * Ms; // "the next frame is 20 ms from now", computed before the step
        time.Advance(20 * Ms);
        var delayed = source.DelayAsync(computed);
        Assert.False(delayed.IsCompleted);
        time.Advance(20 * Ms);
        Assert.True(delayed.IsCompleted);
        await delayed;

        // A deadline still ahead waits for it, to the tick.
        var next = time.GetTimestamp() + (20 * Ms).Ticks;
        time.Advance(5 * Ms);
        var ahead = source.DelayUntilAsync(next);
        time.Advance(14 * Ms);
        Assert.False(ahead.IsCompleted);
        time.Advance(Ms);
        Assert.True(ahead.IsCompleted);
        await ahead;
        Assert.Equal(0, MediaTimer.For(time).Scheduled);
    }

    [Fact]
    public async Task ClaimedWait_EndsWithTheOwnersResult_AndItsLeftoverTickDoesNotEndTheNextWaitEarly()
    {
        var time = new FakeTimeProvider(T0);
        using var source = new ReusableTimerSource<int>(time, 7, runContinuationsAsynchronously: false, CancellationToken.None);

        var first = source.WaitAsync(100 * Ms);
        time.Advance(10 * Ms);
        Assert.True(source.TryClaim());
        source.Complete(1);
        Assert.Equal(1, await first);

        // The first wait's tick is still scheduled for t = 100 ms; the next wait lasts until t = 110 ms.
        var second = source.WaitAsync(100 * Ms);
        time.Advance(90 * Ms);
        Assert.False(second.IsCompleted);
        time.Advance(9 * Ms);
        Assert.False(second.IsCompleted);
        time.Advance(Ms);
        Assert.True(second.IsCompleted);
        Assert.Equal(7, await second);
    }

    [Fact]
    public async Task WaitsEndedEarlyOneAfterAnother_ChangeTheTimerAboutOncePerDelay_NotOncePerWait()
    {
        var time = new CountingTimeProvider(new FakeTimeProvider(T0));
        using var source = new ReusableTimerSource<int>(time, 7, runContinuationsAsynchronously: false, CancellationToken.None);

        // A flowing stream: a 100 ms gap wait that a frame ends after 20 ms, 50 times (1 s).
        for (var i = 0; i < 50; i++)
        {
            var wait = source.WaitAsync(100 * Ms);
            time.Inner.Advance(20 * Ms);
            Assert.False(wait.IsCompleted);
            Assert.True(source.TryClaim());
            source.Complete(1);
            Assert.Equal(1, await wait);
        }

        // The first arm, then one re-arm per leftover tick: each re-arms for the rest of the wait in progress (80 ms),
        // so 1 + 12 over the second, where re-arming for every wait would be 50.
        Assert.InRange(time.Changes, 1, 13);
    }

    [Theory]
    [InlineData(0.5, 1)] // timer granularity (a fractional delay truncated to whole ms): accepted, no second change
    [InlineData(5.0, 2)] // far too early: re-armed for the rest
    public void TickForTheWaitsOwnDeadline_EndsItAtTheDeadline_OrUpToAMillisecondBefore(double earlyMs, int changes)
    {
        var time = new CountingTimeProvider(new FakeTimeProvider(T0)) { FireEarly = TimeSpan.FromMilliseconds(earlyMs) };
        using var source = new ReusableTimerSource<int>(time, 7, runContinuationsAsynchronously: false, CancellationToken.None);

        var wait = source.WaitAsync(20 * Ms);
        time.Inner.Advance(20 * Ms - time.FireEarly);
        Assert.Equal(changes == 1, wait.IsCompleted);
        time.Inner.Advance(time.FireEarly);
        Assert.True(wait.IsCompleted);
        Assert.Equal(changes, time.Changes);
    }

    [Fact]
    public async Task Cancellation_FailsTheOutstandingWait_AndEveryLaterOne()
    {
        var time = new FakeTimeProvider(T0);
        using var cancel = new CancellationTokenSource();
        using var source = new ReusableTimerSource<int>(time, 7, runContinuationsAsynchronously: false, cancel.Token);

        var wait = source.WaitAsync(100 * Ms);
        cancel.Cancel();
        Assert.True(source.IsCancelled);
        Assert.True(wait.IsCompleted);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await wait);
        Assert.False(source.TryClaim());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await source.WaitAsync(100 * Ms));
    }

    [Fact]
    public void FrameClockDelay_AllocatesNothingPerFrame()
    {
        // Driven on this thread: FakeTimeProvider runs the timer callback inside Advance.
        var time = new FakeTimeProvider(T0);
        using var clock = new FrameClock(time, CancellationToken.None);
        using var plain = time.CreateTimer(static _ => { }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        var period = TimeSpan.FromMilliseconds(20);

        void Frames(int count)
        {
            for (var i = 0; i < count; i++)
            {
                var delay = clock.DelayAsync(period);
                Assert.False(delay.IsCompleted);
                time.Advance(period);
                Assert.True(delay.IsCompleted);
                delay.GetAwaiter().GetResult();
            }
        }

        void FakeClockOnly(int count)
        {
            for (var i = 0; i < count; i++)
            {
                plain.Change(period, Timeout.InfiniteTimeSpan);
                time.Advance(period);
            }
        }

        Frames(50);
        FakeClockOnly(50);
        const int n = 500;
        var before = GC.GetAllocatedBytesForCurrentThread();
        FakeClockOnly(n);
        var fakeClock = GC.GetAllocatedBytesForCurrentThread() - before; // FakeTimeProvider's own cost of the same Change and Advance
        before = GC.GetAllocatedBytesForCurrentThread();
        Frames(n);
        var perFrame = (GC.GetAllocatedBytesForCurrentThread() - before - fakeClock) / (double)n;

        Assert.True(perFrame < 8, $"{perFrame:F0} bytes allocated per frame beyond the fake clock's own"); // Task.Delay: ~200 B
    }

    /// <summary>
    /// A <see cref="FakeTimeProvider"/> whose timers count their <see cref="ITimer.Change"/> calls and fire
    /// <see cref="FireEarly"/> before the time asked for (as real timers do for fractional milliseconds), except for
    /// delays shorter than twice that.
    /// </summary>
    private sealed class CountingTimeProvider(FakeTimeProvider inner) : TimeProvider
    {
        public FakeTimeProvider Inner { get; } = inner;

        public int Changes { get; private set; }

        public TimeSpan FireEarly { get; init; }

        public override long TimestampFrequency => Inner.TimestampFrequency;

        public override long GetTimestamp() => Inner.GetTimestamp();

        public override DateTimeOffset GetUtcNow() => Inner.GetUtcNow();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            new CountingTimer(this, Inner.CreateTimer(callback, state, dueTime, period));

        private sealed class CountingTimer(CountingTimeProvider owner, ITimer timer) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                owner.Changes++;
                return timer.Change(dueTime > 2 * owner.FireEarly ? dueTime - owner.FireEarly : dueTime, period); // short ones on time
            }

            public void Dispose() => timer.Dispose();

            public ValueTask DisposeAsync() => timer.DisposeAsync();
        }
    }
}
