using System.Threading.Channels;
using System.Threading.Tasks.Sources;
using Parley.Abstractions.Audio;

namespace Parley.Media;

/// <summary>
/// Turns a played stream, which goes quiet when its publisher sends nothing (a client that stops sending, a muted
/// microphone, a stream not yet published), into a continuous 20 ms, 16 kHz stream: real frames pass through, and
/// after <see cref="GapBeforeSilence"/> without one, silence frames follow in real time. Turn-taking measures silence
/// in audio time, so without this a user who simply stops sending would never finish their turn.
/// Waiting for "a frame or the gap, whichever comes first" goes through one reusable <see cref="FrameOrGap"/> (one
/// timer for the stream's life): nothing is allocated per frame, silent or not (silence frames are pooled).
/// </summary>
internal static class GapFiller
{
    public static readonly TimeSpan GapBeforeSilence = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan FramePeriod = TimeSpan.FromMilliseconds(20);
    private const int FrameSamples = 320;

    public static ChannelReader<AudioChunk> Fill(ChannelReader<AudioChunk> source, TimeProvider time, CancellationToken cancellationToken)
    {
        var output = Channel.CreateBounded<AudioChunk>(new BoundedChannelOptions(50)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.DropOldest,
        }, static dropped => dropped.Dispose());
        _ = Task.Run(() => PumpAsync(source, output.Writer, time, cancellationToken), CancellationToken.None);
        return output.Reader;
    }

    private static async Task PumpAsync(ChannelReader<AudioChunk> source, ChannelWriter<AudioChunk> output, TimeProvider time, CancellationToken cancellationToken)
    {
        using var wait = new FrameOrGap(source, time, cancellationToken);
        var gap = GapBeforeSilence;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                switch (await wait.WaitAsync(gap).ConfigureAwait(false))
                {
                    case FrameOrGap.Outcome.Frames:
                        while (source.TryRead(out var chunk))
                        {
                            output.TryWrite(chunk);
                        }

                        gap = GapBeforeSilence;
                        break;

                    case FrameOrGap.Outcome.Gap:
                        // A gap: one frame of silence per frame period until real audio returns.
                        var silence = AudioChunk.Rent(FrameSamples, AudioFormat.Pipeline.SampleRate);
                        silence.WritableSpan.Clear();
                        output.TryWrite(silence);
                        gap = FramePeriod;
                        break;

                    default:
                        return; // the source completed
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            output.TryComplete();
        }
    }

    /// <summary>
    /// "Frames are readable, or <c>gap</c> passed first", reusable: one timer, one outstanding
    /// <see cref="ChannelReader{T}.WaitToReadAsync"/> kept across waits (without a token, so a single-reader channel
    /// reuses its waiter), and one <see cref="ManualResetValueTaskSourceCore{TResult}"/>. One wait at a time.
    /// </summary>
    internal sealed class FrameOrGap : IValueTaskSource<FrameOrGap.Outcome>, IDisposable
    {
        public enum Outcome
        {
            Frames,
            Gap,
            Completed,
        }

        private readonly ChannelReader<AudioChunk> _source;
        private readonly TimeProvider _time;
        private readonly ITimer _timer;
        private readonly Action _onReadable;
        private readonly CancellationTokenRegistration _registration;
        private readonly Lock _gate = new();
        private ManualResetValueTaskSourceCore<Outcome> _core;
        private ValueTask<bool> _readable;
        private bool _readablePending;
        private long _deadline;
        private long _timerDue = long.MaxValue; // when the timer will tick (timestamp), MaxValue when it is not scheduled
        private bool _armed; // a wait is outstanding; whoever clears it (under the gate) completes the wait
        private bool _cancelled;

        public FrameOrGap(ChannelReader<AudioChunk> source, TimeProvider time, CancellationToken cancellationToken)
        {
            _source = source;
            _time = time;

            // Continuations run inline on the timer's or the channel's callback thread: queueing them would allocate.
            _core.RunContinuationsAsynchronously = false;
            _onReadable = OnReadable;
            _timer = time.CreateTimer(static state => ((FrameOrGap)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _registration = cancellationToken.UnsafeRegister(static state => ((FrameOrGap)state!).OnCancelled(), this);
        }

        public ValueTask<Outcome> WaitAsync(TimeSpan gap)
        {
            lock (_gate)
            {
                if (_cancelled)
                {
                    return ValueTask.FromException<Outcome>(new OperationCanceledException());
                }

                if (!_readablePending)
                {
                    // Without a token: the channel's reusable waiter (a cancellable wait allocates one per call).
                    _readable = _source.WaitToReadAsync(CancellationToken.None);
                    _readablePending = true;
                    if (!_readable.IsCompleted)
                    {
                        _readable.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onReadable); // no scheduling context: nothing to capture
                    }
                }

                if (_readable.IsCompleted)
                {
                    return new ValueTask<Outcome>(TakeReadable());
                }

                _core.Reset();
                _deadline = _time.GetTimestamp() + (long)(gap.TotalSeconds * _time.TimestampFrequency);
                _armed = true;

                // Re-arming a timer takes the runtime's timer-queue lock: with hundreds of streams at 50 frames/s that
                // lock was contended (profile at 150 sessions). A tick already due before this deadline is left alone:
                // it re-arms itself for the rest of the gap (OnTimer), so a flowing stream changes its timer ~once per gap.
                if (_timerDue > _deadline)
                {
                    _timerDue = _deadline;
                    _timer.Change(gap, Timeout.InfiniteTimeSpan);
                }

                return new ValueTask<Outcome>(this, _core.Version);
            }
        }

        public Outcome GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        public void Dispose()
        {
            _registration.Dispose();
            _timer.Dispose();
        }

        private Outcome TakeReadable()
        {
            _readablePending = false;
            return _readable.GetAwaiter().GetResult() ? Outcome.Frames : Outcome.Completed;
        }

        private void OnReadable()
        {
            Outcome outcome;
            lock (_gate)
            {
                // Not armed, or a late callback of an earlier wait whose readiness was already taken: nothing to do.
                if (!_armed || !_readablePending || !_readable.IsCompleted)
                {
                    return;
                }

                _armed = false; // the timer stays scheduled: its tick finds nothing armed, or re-arms for the next wait
                try
                {
                    outcome = TakeReadable();
                }
                catch (Exception ex)
                {
                    _core.SetException(ex);
                    return;
                }
            }

            _core.SetResult(outcome);
        }

        private void OnTimer()
        {
            lock (_gate)
            {
                _timerDue = long.MaxValue;
                if (!_armed)
                {
                    return;
                }

                // A late tick of an earlier wait (or an early one) must not end this wait before its gap.
                var early = _deadline - _time.GetTimestamp();
                if (early > 0)
                {
                    _timerDue = _deadline;
                    _timer.Change(TimeSpan.FromSeconds((double)early / _time.TimestampFrequency), Timeout.InfiniteTimeSpan);
                    return;
                }

                _armed = false;
            }

            _core.SetResult(Outcome.Gap);
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
}
