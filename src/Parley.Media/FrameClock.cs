namespace Parley.Media;

/// <summary>
/// A reusable, allocation-free delay driven by a <see cref="TimeProvider"/> timer: one <see cref="ITimer"/> per clock,
/// one outstanding wait at a time (a <see cref="ReusableTimerSource{TResult}"/>). Pacers await it once per 20 ms frame,
/// so <c>Task.Delay</c> (a task and a timer per call) is avoided on the hot path. Continuations run on the thread pool,
/// not on the timer's thread.
/// </summary>
internal sealed class FrameClock : IDisposable
{
    private readonly TimeProvider _time;
    private readonly ReusableTimerSource<bool> _timer;

    public FrameClock(TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        _time = timeProvider;
        _timer = new ReusableTimerSource<bool>(timeProvider, dueResult: true, runContinuationsAsynchronously: true, cancellationToken);
    }

    /// <summary>Waits <paramref name="delay"/>; completes at once when it is not positive. Throws OperationCanceledException once cancelled.</summary>
    public ValueTask DelayAsync(TimeSpan delay)
    {
        if (_timer.IsCancelled)
        {
            return ValueTask.FromException(new OperationCanceledException());
        }

        return delay <= TimeSpan.Zero ? default : _timer.DelayAsync(delay);
    }

    /// <summary>
    /// Waits until the provider's timestamp <paramref name="dueTimestamp"/> (a pacer's absolute schedule): completes at
    /// once when it has passed, and the time between computing it and arming the wait does not move it.
    /// </summary>
    public ValueTask DelayUntilAsync(long dueTimestamp)
    {
        if (_timer.IsCancelled)
        {
            return ValueTask.FromException(new OperationCanceledException());
        }

        return dueTimestamp <= _time.GetTimestamp() ? default : _timer.DelayUntilAsync(dueTimestamp);
    }

    public void Dispose() => _timer.Dispose();
}
