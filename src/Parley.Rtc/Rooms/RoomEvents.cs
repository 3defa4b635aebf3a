using System.Text.Json;

namespace Parley.Rtc.Rooms;

/// <summary>What happened in a room, as seen by one participant.</summary>
public enum RoomEventKind
{
    /// <summary>Another user logged into the room (<see cref="RoomEvent.UserId"/>).</summary>
    UserJoined,

    /// <summary>Another user left the room (logout, disconnect or kicked).</summary>
    UserLeft,

    /// <summary>A stream was published (<see cref="RoomEvent.StreamId"/> by <see cref="RoomEvent.UserId"/>).</summary>
    StreamAdded,

    /// <summary>A stream was unpublished, or its publisher left.</summary>
    StreamRemoved,

    /// <summary>An in-room message from another user (<see cref="RoomEvent.Message"/>).</summary>
    RoomMessage,

    /// <summary>The number of real (non-agent) users in the room changed (<see cref="RoomEvent.RealUserCount"/>).</summary>
    RealUserCountChanged,

    /// <summary>This participant was kicked: another login used the same UserId. The event stream completes after it.</summary>
    Kicked,
}

/// <summary>One room event. Events of a room reach each participant in the order they happened.</summary>
public readonly record struct RoomEvent(
    RoomEventKind Kind,
    string RoomId,
    string? UserId = null,
    string? StreamId = null,
    RoomMessage? Message = null,
    int RealUserCount = 0,
    string? ExtraInfo = null);

/// <summary>
/// An in-room message. <see cref="Json"/> is the UTF-8 JSON object delivered to clients as is — for messages
/// built by <see cref="IRoomParticipant.SendRoomMessageAsync"/> it is ZEGO's <c>msg_content</c> shape
/// <c>{"Timestamp","TimestampMs","SeqId","Round","Cmd","Data"}</c>.
/// </summary>
public sealed class RoomMessage
{
    internal RoomMessage(string fromUserId, byte[] json, IReadOnlyList<string>? toUserIds, long seqId)
    {
        FromUserId = fromUserId;
        JsonBytes = json;
        ToUserIds = toUserIds;
        SeqId = seqId;
    }

    /// <summary>The sender's UserId.</summary>
    public string FromUserId { get; }

    /// <summary>The recipients, or null for everyone in the room except the sender.</summary>
    public IReadOnlyList<string>? ToUserIds { get; }

    /// <summary>The sender's SeqId for messages built by the room (0 for raw client messages).</summary>
    public long SeqId { get; }

    internal byte[] JsonBytes { get; }

    /// <summary>The message JSON object as UTF-8.</summary>
    public ReadOnlyMemory<byte> Json => JsonBytes;

    /// <summary>Parses <see cref="Json"/> (a fresh, independent element).</summary>
    public JsonElement ToJsonElement()
    {
        using var document = JsonDocument.Parse(JsonBytes);
        return document.RootElement.Clone();
    }
}

/// <summary>A published stream in a room.</summary>
/// <param name="ExtraInfo">The stream's extra info set by its publisher ("" = none; ZEGO's stream extra info).</param>
public readonly record struct RoomStreamInfo(string StreamId, string UserId, string ExtraInfo = "");

/// <summary>A user in a room.</summary>
public readonly record struct RoomUserInfo(string UserId, bool IsAgent);

/// <summary>Why a participant is no longer in its room.</summary>
public enum RoomLeaveReason
{
    /// <summary>It left (disposed, logout or disconnect).</summary>
    Left,

    /// <summary>A second login with the same UserId replaced it.</summary>
    Kicked,

    /// <summary>It did not drain its event queue and the queue overflowed.</summary>
    EventQueueOverflow,

    /// <summary>The room server is shutting down.</summary>
    Shutdown,
}
