using System.Threading.Tasks.Sources;

namespace Parley.Media;

/// <summary>
/// A reusable, allocation-free delay driven by a <see cref="TimeProvider"/> timer: one <see cref="ITimer"/> per clock,
/// one outstanding wait at a time. Pacers await it once per 20 ms frame, so <c>Task.Delay</c> (a task and a timer per
/// call) is avoided on the hot path.
/// </summary>
internal sealed class FrameClock : IValueTaskSource, IDisposable
{
    private readonly ITimer _timer;
    private readonly CancellationTokenRegistration _registration;
    private ManualResetValueTaskSourceCore<bool> _core;
    private int _pending; // 1 while a wait is outstanding
    private volatile bool _cancelled;

    public FrameClock(TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        _core.RunContinuationsAsynchronously = true;
        _timer = timeProvider.CreateTimer(static state => ((FrameClock)state!).Complete(null), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _registration = cancellationToken.UnsafeRegister(static state => ((FrameClock)state!).Cancel(), this);
    }

    /// <summary>Waits <paramref name="delay"/>; completes at once when it is not positive. Throws OperationCanceledException once cancelled.</summary>
    public ValueTask DelayAsync(TimeSpan delay)
    {
        if (_cancelled)
        {
            return ValueTask.FromException(new OperationCanceledException());
        }

        if (delay <= TimeSpan.Zero)
        {
            return default;
        }

        _core.Reset();
        Volatile.Write(ref _pending, 1);
        _timer.Change(delay, Timeout.InfiniteTimeSpan);
        if (_cancelled)
        {
            Complete(new OperationCanceledException());
        }

        return new ValueTask(this, _core.Version);
    }

    private void Cancel()
    {
        _cancelled = true;
        Complete(new OperationCanceledException());
    }

    private void Complete(Exception? error)
    {
        if (Interlocked.Exchange(ref _pending, 0) != 1)
        {
            return;
        }

        if (error is null)
        {
            _core.SetResult(true);
        }
        else
        {
            _core.SetException(error);
        }
    }

    public void GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void Dispose()
    {
        _registration.Dispose();
        _timer.Dispose();
    }
}
