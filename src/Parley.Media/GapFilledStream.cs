using System.Threading.Channels;
using Parley.Abstractions.Audio;

namespace Parley.Media;

/// <summary>
/// A continuous 20 ms, 16 kHz stream out of one that goes quiet (<see cref="GapFiller"/>): <see cref="Write"/> passes a
/// real frame on at once and stamps the time; one entry on the shared <see cref="MediaTimer"/> checks, about once per
/// <see cref="GapFiller.GapBeforeSilence"/> while frames flow, whether the gap has passed since the last one, and then
/// writes a pooled silence frame every 20 ms (on the stream's own schedule) until real audio returns. No task, no
/// channel hop and no timer change per frame: the writer's thread hands the frame to the reader.
/// </summary>
internal sealed class GapFilledStream : IDisposable
{
    private static readonly TimeSpan FramePeriod = TimeSpan.FromMilliseconds(20);
    private const int FrameSamples = 320;

    private readonly TimeProvider _time;
    private readonly Channel<AudioChunk> _output;
    private readonly ITimer _timer;
    private readonly long _gap;
    private readonly long _period;
    private readonly long _slack;
    private readonly CancellationTokenRegistration _registration;
    private long _lastFrame;
    private long _nextSilence; // 0: not filling a gap
    private int _completed;

    /// <param name="cancellationToken">Completes the stream (as <see cref="Complete"/>) when cancelled.</param>
    public GapFilledStream(TimeProvider time, CancellationToken cancellationToken, int capacityFrames = 50)
    {
        _time = time;
        _output = Channel.CreateBounded<AudioChunk>(new BoundedChannelOptions(capacityFrames)
        {
            SingleReader = true,
            SingleWriter = false, // the writer and the clock's tick
            FullMode = BoundedChannelFullMode.DropOldest,
        }, static dropped => dropped.Dispose());
        _gap = ToTicks(GapFiller.GapBeforeSilence);
        _period = ToTicks(FramePeriod);
        _slack = ToTicks(MediaTimer.Slack);
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

    /// <summary>Ends the stream: no more silence; the reader sees completion after the frames queued.</summary>
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
            // A frame came since: look again when the gap after it would end.
            _nextSilence = 0;
            _timer.Change(FromTicks(gapEnds - now), Timeout.InfiniteTimeSpan);
            return;
        }

        // In a gap: one frame of silence per frame period, on the gap's own schedule (no drift from late ticks).
        var silence = AudioChunk.Rent(FrameSamples, AudioFormat.Pipeline.SampleRate);
        silence.WritableSpan.Clear();
        if (!_output.Writer.TryWrite(silence))
        {
            silence.Dispose();
        }

        _nextSilence = (_nextSilence == 0 || _nextSilence < gapEnds ? gapEnds : _nextSilence) + _period;
        if (_nextSilence < now - _gap)
        {
            _nextSilence = now + _period; // far behind (a stalled clock): restart instead of a burst
        }

        _timer.Change(FromTicks(Math.Max(0, _nextSilence - now)), Timeout.InfiniteTimeSpan);
    }

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private TimeSpan FromTicks(long ticks) => TimeSpan.FromSeconds((double)ticks / _time.TimestampFrequency);
}
