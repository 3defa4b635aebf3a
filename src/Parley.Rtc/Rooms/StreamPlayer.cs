using System.Threading.Channels;
using Parley.Abstractions.Audio;

namespace Parley.Rtc.Rooms;

/// <summary>
/// One player of one stream: a bounded queue of 20 ms frames that drops its oldest frame (and counts it) when the
/// reader falls behind, so a slow reader never holds back the publisher's pacer or other players; or, with an
/// <see cref="IRoomAudioReceiver"/>, a hand-over of each frame to it on the sender's thread (no queue, no hop).
/// </summary>
internal sealed class StreamPlayer : IRoomAudioInput
{
    private readonly Channel<AudioChunk> _frames;
    private readonly IRoomAudioReceiver? _receiver;
    private long _dropped;
    private int _completed;
    private int _disposed;

    public StreamPlayer(RoomParticipant owner, string streamId, int capacityFrames, IRoomAudioReceiver? receiver = null)
    {
        Owner = owner;
        StreamId = streamId;
        _receiver = receiver;
        _frames = Channel.CreateBounded<AudioChunk>(
            new BoundedChannelOptions(Math.Max(1, capacityFrames)) { SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.DropOldest },
            OnDropped);
    }

    public RoomParticipant Owner { get; }

    public string StreamId { get; }

    public ChannelReader<AudioChunk> Audio => _frames.Reader;

    public long DroppedFrames => Interlocked.Read(ref _dropped);

    /// <summary>Copies <paramref name="frame"/> into a pooled chunk and queues it. Called by the publisher's pacer only.</summary>
    public void Deliver(ReadOnlySpan<short> frame, int sampleRate) => DeliverOwned(AudioChunk.CopyOf(frame, sampleRate));

    /// <summary>Queues a frame the publisher hands over whole (ownership moves: no copy). Called by the publisher's pacer only.</summary>
    public void DeliverOwned(AudioChunk chunk)
    {
        if (_receiver is { } receiver)
        {
            if (Volatile.Read(ref _completed) == 0)
            {
                receiver.OnFrame(chunk);
            }
            else
            {
                chunk.Dispose();
            }
        }
        else if (!_frames.Writer.TryWrite(chunk))
        {
            chunk.Dispose();
        }
    }

    private void OnDropped(AudioChunk chunk)
    {
        chunk.Dispose();
        Interlocked.Increment(ref _dropped);
        RtcMetrics.PlayerDropped();
    }

    /// <summary>Ends the audio (a receiver hears of it unless the player is being disposed); frames still queued are returned to the pool.</summary>
    public void Complete()
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0 && Volatile.Read(ref _disposed) == 0)
        {
            _receiver?.OnEnded();
        }

        _frames.Writer.TryComplete();
        while (_frames.Reader.TryRead(out var chunk))
        {
            chunk.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        Interlocked.Exchange(ref _disposed, 1);
        Owner.StopPlaying(this);
        return ValueTask.CompletedTask;
    }
}
