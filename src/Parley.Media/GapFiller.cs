using System.Threading.Channels;
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
    /// "Frames are readable, or <c>gap</c> passed first", reusable: one <see cref="ReusableTimerSource{TResult}"/> (one
    /// timer, re-armed about once per gap while frames flow) and one outstanding
    /// <see cref="ChannelReader{T}.WaitToReadAsync"/> kept across waits (without a token, so a single-reader channel
    /// reuses its waiter). One wait at a time.
    /// </summary>
    internal sealed class FrameOrGap : IDisposable
    {
        public enum Outcome
        {
            Frames,
            Gap,
            Completed,
        }

        private readonly ChannelReader<AudioChunk> _source;
        private readonly ReusableTimerSource<Outcome> _gap;
        private readonly Action _onReadable;
        private readonly Lock _gate = new();
        private ValueTask<bool> _readable;
        private bool _readablePending;

        public FrameOrGap(ChannelReader<AudioChunk> source, TimeProvider time, CancellationToken cancellationToken)
        {
            _source = source;

            // Continuations run inline on the timer's or the channel's callback thread: queueing them would allocate.
            _gap = new ReusableTimerSource<Outcome>(time, Outcome.Gap, runContinuationsAsynchronously: false, cancellationToken);
            _onReadable = OnReadable;
        }

        public ValueTask<Outcome> WaitAsync(TimeSpan gap)
        {
            lock (_gate)
            {
                if (_gap.IsCancelled)
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

                // Armed under the gate: OnReadable, which takes it too, cannot slip in between the check and the wait.
                return _gap.WaitAsync(gap);
            }
        }

        public void Dispose() => _gap.Dispose();

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
                if (!_readablePending || !_readable.IsCompleted || !_gap.TryClaim())
                {
                    return;
                }

                try
                {
                    outcome = TakeReadable();
                }
                catch (Exception ex)
                {
                    _gap.Fail(ex);
                    return;
                }
            }

            _gap.Complete(outcome);
        }
    }
}
