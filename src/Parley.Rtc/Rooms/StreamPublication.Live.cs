using Parley.Abstractions.Audio;
using Parley.Media;

namespace Parley.Rtc.Rooms;

/// <summary>
/// The pacing of a live stream (a user's microphone). Its clock is a schedule of 20 ms slots: a frame may go out from
/// <see cref="LiveLead"/> before its slot, a frame that finds its slot past goes out at once (a publisher catching up
/// after a hiccup), and a slot more than 200 ms past restarts the clock instead of a burst. A publisher faster than
/// real time is thus played in real time, at most one frame (plus <see cref="LiveAnchorCorrection"/>) ahead.
/// <para>
/// While its queue is empty the pacer parks (it waits for data, not for the clock), and a whole 20 ms frame written
/// when it may go out is passed on by the writer's own thread (<see cref="TryEmitInline"/>): a microphone sending in
/// real time costs no pacer wake-up and no timer per frame, only what the writer's receive loop does anyway (issue 15:
/// the pacer's two wake-ups per frame were a third of an idle session's thread-pool work). Frames that are early by
/// more than the lead, or not 20 ms long, or that find the queue non-empty go through the queue and the pacer, in order.
/// </para>
/// </summary>
internal sealed partial class StreamPublication
{
    /// <summary>How long before its slot a live frame may go out (jitter of a client's 20 ms sends).</summary>
    internal static readonly TimeSpan LiveLead = FramePeriod;

    /// <summary>
    /// How far in all a live stream's clock may move earlier (per clock start) for a publisher that sends in real time
    /// but whose first frame came late: its frames would otherwise all be "early" by that first delay, for good, and
    /// each wait for the clock. Only the latest frame written, when it was written into an empty queue at least half a
    /// period after the one before (not a burst), moves it, so a publisher faster than real time gets at most this
    /// plus the lead ahead.
    /// </summary>
    internal static readonly TimeSpan LiveAnchorCorrection = TimeSpan.FromMilliseconds(100);

    // The live schedule. Owned by the pacer while it runs; while it is parked, by whoever holds _liveGate.
    private readonly object _liveGate = new();
    private bool _parked; // the pacer waits for data and holds no audio: TryWriteLive may emit (under _liveGate)
    private bool _scheduled; // _liveStart and _liveNext hold the stream's clock
    private long _liveStart;
    private long _liveNext; // the slot of the next frame
    private long _lastWrite; // when the writer last wrote (TryWriteLive: one writer)
    private volatile bool _steadyWrite; // the last write came half a period or more after the one before, into an empty queue
    private long _anchorBudget; // how much earlier the clock may still move (LiveAnchorCorrection)

    /// <summary>True while the live pacer waits for data (tests: on-time frames are then passed on by their writer).</summary>
    internal bool IsParked
    {
        get
        {
            lock (_liveGate)
            {
                return _parked;
            }
        }
    }

    /// <summary>Emits <paramref name="chunk"/> (a whole frame) on the writer's thread when the pacer is parked and the frame may go now.</summary>
    /// <remarks>
    /// The frame is emitted outside the lock: players' receivers run their reader's code on this thread. That is safe
    /// because a live stream has one writer (this thread) and the parked pacer wakes only for a write to its queue or
    /// for the stream's end, so nothing else can emit between the slot taken here and the emission.
    /// </remarks>
    private bool TryEmitInline(AudioChunk chunk, long now)
    {
        lock (_liveGate)
        {
            if (!_parked || _input.Reader.Count != 0 || _stop.IsCancellationRequested || _input.Reader.Completion.IsCompleted
                || Volatile.Read(ref _clearRequested) != 0 || Volatile.Read(ref _resumed) is not null)
            {
                return false;
            }

            if (LiveDueAt(now, alone: true) != 0)
            {
                return false;
            }

            TakeLiveSlot(now);
        }

        EmitOwned(chunk);
        return true;
    }

    /// <summary>0 when the next frame may go out at <paramref name="now"/>, else the timestamp to wait for.</summary>
    /// <param name="now">The clock's timestamp.</param>
    /// <param name="alone">Nothing is queued behind the frame (it may move the clock: <see cref="LiveAnchorCorrection"/>).</param>
    private long LiveDueAt(long now, bool alone)
    {
        if (!_scheduled)
        {
            return 0;
        }

        var slot = _liveStart + (FramePeriodTicks * _liveNext);
        if (now - slot > MaxLagTicks)
        {
            _scheduled = false; // far behind: the clock restarts with this frame
            return 0;
        }

        var earliest = slot - LiveLeadTicks;
        if (now >= earliest)
        {
            return 0;
        }

        var excess = earliest - now;
        if (alone && _steadyWrite && excess <= _anchorBudget)
        {
            _liveStart -= excess; // a real-time publisher whose clock started late: its clock moves to its frames
            _anchorBudget -= excess;
            return 0;
        }

        return earliest;
    }

    private void TakeLiveSlot(long now)
    {
        if (!_scheduled)
        {
            _liveStart = now;
            _liveNext = 0;
            _scheduled = true;
            _anchorBudget = (long)(LiveAnchorCorrection.TotalSeconds * _time.TimestampFrequency);
        }

        _liveNext++;
    }

    /// <summary>Notes a write's time (the writer's thread); returns it.</summary>
    private long NoteLiveWrite()
    {
        var now = _time.GetTimestamp();
        _steadyWrite = now - _lastWrite >= FramePeriodTicks / 2 && _input.Reader.Count == 0;
        _lastWrite = now;
        return now;
    }

    private long FramePeriodTicks => (long)(FramePeriod.TotalSeconds * _time.TimestampFrequency);

    private long MaxLagTicks => (long)(MaxLag.TotalSeconds * _time.TimestampFrequency);

    private long LiveLeadTicks => (long)(LiveLead.TotalSeconds * _time.TimestampFrequency);

    private async Task PaceLiveAsync(CancellationToken cancellationToken)
    {
        var pending = new PendingFrame(); // kept across waits: an early frame waits for its slot in it
        var held = false;
        using var clock = new FrameClock(_time, cancellationToken);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (Interlocked.Exchange(ref _clearRequested, 0) == 1)
                {
                    Interlocked.Add(ref _pendingSamples, -pending.Drop());
                    held = false;
                }

                if (PausedTask() is { } paused)
                {
                    // Paused: nothing goes out; the queue and the partial frame wait, and the clock restarts after.
                    _scheduled = false;
                    await paused.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                pending.Fill(_input.Reader);
                var filled = pending.Filled;
                if (filled == FrameSamples || (filled > 0 && held))
                {
                    var now = _time.GetTimestamp();
                    var dueAt = LiveDueAt(now, alone: _input.Reader.Count == 0);
                    if (dueAt != 0)
                    {
                        // Early (a publisher faster than real time): the frame waits for its slot, less the lead.
                        await clock.DelayUntilAsync(dueAt).ConfigureAwait(false);
                        continue;
                    }

                    TakeLiveSlot(now);
                    EmitPending(pending);
                    Interlocked.Add(ref _pendingSamples, -filled);
                    held = false;
                    SignalIdleIfDrained();
                    continue;
                }

                if (filled > 0)
                {
                    // A partial frame: give the publisher one more frame period to complete it.
                    held = true;
                    await clock.DelayUntilAsync(_time.GetTimestamp() + FramePeriodTicks).ConfigureAwait(false);
                    continue;
                }

                // Dry: park until data comes. The clock is kept (see LiveDueAt for how late it may come back).
                lock (_liveGate)
                {
                    _parked = _input.Reader.Count == 0;
                }

                if (!_parked)
                {
                    continue;
                }

                SignalIdleIfDrained();

                // No token on the wait (a cancellable wait allocates per call): the only stop, StopLocked, completes
                // the writer before cancelling.
                var more = await _input.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false);
                lock (_liveGate)
                {
                    _parked = false;
                }

                if (!more)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            lock (_liveGate)
            {
                _parked = false;
            }

            pending.Dispose();
            DrainInput();
            Interlocked.Exchange(ref _pendingSamples, 0);
            SignalIdleIfDrained();
        }
    }
}
