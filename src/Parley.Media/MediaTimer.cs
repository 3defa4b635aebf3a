using System.Runtime.CompilerServices;

namespace Parley.Media;

/// <summary>
/// One clock for all streams: the pacing, gap-filling and timeout waits of every stream of a process share one
/// <see cref="ITimer"/> of their <see cref="TimeProvider"/> (<see cref="For"/>). Each wait is an entry
/// (<see cref="CreateTimer"/>, an <see cref="ITimer"/> itself) in one deadline-ordered queue; the underlying timer is
/// set to the earliest deadline only, and one tick ends every entry due within <see cref="Slack"/> of it, so 100
/// streams at 50 frames/s cost one timer and at most about one wake-up per millisecond instead of a timer (and a
/// timer-queue change under the runtime's lock) per stream and frame.
/// </summary>
/// <remarks>
/// Entries' callbacks run on the tick's thread one after another, so they must be short and never block: the waits
/// built on it (<see cref="ReusableTimerSource{TResult}"/>) only complete a value-task source, whose continuation (the
/// stream's own work) runs on the thread pool; a slow stream therefore never delays another's tick. A callback that
/// throws is dropped and does not stop the others. Re-arming an entry pushes a new queue item and leaves the old one
/// stale (skipped when it comes up): nothing is allocated per wait beyond the queue's amortised growth.
/// Tests drive it with a fake <see cref="TimeProvider"/> like any timer.
/// </remarks>
public sealed class MediaTimer
{
    /// <summary>How early an entry may fire to share a tick with an earlier one (timers count whole milliseconds anyway).</summary>
    public static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(1);

    private static readonly ConditionalWeakTable<TimeProvider, MediaTimer> Shared = [];

    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly long _slack;
    private readonly Lock _gate = new();
    private readonly PriorityQueue<Entry, long> _queue = new();
    private readonly List<(Entry Entry, long Version)> _due = [];
    private long _timerDue = long.MaxValue; // the deadline the underlying timer is set for; MaxValue = not set
    private bool _firing;

    /// <summary>A clock of its own (tests); servers use <see cref="For"/>.</summary>
    public MediaTimer(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _slack = (long)(Slack.TotalSeconds * time.TimestampFrequency);
        _timer = time.CreateTimer(static s => ((MediaTimer)s!).OnTick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The one shared clock of <paramref name="time"/>.</summary>
    public static MediaTimer For(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        return Shared.GetValue(time, static t => new MediaTimer(t));
    }

    /// <summary>The time provider whose clock this is.</summary>
    public TimeProvider TimeProvider => _time;

    /// <summary>Entries waiting (stale queue items not counted).</summary>
    public int Scheduled
    {
        get
        {
            lock (_gate)
            {
                var n = 0;
                foreach (var (entry, due) in _queue.UnorderedItems)
                {
                    if (entry.Due == due)
                    {
                        n++;
                    }
                }

                return n;
            }
        }
    }

    /// <summary>Ticks of the underlying timer so far (each ends every entry then due).</summary>
    public long Ticks { get; private set; }

    /// <summary>
    /// A timer on this clock, as <see cref="TimeProvider.CreateTimer"/>: <paramref name="callback"/> runs on the clock's
    /// tick (keep it short, never block). <see cref="ITimer.Change"/> re-arms it without touching the underlying timer
    /// unless it becomes the earliest deadline.
    /// </summary>
    public ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var entry = new Entry(this, callback, state);
        entry.Change(dueTime, period);
        return entry;
    }

    /// <summary>
    /// Re-arms <paramref name="timer"/> (made by <see cref="CreateTimer"/>, one-shot) for the provider's timestamp
    /// <paramref name="dueTimestamp"/>: a deadline computed earlier stays that deadline however late it is armed (one
    /// already passed fires at once), where a relative <see cref="ITimer.Change"/> would count from the clock at arming.
    /// </summary>
    internal static bool ChangeAt(ITimer timer, long dueTimestamp) => ((Entry)timer).ChangeAt(dueTimestamp);

    private void Schedule(Entry entry, TimeSpan dueTime, TimeSpan period)
    {
        lock (_gate)
        {
            if (entry.Disposed)
            {
                return;
            }

            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                entry.Period = period;
                entry.Version++;
                entry.Due = long.MaxValue;
                return;
            }

            ScheduleLocked(entry, _time.GetTimestamp() + (long)(Math.Max(0, dueTime.TotalSeconds) * _time.TimestampFrequency), period);
        }
    }

    private void ScheduleAt(Entry entry, long due)
    {
        lock (_gate)
        {
            if (!entry.Disposed)
            {
                ScheduleLocked(entry, due, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void ScheduleLocked(Entry entry, long due, TimeSpan period)
    {
        entry.Period = period;
        entry.Version++;
        entry.Due = due;
        _queue.Enqueue(entry, due);
        SetTimerLocked(due);
    }

    private void Unschedule(Entry entry)
    {
        lock (_gate)
        {
            entry.Disposed = true;
            entry.Due = long.MaxValue;
            entry.Version++;
        }
    }

    /// <summary>Sets the underlying timer when <paramref name="due"/> is earlier than the tick already set (not while a tick runs: it sets the next one itself).</summary>
    private void SetTimerLocked(long due)
    {
        if (_firing || due >= _timerDue)
        {
            return;
        }

        _timerDue = due;
        var delay = due - _time.GetTimestamp();
        _timer.Change(delay <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)delay / _time.TimestampFrequency), Timeout.InfiniteTimeSpan);
    }

    private void OnTick()
    {
        lock (_gate)
        {
            if (_firing)
            {
                return; // a tick is running; it sets the next one
            }

            _firing = true;
            _timerDue = long.MaxValue;
            Ticks++;
        }

        while (true)
        {
            lock (_gate)
            {
                var limit = _time.GetTimestamp() + _slack;
                while (_queue.TryPeek(out var entry, out var due) && due <= limit)
                {
                    _queue.Dequeue();
                    if (entry.Due != due)
                    {
                        continue; // re-armed or cancelled since: a stale item
                    }

                    entry.Due = long.MaxValue;
                    _due.Add((entry, entry.Version));
                }

                if (_due.Count == 0)
                {
                    _firing = false;
                    if (_queue.TryPeek(out _, out var next))
                    {
                        SetTimerLocked(next);
                    }

                    return;
                }
            }

            // Outside the gate: a callback may re-arm its entry (or another one).
            for (var i = 0; i < _due.Count; i++)
            {
                var (entry, version) = _due[i];
                entry.Fire(version);
            }

            _due.Clear();
        }
    }

    private sealed class Entry(MediaTimer owner, TimerCallback callback, object? state) : ITimer
    {
        public long Due = long.MaxValue; // the deadline of the live queue item; MaxValue = none
        public long Version;
        public TimeSpan Period = Timeout.InfiniteTimeSpan;
        public bool Disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (Disposed)
            {
                return false;
            }

            owner.Schedule(this, dueTime, period);
            return true;
        }

        public bool ChangeAt(long dueTimestamp)
        {
            if (Disposed)
            {
                return false;
            }

            owner.ScheduleAt(this, dueTimestamp);
            return true;
        }

        public void Fire(long version)
        {
            TimeSpan period;
            lock (owner._gate)
            {
                if (Disposed || Version != version)
                {
                    return; // changed or disposed between collecting and firing
                }

                period = Period;
            }

            try
            {
                callback(state);
            }
            catch (Exception)
            {
                // A timer callback must not take the clock down with it; the others still run.
            }

            if (period != Timeout.InfiniteTimeSpan && period > TimeSpan.Zero)
            {
                lock (owner._gate)
                {
                    if (Disposed || Version != version)
                    {
                        return; // the callback re-armed or disposed it
                    }
                }

                owner.Schedule(this, period, period);
            }
        }

        public void Dispose() => owner.Unschedule(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
