using System.Threading.Channels;
using Parley.Abstractions.Audio;

namespace Parley.Media;

/// <summary>
/// A continuous 20 ms, 16 kHz stream out of one that goes quiet (<see cref="GapFiller"/>): <see cref="Write"/> passes a
/// real frame on at once and stamps the time; one entry on the shared <see cref="MediaTimer"/> checks, about once per
/// <see cref="GapFiller.GapBeforeSilence"/> while frames flow, whether the gap has passed since the last one, and then
/// writes a pooled silence frame every 20 ms (on the stream's own schedule) until real audio returns. No task, no
/// channel hop and no timer change per frame: the writer's thread hands the frame to the reader.
/// <para>
/// With <c>readerInline</c>, a reader waiting for a frame goes on at once on the writer's thread (the channel runs its
/// continuation synchronously), so a frame costs no thread-pool hop to its reader either; the silence of a gap is then
/// written from a pool work item, never on the shared clock's tick, so a reader's work never delays the clock.
/// </para>
/// </summary>
internal sealed class GapFilledStream : IDisposable, IThreadPoolWorkItem
{
    private static readonly TimeSpan FramePeriod = TimeSpan.FromMilliseconds(20);

    /// <summary>The grid the gap checks of flowing streams are put on (<see cref="OnCheckGrid"/>).</summary>
    internal static readonly TimeSpan CheckGrid = TimeSpan.FromMilliseconds(10);
    private const int FrameSamples = 320;

    private readonly TimeProvider _time;
    private readonly Channel<AudioChunk> _output;
    private readonly ITimer _timer;
    private readonly long _gap;
    private readonly long _period;
    private readonly long _slack;
    private readonly long _grid;
    private readonly CancellationTokenRegistration _registration;
    private long _lastFrame;
    private long _nextSilence; // 0: not filling a gap
    private int _completed;
    private readonly bool _readerInline;
    private long _silenceDecided; // readerInline: when the tick found the gap (a real frame after it cancels that silence)
    private int _silencePending; // readerInline: silence frames queued to the pool, not yet written

    /// <param name="time">The clock of the gaps.</param>
    /// <param name="cancellationToken">Completes the stream (as <see cref="Complete"/>) when cancelled.</param>
    /// <param name="capacityFrames">Frames held for a slow reader (the oldest is dropped beyond).</param>
    /// <param name="readerInline">
    /// The reader goes on on the writer's thread: <see cref="Write"/> and <see cref="Complete"/> may run the reader's
    /// code before they return, so the writer must not hold locks (silence comes from the pool instead of the tick).
    /// </param>
    public GapFilledStream(TimeProvider time, CancellationToken cancellationToken, int capacityFrames = 50, bool readerInline = false)
    {
        _time = time;
        _readerInline = readerInline;
        _output = Channel.CreateBounded<AudioChunk>(new BoundedChannelOptions(capacityFrames)
        {
            SingleReader = true,
            SingleWriter = false, // the writer and the clock's tick
            FullMode = BoundedChannelFullMode.DropOldest,
            AllowSynchronousContinuations = readerInline,
        }, static dropped => dropped.Dispose());
        _gap = ToTicks(GapFiller.GapBeforeSilence);
        _period = ToTicks(FramePeriod);
        _slack = ToTicks(MediaTimer.Slack);
        _grid = Math.Max(1, ToTicks(CheckGrid));
        _lastFrame = time.GetTimestamp();
        _timer = MediaTimer.For(time).CreateTimer(static s => ((GapFilledStream)s!).OnTick(), this, GapFiller.GapBeforeSilence, Timeout.InfiniteTimeSpan);
        _registration = cancellationToken.UnsafeRegister(static s => ((GapFilledStream)s!).Complete(), this);
    }

    /// <summary>The continuous stream: real frames and the gaps' silence. Completes after <see cref="Complete"/>.</summary>
    public ChannelReader<AudioChunk> Reader => _output.Reader;

    /// <summary>Passes a real frame on (ownership moves here; dropped when the stream completed).</summary>
    public void Write(AudioChunk chunk)
    {
        Volatile.Write(ref _lastFrame, _time.GetTimestamp());
        if (!_output.Writer.TryWrite(chunk))
        {
            chunk.Dispose();
        }
    }

    /// <summary>
    /// Ends the stream: no more silence; the reader sees completion after the frames queued. With readerInline the
    /// reader may go on on this thread before this returns: do not call it holding a lock.
    /// </summary>
    public void Complete()
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        _timer.Dispose();
        _output.Writer.TryComplete();
    }

    public void Dispose()
    {
        _registration.Dispose();
        Complete();
        while (_output.Reader.TryRead(out var left))
        {
            left.Dispose();
        }
    }

    private void OnTick()
    {
        if (Volatile.Read(ref _completed) != 0)
        {
            return;
        }

        var now = _time.GetTimestamp();
        var last = Volatile.Read(ref _lastFrame);
        var gapEnds = last + _gap;
        if (now + _slack < gapEnds)
        {
            // A frame came since: look again when the gap after it would end, rounded up to the shared check grid.
            _nextSilence = 0;
            MediaTimer.ChangeAt(_timer, OnCheckGrid(gapEnds));
            return;
        }

        // In a gap: one frame of silence per frame period, on the gap's own schedule (no drift from late ticks).
        if (_readerInline)
        {
            Volatile.Write(ref _silenceDecided, now);
            Interlocked.Increment(ref _silencePending);
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
        else
        {
            WriteSilence();
        }

        _nextSilence = (_nextSilence == 0 || _nextSilence < gapEnds ? gapEnds : _nextSilence) + _period;
        if (_nextSilence < now - _gap)
        {
            _nextSilence = now + _period; // far behind (a stalled clock): restart instead of a burst
        }

        _timer.Change(FromTicks(Math.Max(0, _nextSilence - now)), Timeout.InfiniteTimeSpan);
    }

    /// <summary>Silence frames queued to the pool and not yet written (tests wait for none).</summary>
    internal int SilencePending => Volatile.Read(ref _silencePending);

    /// <summary>readerInline: writes the silence the tick decided on, unless a real frame came since.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        try
        {
            if (Volatile.Read(ref _lastFrame) < Volatile.Read(ref _silenceDecided) && Volatile.Read(ref _completed) == 0)
            {
                WriteSilence();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _silencePending);
        }
    }

    private void WriteSilence()
    {
        var silence = AudioChunk.Rent(FrameSamples, AudioFormat.Pipeline.SampleRate);
        silence.WritableSpan.Clear();
        if (!_output.Writer.TryWrite(silence))
        {
            silence.Dispose();
        }
    }

    /// <summary>
    /// <paramref name="timestamp"/> rounded up to the next multiple of <see cref="CheckGrid"/>: the checks of every
    /// stream whose frames flow fall on the same few instants, so the shared clock ends them in one tick each
    /// (100 streams checking ten times a second at their own phases woke it about 1,000 times a second; on the grid,
    /// at most 100). The gap's first silence comes at most one grid step later.
    /// </summary>
    private long OnCheckGrid(long timestamp)
    {
        var grid = _grid;
        var rest = timestamp % grid;
        return rest == 0 ? timestamp : timestamp - rest + grid;
    }

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private TimeSpan FromTicks(long ticks) => TimeSpan.FromSeconds((double)ticks / _time.TimestampFrequency);
}
