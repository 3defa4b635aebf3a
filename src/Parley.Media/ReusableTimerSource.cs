using System.Threading.Tasks.Sources;

namespace Parley.Media;

/// <summary>
/// A reusable, allocation-free timed wait over a <see cref="TimeProvider"/>: one entry on the shared
/// <see cref="MediaTimer"/> of that provider (one clock for all streams, not a timer each), one
/// <see cref="ManualResetValueTaskSourceCore{TResult}"/> and one cancellation registration for its whole life, one
/// outstanding wait at a time. A wait ends with the due result once its delay has passed, with an
/// <see cref="OperationCanceledException"/> once the token is cancelled, or earlier when its owner saw something else
/// first (<see cref="TryClaim"/>, then <see cref="Complete"/> or <see cref="Fail"/>). <see cref="FrameClock"/> (the
/// pacer's delay) is built on it; the gap filler uses a plain entry of the shared clock (<see cref="GapFilledStream"/>).
/// </summary>
/// <remarks>
/// A wait that ends early leaves its tick scheduled, and a later wait whose deadline is after that tick does not touch
/// the timer (each change is a queue item on the shared clock): the stale tick re-arms for the rest of the delay instead. A tick for the wait's own deadline ends it,
/// even up to <see cref="TimerResolution"/> before the deadline by the provider's timestamp: timers count whole
/// milliseconds, so a fractional delay often fires that early, and checking again would cost a second timer change.
/// </remarks>
internal sealed class ReusableTimerSource<TResult> : IValueTaskSource<TResult>, IValueTaskSource, IDisposable
{
    /// <summary>How early a tick for the wait's own deadline may fire and still end it (timers count whole milliseconds).</summary>
    public static readonly TimeSpan TimerResolution = TimeSpan.FromMilliseconds(1);

    private readonly TimeProvider _time;
    private readonly TResult _dueResult;
    private readonly long _resolution;
    private readonly ITimer _timer;
    private readonly CancellationTokenRegistration _registration;
    private readonly Lock _gate = new();
    private ManualResetValueTaskSourceCore<TResult> _core;
    private long _deadline;
    private long _timerDue = long.MaxValue; // the deadline the scheduled tick was set for; MaxValue when none is scheduled
    private bool _armed; // a wait is outstanding; whoever clears it (under the gate) completes the wait
    private volatile bool _cancelled;

    /// <param name="runContinuationsAsynchronously">
    /// False runs the awaiter's continuation inline on the timer's (or the claimer's) thread; true queues it to the
    /// thread pool, as an async method's continuation, without allocating.
    /// </param>
    public ReusableTimerSource(TimeProvider time, TResult dueResult, bool runContinuationsAsynchronously, CancellationToken cancellationToken)
    {
        _time = time;
        _dueResult = dueResult;
        _resolution = (long)(TimerResolution.TotalSeconds * time.TimestampFrequency);
        _core.RunContinuationsAsynchronously = runContinuationsAsynchronously;
        _timer = MediaTimer.For(time).CreateTimer(static state => ((ReusableTimerSource<TResult>)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _registration = cancellationToken.UnsafeRegister(static state => ((ReusableTimerSource<TResult>)state!).OnCancelled(), this);
    }

    /// <summary>True once the token was cancelled: every later wait fails at once.</summary>
    public bool IsCancelled => _cancelled;

    /// <summary>Waits <paramref name="delay"/> (positive); ends with the due result unless the owner completes it first.</summary>
    public ValueTask<TResult> WaitAsync(TimeSpan delay) =>
        TryArm(delay, out var token) ? new ValueTask<TResult>(this, token) : ValueTask.FromException<TResult>(new OperationCanceledException());

    /// <summary><see cref="WaitAsync"/> without its result.</summary>
    public ValueTask DelayAsync(TimeSpan delay) =>
        TryArm(delay, out var token) ? new ValueTask(this, token) : ValueTask.FromException(new OperationCanceledException());

    /// <summary>
    /// Waits until the provider's timestamp <paramref name="deadline"/>: a deadline computed before arming stays that
    /// deadline however late the wait is armed (one already passed ends at the next tick, at once on a fake clock).
    /// </summary>
    public ValueTask DelayUntilAsync(long deadline) =>
        TryArmAt(deadline, out var token) ? new ValueTask(this, token) : ValueTask.FromException(new OperationCanceledException());

    /// <summary>
    /// Takes the outstanding wait from the timer and the token: true when it was outstanding, and the caller must then
    /// end it with <see cref="Complete"/> or <see cref="Fail"/>; false when it had already ended (or none was started).
    /// </summary>
    public bool TryClaim()
    {
        lock (_gate)
        {
            if (!_armed)
            {
                return false;
            }

            _armed = false; // the timer stays scheduled: its tick finds nothing armed, or re-arms for the next wait
            return true;
        }
    }

    /// <summary>Ends a wait taken with <see cref="TryClaim"/>.</summary>
    public void Complete(TResult result) => _core.SetResult(result);

    /// <summary>Ends a wait taken with <see cref="TryClaim"/> with an error.</summary>
    public void Fail(Exception error) => _core.SetException(error);

    public TResult GetResult(short token) => _core.GetResult(token);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void Dispose()
    {
        _registration.Dispose();
        _timer.Dispose();
    }

    private bool TryArm(TimeSpan delay, out short token) =>
        TryArmAt(_time.GetTimestamp() + (long)(delay.TotalSeconds * _time.TimestampFrequency), out token);

    private bool TryArmAt(long deadline, out short token)
    {
        lock (_gate)
        {
            if (_cancelled)
            {
                token = 0;
                return false;
            }

            _core.Reset();
            token = _core.Version;
            _deadline = deadline;
            _armed = true;

            // A tick already due before this deadline is left alone: it re-arms itself for the rest (OnTimer). The entry is
            // armed for the deadline itself, not for a delay from a later clock reading.
            if (_timerDue > _deadline)
            {
                _timerDue = _deadline;
                MediaTimer.ChangeAt(_timer, _deadline);
            }

            return true;
        }
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            var scheduledFor = _timerDue;
            _timerDue = long.MaxValue;
            if (!_armed)
            {
                return;
            }

            // A tick left by an earlier wait (or one far too early) must not end this wait before its delay.
            var rest = _deadline - _time.GetTimestamp();
            if (rest > 0 && (scheduledFor < _deadline || rest > _resolution))
            {
                _timerDue = _deadline;
                MediaTimer.ChangeAt(_timer, _deadline);
                return;
            }

            _armed = false;
        }

        _core.SetResult(_dueResult);
    }

    private void OnCancelled()
    {
        lock (_gate)
        {
            _cancelled = true;
            if (!_armed)
            {
                return;
            }

            _armed = false;
        }

        _core.SetException(new OperationCanceledException());
    }
}
