using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Media;
using Parley.Core.Input;

namespace Parley.Core.Agents;

/// <summary>
/// The echo reference: what the sink actually plays, fed to the input pipeline's far end (<see cref="UserInputPipeline.PushFarEnd"/>).
/// Wraps the media's sink and keeps a copy of every written sample at its position in the played stream; each time
/// the pipeline takes a microphone frame (<see cref="FeedingReader"/>), the samples that left the sink since the
/// previous frame (<see cref="IAudioSink.PlayedSamples"/> moved on) are pushed, so they land at the user-audio
/// position of that frame. Alignment: the reference is what left the server during the previous microphone frame,
/// so it is early by the echo's round trip (the network and jitter buffer to the listener, the room, the way back),
/// never late; the canceller's filter tail must cover that lead. Cleared audio never played, so it is never pushed;
/// paused audio is not played either (the reference is silence). The copy lives in a ring that grows only when more
/// is written ahead of playback than it holds: nothing is allocated per frame. Played audio nobody took (no microphone
/// frame was read: the user's stream stalled) is kept for <see cref="MaxUnfed"/> only, so the ring stays bounded by
/// what is queued in the sink.
/// </summary>
internal sealed class PlayedAudioTap(IAudioSink inner) : IAudioSink
{
    /// <summary>Played samples kept for the next microphone frame at most (1 s); older ones are dropped.</summary>
    public const int MaxUnfed = 16000;

    private readonly Lock _gate = new();
    private short[] _ring = new short[16000 * 4];
    private long _written = inner.PlayedSamples;
    private long _pushed = inner.PlayedSamples;

    public bool Paused => inner.Paused;

    public TimeSpan Buffered => inner.Buffered;

    public long PlayedSamples => inner.PlayedSamples;

    /// <summary>The ring's length in samples (what the copy can hold without growing).</summary>
    internal int Capacity
    {
        get
        {
            lock (_gate)
            {
                return _ring.Length;
            }
        }
    }

    public ValueTask WriteAsync(AudioChunk chunk, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // Played audio that no microphone frame took for a second is dropped, not kept (or grown for).
            var played = Math.Min(inner.PlayedSamples, _written);
            if (played - _pushed > MaxUnfed)
            {
                _pushed = played - MaxUnfed;
            }

            var samples = chunk.Samples;
            if (_written - _pushed + samples.Length > _ring.Length)
            {
                Grow((int)(_written - _pushed) + samples.Length);
            }

            Copy(samples, _written);
            _written += samples.Length;
        }

        return inner.WriteAsync(chunk, cancellationToken);
    }

    public void Clear()
    {
        inner.Clear();
        lock (_gate)
        {
            // What was still queued never plays: later writes take its positions.
            _written = Math.Max(_pushed, Math.Min(_written, inner.PlayedSamples));
        }
    }

    public void Pause() => inner.Pause();

    public void Resume() => inner.Resume();

    public ValueTask<Playout> WaitForPlayoutAsync(CancellationToken cancellationToken) => inner.WaitForPlayoutAsync(cancellationToken);

    /// <summary>Pushes what was played since the last call to <paramref name="pipeline"/>'s far end.</summary>
    public void Feed(UserInputPipeline pipeline)
    {
        lock (_gate)
        {
            var played = Math.Min(inner.PlayedSamples, _written);
            if (played <= _pushed)
            {
                return;
            }

            var from = (int)(_pushed % _ring.Length);
            var length = (int)(played - _pushed);
            var first = Math.Min(length, _ring.Length - from);
            pipeline.PushFarEnd(_ring.AsSpan(from, first));
            if (length > first)
            {
                pipeline.PushFarEnd(_ring.AsSpan(0, length - first));
            }

            _pushed = played;
        }
    }

    private void Copy(ReadOnlySpan<short> samples, long position)
    {
        var at = (int)(position % _ring.Length);
        var first = Math.Min(samples.Length, _ring.Length - at);
        samples[..first].CopyTo(_ring.AsSpan(at));
        samples[first..].CopyTo(_ring);
    }

    private void Grow(int needed)
    {
        var old = _ring;
        var pending = (int)(_written - _pushed);
        var copy = new short[pending];
        var from = (int)(_pushed % old.Length);
        var first = Math.Min(pending, old.Length - from);
        old.AsSpan(from, first).CopyTo(copy);
        old.AsSpan(0, pending - first).CopyTo(copy.AsSpan(first));
        _ring = new short[Math.Max(needed, old.Length * 2)];
        Copy(copy, _pushed);
    }

    /// <summary>The microphone as the pipeline reads it: the played audio is fed to the far end before each frame.</summary>
    public sealed class FeedingReader(ChannelReader<AudioChunk> mic, PlayedAudioTap tap, UserInputPipeline pipeline) : ChannelReader<AudioChunk>
    {
        public override bool CanCount => mic.CanCount;

        public override int Count => mic.Count;

        public override Task Completion => mic.Completion;

        public override bool TryRead([MaybeNullWhen(false)] out AudioChunk item)
        {
            if (!mic.TryRead(out item))
            {
                return false;
            }

            tap.Feed(pipeline);
            return true;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => mic.WaitToReadAsync(cancellationToken);
    }
}
