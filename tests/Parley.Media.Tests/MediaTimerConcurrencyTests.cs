using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;

namespace Parley.Media.Tests;

/// <summary>
/// The shared clock under concurrent re-arming: waits armed from many threads while another thread steps the fake clock
/// (no waiting for the arms), so arms land before, during and after ticks. A lost wake-up (an entry live in the queue
/// while the underlying timer is set later than it, or not at all) or a deadlock between a wait's lock and the clock's
/// would leave a waiter that no later step ends.
/// </summary>
public sealed class MediaTimerConcurrencyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task WaitsArmedFromManyThreadsWhileTheClockSteps_AllEnd_NoneIsLost()
    {
        var time = new FakeTimeProvider(T0);
        var clock = MediaTimer.For(time);
        using var stop = new CancellationTokenSource();
        const int Waiters = 6;
        var ends = new long[Waiters];
        var armed = 0;

        // Pacer-like waits (the frame clock's source) of 1..25 ms, plus zero-delay entries re-armed from other threads:
        // a zero delay makes the fake clock fire the underlying timer at once, on the arming thread.
        var waiters = Enumerable.Range(0, Waiters).Select(i => Task.Run(async () =>
        {
            using var source = new ReusableTimerSource<bool>(time, true, runContinuationsAsynchronously: i % 2 == 0, CancellationToken.None);
            var delay = 1 + (i * 7 % 25);
            var first = true;
            while (!stop.IsCancellationRequested)
            {
                var wait = source.WaitAsync(TimeSpan.FromMilliseconds(delay));
                if (first)
                {
                    first = false;
                    Interlocked.Increment(ref armed);
                }

                await wait;
                Interlocked.Increment(ref ends[i]);
                delay = 1 + ((delay * 13) % 25);
            }
        })).ToArray();
        var zeroFired = 0L;
        var hammers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            using var entry = clock.CreateTimer(static s => Interlocked.Increment(ref ((StrongBox<long>)s!).Value), new StrongBox<long>(), Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            while (!stop.IsCancellationRequested)
            {
                entry.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan);
                Interlocked.Increment(ref zeroFired);
            }
        })).ToArray();

        // Once every waiter armed its first wait and both hammers run, the clock steps 1 ms at a time for 2 s of fake
        // time, never waiting for the arms.
        var started = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Volatile.Read(ref armed) < Waiters || Interlocked.Read(ref zeroFired) < 2)
        {
            Assert.True(DateTime.UtcNow < started, $"workers not started in 10 s ({armed} armed)");
            await Task.Yield();
        }

        await Task.Run(() =>
        {
            for (var i = 0; i < 2000; i++)
            {
                time.Advance(TimeSpan.FromMilliseconds(1));
            }
        }).WaitAsync(TimeSpan.FromSeconds(30));

        // Then every waiter must still be woken by later steps: each one that armed ends within 25 ms of fake time.
        await stop.CancelAsync();
        await Task.WhenAll(hammers).WaitAsync(TimeSpan.FromSeconds(30));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!waiters.All(w => w.IsCompleted))
        {
            Assert.True(DateTime.UtcNow < deadline, $"waiters stuck: ends {string.Join(",", ends)}, scheduled {clock.Scheduled}, ticks {clock.Ticks}");
            time.Advance(TimeSpan.FromMilliseconds(25));
            await Task.Yield();
        }

        await Task.WhenAll(waiters);
        Assert.All(ends, e => Assert.True(e > 0, $"ends {string.Join(",", ends)}"));
    }
}
