using Parley.Abstractions.Audio;
using Parley.Media;

namespace Parley.Benchmarks.HotPaths;

internal static partial class HotPathOperations
{
    public const string MediaTimerTick = "MediaTimer.Tick.100streams";
    public const string FrameClockDelay = "FrameClock.Delay.20ms";
    public const string GapFilledWrite = "GapFilledStream.WriteRead.20ms16k";

    static partial void AddClock(Dictionary<string, Func<IHotPathOperation>> all)
    {
        all[MediaTimerTick] = () => new MediaTimerTickOperation();
        all[FrameClockDelay] = () => new FrameClockDelayOperation();
        all[GapFilledWrite] = () => new GapFilledWriteOperation();
    }
}

/// <summary>
/// A time provider moved by hand with one timer (the shared clock's), fired synchronously by <see cref="Advance"/>:
/// unlike FakeTimeProvider it allocates nothing itself, so the operations below count only the clock's own bytes.
/// </summary>
internal sealed class ManualClock : TimeProvider
{
    private readonly List<Timer> _timers = [];
    private long _now;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _now;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Timer(this, callback, state);
        _timers.Add(timer);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves the clock and fires every timer then due (in creation order).</summary>
    public void Advance(TimeSpan by)
    {
        _now += by.Ticks;
        for (var i = 0; i < _timers.Count; i++)
        {
            var timer = _timers[i];
            if (timer.Due <= _now)
            {
                timer.Due = long.MaxValue;
                timer.Callback(timer.State);
            }
        }
    }

    internal sealed class Timer(ManualClock clock, TimerCallback callback, object? state) : ITimer
    {
        public long Due = long.MaxValue;

        public TimerCallback Callback => callback;

        public object? State => state;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Due = dueTime == Timeout.InfiniteTimeSpan ? long.MaxValue : clock._now + dueTime.Ticks;
            return true;
        }

        public void Dispose() => Due = long.MaxValue;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>One 20 ms tick of the shared clock with 100 streams' entries due, each re-armed for the next frame by its callback.</summary>
internal sealed class MediaTimerTickOperation : IHotPathOperation
{
    private static readonly TimeSpan Frame = TimeSpan.FromMilliseconds(20);
    private readonly ManualClock _time = new();
    private readonly List<ITimer> _entries = [];
    private int _fired;

    public MediaTimerTickOperation()
    {
        var clock = new MediaTimer(_time);
        for (var i = 0; i < 100; i++)
        {
            ITimer? entry = null;
            entry = clock.CreateTimer(_ =>
            {
                _fired++;
                entry!.Change(Frame, Timeout.InfiniteTimeSpan);
            }, null, Frame, Timeout.InfiniteTimeSpan);
            _entries.Add(entry);
        }
    }

    public int Invoke()
    {
        _time.Advance(Frame);
        return _fired;
    }

    public void Dispose() => _entries.ForEach(e => e.Dispose());
}

/// <summary>A pacer's 20 ms wait on the shared clock (FrameClock over ReusableTimerSource): arm, tick, result.</summary>
internal sealed class FrameClockDelayOperation : IHotPathOperation
{
    private static readonly TimeSpan Frame = TimeSpan.FromMilliseconds(20);
    private readonly ManualClock _time = new();
    private readonly FrameClock _clock;

    public FrameClockDelayOperation() => _clock = new FrameClock(_time, CancellationToken.None);

    public int Invoke()
    {
        var wait = _clock.DelayAsync(Frame);
        _time.Advance(Frame);
        if (!wait.IsCompleted)
        {
            throw new InvalidOperationException("the frame wait did not end on its tick");
        }

        wait.GetAwaiter().GetResult();
        return 1;
    }

    public void Dispose() => _clock.Dispose();
}

/// <summary>One real 20 ms frame through the gap-filled user stream (write, read, return to the pool), with the clock's tick every frame.</summary>
internal sealed class GapFilledWriteOperation : IHotPathOperation
{
    private static readonly TimeSpan Frame = TimeSpan.FromMilliseconds(20);
    private readonly ManualClock _time = new();
    private readonly GapFilledStream _stream;

    public GapFilledWriteOperation() => _stream = new GapFilledStream(_time, CancellationToken.None);

    public int Invoke()
    {
        _stream.Write(AudioChunk.Rent(320, 16000));
        if (!_stream.Reader.TryRead(out var chunk))
        {
            throw new InvalidOperationException("the frame did not pass");
        }

        var n = chunk.Length;
        chunk.Dispose();
        _time.Advance(Frame);
        return n;
    }

    public void Dispose() => _stream.Dispose();
}
