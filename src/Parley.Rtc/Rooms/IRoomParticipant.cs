using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Parley.Abstractions.Audio;

namespace Parley.Rtc.Rooms;

/// <summary>
/// The rooms of this server. A DI singleton; rooms are created on first join and removed when their last user leaves.
/// </summary>
public interface IRoomManager
{
    /// <summary>
    /// Logs <paramref name="userId"/> into <paramref name="roomId"/>. If the same UserId is already in that room, the
    /// earlier participant is kicked (it receives <see cref="RoomEventKind.Kicked"/> and is closed) and this one takes
    /// its place. <paramref name="isAgent"/> marks in-process agents, which do not count as real users.
    /// Dispose the returned participant to leave.
    /// </summary>
    /// <exception cref="RoomException">An id is invalid (the message names the field).</exception>
    ValueTask<IRoomParticipant> JoinAsync(string roomId, string userId, bool isAgent, CancellationToken cancellationToken);

    /// <summary>The number of rooms that currently have users.</summary>
    int RoomCount { get; }

    /// <summary>The number of real (non-agent) users in <paramref name="roomId"/>, 0 when the room does not exist.</summary>
    int GetRealUserCount(string roomId);

    /// <summary>The streams currently published in <paramref name="roomId"/>.</summary>
    IReadOnlyList<RoomStreamInfo> GetStreams(string roomId);

    /// <summary>The users currently in <paramref name="roomId"/>.</summary>
    IReadOnlyList<RoomUserInfo> GetUsers(string roomId);
}

/// <summary>
/// One user in one room: in-process (an agent) or behind a transport (a WebSocket client). Dispose to leave the room:
/// its streams are unpublished (others get StreamRemoved), its players stop and others get UserLeft.
/// </summary>
public interface IRoomParticipant : IAsyncDisposable
{
    string RoomId { get; }

    string UserId { get; }

    bool IsAgent { get; }

    /// <summary>
    /// The room's events for this participant (not its own joins, publishes or messages), in order. Bounded
    /// (<see cref="ParleyRtcOptions.EventQueueCapacity"/>): read it continuously — a participant whose queue overflows is
    /// removed from the room with <see cref="RoomLeaveReason.EventQueueOverflow"/>. Completes when the participant leaves.
    /// </summary>
    ChannelReader<RoomEvent> Events { get; }

    /// <summary>Cancelled when the participant is no longer in the room (left, kicked, overflow, shutdown).</summary>
    CancellationToken Closed { get; }

    /// <summary>Why the participant left; null while it is in the room.</summary>
    RoomLeaveReason? LeaveReason { get; }

    /// <summary>The number of real (non-agent) users in the room now. Changes are also reported as <see cref="RoomEventKind.RealUserCountChanged"/>.</summary>
    int RealUserCount { get; }

    /// <summary>The streams published in the room when this participant joined (later changes arrive as events).</summary>
    IReadOnlyList<RoomStreamInfo> InitialStreams { get; }

    /// <summary>The other users in the room when this participant joined (later changes arrive as events).</summary>
    IReadOnlyList<RoomUserInfo> InitialUsers { get; }

    /// <summary>
    /// Publishes <paramref name="streamId"/>. Audio written to the returned output is paced to the stream's players
    /// in real time, in 20 ms frames of 16 kHz PCM16. Dispose the output to unpublish.
    /// </summary>
    /// <exception cref="RoomException">The id is invalid, another user already publishes it in this room, or this participant already publishes it.</exception>
    ValueTask<IRoomAudioOutput> PublishAsync(string streamId, CancellationToken cancellationToken);

    /// <summary>
    /// As <see cref="PublishAsync(string, CancellationToken)"/>, with the stream's extra info (ZEGO's
    /// <c>RTC.StreamExtraInfo</c>, at most 1024 bytes): clients see it in LoginResult's <c>Streams</c> and StreamAdded.
    /// </summary>
    ValueTask<IRoomAudioOutput> PublishAsync(string streamId, string extraInfo, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes <paramref name="streamId"/> as a live stream: a transport's microphone. Unlike <see cref="PublishAsync(string, CancellationToken)"/>,
    /// a live writer never waits: when the pacer's queue is full its oldest audio is dropped (and counted), so a client
    /// sending a little faster than real time cannot build up delay. Dispose the output to unpublish.
    /// </summary>
    /// <exception cref="RoomException">As <see cref="PublishAsync(string, CancellationToken)"/>.</exception>
    ValueTask<IRoomLiveAudioOutput> PublishLiveAsync(string streamId, CancellationToken cancellationToken);

    /// <summary>
    /// Plays <paramref name="streamId"/>: its audio arrives on <see cref="IRoomAudioInput.Audio"/> as 20 ms frames of
    /// 16 kHz PCM16 in real time. Works before the stream is published (audio starts when it is) and survives the
    /// publisher unpublishing and publishing again. Dispose the input to stop playing.
    /// </summary>
    ValueTask<IRoomAudioInput> PlayAsync(string streamId, CancellationToken cancellationToken);

    /// <summary>
    /// Plays <paramref name="streamId"/> as <see cref="PlayAsync(string, CancellationToken)"/> does, but hands each frame
    /// to <paramref name="receiver"/> on the thread that sends it (the publisher's pacer, or a live publisher's own
    /// writer) instead of queuing it for a reader: no queue and no reader task, so no thread hop per frame. The
    /// returned input's <see cref="IRoomAudioInput.Audio"/> stays empty; dispose the input to stop playing.
    /// </summary>
    ValueTask<IRoomAudioInput> PlayAsync(string streamId, IRoomAudioReceiver receiver, CancellationToken cancellationToken);

    /// <summary>
    /// Sends an in-room message <c>{"Timestamp","TimestampMs","SeqId","Round","Cmd","Data"}</c> (ZEGO <c>msg_content</c>)
    /// to the other users, or only to <paramref name="toUserIds"/>. Timestamps come from the server's TimeProvider;
    /// SeqId increases by one per message of this participant, starting at 1. Returns the SeqId used.
    /// </summary>
    ValueTask<long> SendRoomMessageAsync(int cmd, long round, JsonNode? data, IReadOnlyList<string>? toUserIds, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="SendRoomMessageAsync(int, long, JsonNode?, IReadOnlyList{string}?, CancellationToken)"/> with a
    /// <c>Data</c> that writes itself (a value type: subtitles and states are sent many times a second per room, and no
    /// JSON nodes are built for them).
    /// </summary>
    ValueTask<long> SendRoomMessageAsync<TData>(int cmd, long round, TData data, IReadOnlyList<string>? toUserIds, CancellationToken cancellationToken)
        where TData : IRoomMessageData;

    /// <summary>
    /// Sends a message whose JSON a transport's client wrote itself, as is (no envelope, no SeqId), to the other users or
    /// only to <paramref name="toUserIds"/>. The bytes are copied.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="json"/> is not one UTF-8 JSON object (or has a field twice, or an unreadable string).</exception>
    /// <exception cref="RoomException">The participant is no longer in the room.</exception>
    ValueTask SendRawMessageAsync(ReadOnlyMemory<byte> json, IReadOnlyList<string>? toUserIds, CancellationToken cancellationToken);
}

/// <summary>The audio output of a published stream (16 kHz PCM16 mono in, paced out in real time).</summary>
public interface IRoomAudioOutput : IAsyncDisposable
{
    string StreamId { get; }

    /// <summary>
    /// Queues <paramref name="chunk"/> (16 kHz, any length) for pacing. Ownership moves to the output (also when this
    /// throws). Waits while the queue is full, so a producer faster than real time is held back.
    /// </summary>
    ValueTask WriteAsync(AudioChunk chunk, CancellationToken cancellationToken);

    /// <summary>Drops all queued audio that has not been sent yet (interruption).</summary>
    void Clear();

    /// <summary>Audio queued and not yet sent.</summary>
    TimeSpan Pending { get; }

    /// <summary>Completes when everything written so far has been sent to the players.</summary>
    Task WaitUntilPlayedAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stops sending at the next frame boundary and keeps the queue (a provisional barge-in): the listener hears
    /// silence until <see cref="Resume"/>, which goes on with the frame that would have come next. <see cref="Clear"/>
    /// also ends a pause.
    /// </summary>
    void Pause()
    {
    }

    /// <summary>Ends a <see cref="Pause"/>.</summary>
    void Resume()
    {
    }
}

/// <summary>A live published stream (<see cref="IRoomParticipant.PublishLiveAsync"/>): writes never wait.</summary>
public interface IRoomLiveAudioOutput : IRoomAudioOutput
{
    /// <summary>
    /// Queues <paramref name="chunk"/> (16 kHz) without waiting; ownership moves to the output. When the queue is full
    /// its oldest chunk is dropped and counted. False (and the chunk returned to the pool) once the stream is unpublished.
    /// </summary>
    bool TryWriteLive(AudioChunk chunk);

    /// <summary>Chunks dropped because the queue was full.</summary>
    long DroppedChunks { get; }
}

/// <summary>
/// Takes a played stream's frames as they are sent (<see cref="IRoomParticipant.PlayAsync(string, IRoomAudioReceiver, CancellationToken)"/>).
/// Called on the sender's thread, one frame at a time for each publisher: it must not block, and should hand the frame
/// on (a bounded queue that drops its oldest frame is what the default player does).
/// </summary>
public interface IRoomAudioReceiver
{
    /// <summary>A 20 ms frame of 16 kHz PCM16; ownership moves to the receiver (Dispose it).</summary>
    void OnFrame(AudioChunk frame);

    /// <summary>The room ended the playing (its participant left the room); not called when the input is disposed.</summary>
    void OnEnded();
}

/// <summary>A played stream: 20 ms frames of 16 kHz PCM16, each chunk owned by the reader (Dispose it).</summary>
public interface IRoomAudioInput : IAsyncDisposable
{
    string StreamId { get; }

    /// <summary>The stream's audio. Bounded; when the reader falls behind, the oldest frames are dropped and counted.</summary>
    ChannelReader<AudioChunk> Audio { get; }

    /// <summary>Frames dropped because the reader fell behind.</summary>
    long DroppedFrames { get; }
}

/// <summary>The <c>Data</c> object of an in-room message, written as JSON by itself.</summary>
public interface IRoomMessageData
{
    /// <summary>Writes the whole object (its start and end included).</summary>
    void WriteTo(Utf8JsonWriter writer);
}
