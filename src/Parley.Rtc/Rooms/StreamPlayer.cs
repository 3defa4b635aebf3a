using System.Threading.Channels;
using Parley.Abstractions.Audio;

namespace Parley.Rtc.Rooms;

/// <summary>
/// One player of one stream: a bounded queue of 20 ms frames that drops its oldest frame (and counts it) when the
/// reader falls behind, so a slow reader never holds back the publisher's pacer or other players.
/// </summary>
internal sealed class StreamPlayer : IRoomAudioInput
{
    private readonly Channel<AudioChunk> _frames;
    private long _dropped;

    public StreamPlayer(RoomParticipant owner, string streamId, int capacityFrames)
    {
        Owner = owner;
        StreamId = streamId;
        _frames = Channel.CreateBounded<AudioChunk>(
            new BoundedChannelOptions(Math.Max(1, capacityFrames)) { SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.DropOldest },
            OnDropped);
    }

    public RoomParticipant Owner { get; }

    public string StreamId { get; }

    public ChannelReader<AudioChunk> Audio => _frames.Reader;

    public long DroppedFrames => Interlocked.Read(ref _dropped);

    /// <summary>Copies <paramref name="frame"/> into a pooled chunk and queues it. Called by the publisher's pacer only.</summary>
    public void Deliver(ReadOnlySpan<short> frame, int sampleRate)
    {
        var chunk = AudioChunk.CopyOf(frame, sampleRate);
        if (!_frames.Writer.TryWrite(chunk))
        {
            chunk.Dispose();
        }
    }

    /// <summary>Queues a frame the publisher hands over whole (ownership moves: no copy). Called by the publisher's pacer only.</summary>
    public void DeliverOwned(AudioChunk chunk)
    {
        if (!_frames.Writer.TryWrite(chunk))
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

    /// <summary>Ends the audio; frames still queued are returned to the pool.</summary>
    public void Complete()
    {
        _frames.Writer.TryComplete();
        while (_frames.Reader.TryRead(out var chunk))
        {
            chunk.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        Owner.StopPlaying(this);
        return ValueTask.CompletedTask;
    }
}
