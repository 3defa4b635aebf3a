using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Parley.Abstractions.Text;

namespace Parley.Rtc.Rooms;

internal sealed class RoomParticipant : IRoomParticipant
{
    private readonly Channel<RoomEvent> _events;
    private readonly CancellationTokenSource _closed = new();
    private long _seqId;
    private int _overflowed;

    public RoomParticipant(Room room, string userId, bool isAgent, RoomStreamInfo[] streams, RoomUserInfo[] users, RoomUserKey? limitKey = null)
    {
        Room = room;
        UserId = userId;
        IsAgent = isAgent;
        LimitKey = limitKey;
        InitialStreams = streams;
        InitialUsers = users;
        _events = Channel.CreateBounded<RoomEvent>(new BoundedChannelOptions(room.Manager.Options.EventQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public Room Room { get; }

    public RoomManager Manager => Room.Manager;

    public string RoomId => Room.Id;

    public string UserId { get; }

    public bool IsAgent { get; }

    /// <summary>The user this participant counts against for <see cref="ParleyRtcOptions.MaxRoomsPerUser"/>; null when not limited.</summary>
    internal RoomUserKey? LimitKey { get; }

    public ChannelReader<RoomEvent> Events => _events.Reader;

    public CancellationToken Closed => _closed.Token;

    /// <summary>Guarded by the room's gate.</summary>
    internal RoomLeaveReason? LeaveReasonLocked { get; set; }

    public RoomLeaveReason? LeaveReason
    {
        get
        {
            lock (Room.Gate)
            {
                return LeaveReasonLocked;
            }
        }
    }

    public int RealUserCount
    {
        get
        {
            lock (Room.Gate)
            {
                return Room.RealUsers;
            }
        }
    }

    public IReadOnlyList<RoomStreamInfo> InitialStreams { get; }

    public IReadOnlyList<RoomUserInfo> InitialUsers { get; }

    /// <summary>Guarded by the room's gate.</summary>
    internal List<StreamPublication> Publications { get; } = [];

    /// <summary>Guarded by the room's gate.</summary>
    internal List<StreamPlayer> Players { get; } = [];

    public ValueTask<IRoomAudioOutput> PublishAsync(string streamId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<IRoomAudioOutput>(Publish(streamId, live: false));
    }

    public ValueTask<IRoomAudioOutput> PublishAsync(string streamId, string extraInfo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(extraInfo);
        if (System.Text.Encoding.UTF8.GetByteCount(extraInfo) > MaxExtraInfoBytes)
        {
            throw new ArgumentException($"a stream's extra info is at most {MaxExtraInfoBytes} bytes of UTF-8", nameof(extraInfo));
        }

        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<IRoomAudioOutput>(Publish(streamId, live: false, extraInfo));
    }

    /// <summary>Largest stream extra info (ZEGO's limit on <c>RTC.StreamExtraInfo</c>).</summary>
    public const int MaxExtraInfoBytes = 1024;

    public ValueTask<IRoomLiveAudioOutput> PublishLiveAsync(string streamId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<IRoomLiveAudioOutput>(Publish(streamId, live: true));
    }

    /// <summary>Publishes a stream. Live streams (transport microphones) drop their oldest queued audio instead of making the writer wait.</summary>
    internal StreamPublication Publish(string streamId, bool live, string extraInfo = "")
    {
        RoomIds.ThrowIfInvalid(RoomIds.ValidateStreamId(streamId), nameof(streamId));
        lock (Room.Gate)
        {
            return Room.PublishLocked(this, streamId, live, extraInfo);
        }
    }

    internal void Unpublish(StreamPublication publication)
    {
        lock (Room.Gate)
        {
            Room.UnpublishLocked(publication);
        }
    }

    public ValueTask<IRoomAudioInput> PlayAsync(string streamId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<IRoomAudioInput>(Play(streamId));
    }

    public ValueTask<IRoomAudioInput> PlayAsync(string streamId, IRoomAudioReceiver receiver, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<IRoomAudioInput>(Play(streamId, receiver));
    }

    internal StreamPlayer Play(string streamId, IRoomAudioReceiver? receiver = null)
    {
        RoomIds.ThrowIfInvalid(RoomIds.ValidateStreamId(streamId), nameof(streamId));
        var player = new StreamPlayer(this, streamId, Manager.Options.PlayerQueueFrames, receiver);
        lock (Room.Gate)
        {
            Room.AddPlayerLocked(player);
        }

        return player;
    }

    internal void StopPlaying(StreamPlayer player)
    {
        lock (Room.Gate)
        {
            Room.RemovePlayerLocked(player);
        }

        player.Complete();
    }

    public ValueTask<long> SendRoomMessageAsync(int cmd, long round, JsonNode? data, IReadOnlyList<string>? toUserIds, CancellationToken cancellationToken) =>
        SendRoomMessageAsync(cmd, round, new NodeData(data), toUserIds, cancellationToken);

    public ValueTask<long> SendRoomMessageAsync<TData>(int cmd, long round, TData data, IReadOnlyList<string>? toUserIds, CancellationToken cancellationToken)
        where TData : IRoomMessageData
    {
        cancellationToken.ThrowIfCancellationRequested();
        var seqId = Interlocked.Increment(ref _seqId);
        var now = Manager.TimeProvider.GetUtcNow();
        var json = JsonScratch.Build(static (writer, s) =>
        {
            writer.WriteNumber("Timestamp", s.now.ToUnixTimeSeconds());
            writer.WriteNumber("TimestampMs", s.now.ToUnixTimeMilliseconds());
            writer.WriteNumber("SeqId", s.seqId);
            writer.WriteNumber("Round", s.round);
            writer.WriteNumber("Cmd", s.cmd);
            writer.WritePropertyName("Data");
            s.data.WriteTo(writer);
        }, (now, seqId, round, cmd, data));

        Send(new RoomMessage(UserId, json, toUserIds, seqId));
        return new ValueTask<long>(seqId);
    }

    public ValueTask SendRawMessageAsync(ReadOnlyMemory<byte> json, IReadOnlyList<string>? toUserIds, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"A room message must be one UTF-8 JSON object: {ex.Message}", nameof(json), ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ArgumentException("A room message must be one JSON object.", nameof(json));
            }

            if (JsonTextCheck.Find(document.RootElement) is { IsNone: false } problem)
            {
                throw new ArgumentException(problem.Describe(), nameof(json));
            }
        }

        SendRaw(json.ToArray(), toUserIds);
        return ValueTask.CompletedTask;
    }

    /// <summary>Sends a message whose JSON the caller built (a transport client's own message), as is.</summary>
    internal void SendRaw(byte[] json, IReadOnlyList<string>? toUserIds) => Send(new RoomMessage(UserId, json, toUserIds, 0));

    private void Send(RoomMessage message)
    {
        lock (Room.Gate)
        {
            if (LeaveReasonLocked is not null)
            {
                throw new RoomException(RoomErrorCode.NotInRoom, $"user '{UserId}' is no longer in room '{RoomId}'");
            }

            Room.SendMessageLocked(this, message);
        }
    }

    /// <summary>Posts an event; called under the room's gate. Overflow removes the participant (asynchronously).</summary>
    internal void TryPost(in RoomEvent roomEvent)
    {
        if (_events.Writer.TryWrite(roomEvent))
        {
            return;
        }

        if (LeaveReasonLocked is null && Interlocked.Exchange(ref _overflowed, 1) == 0)
        {
            Manager.ScheduleOverflowLeave(this);
        }
    }

    internal void CompleteEventsLocked() => _events.Writer.TryComplete();

    /// <summary>Runs after removal, outside every lock: wakes whoever waits on <see cref="Closed"/>.</summary>
    internal void AfterRemoved()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        Manager.Leave(this, RoomLeaveReason.Left);
        return ValueTask.CompletedTask;
    }
}

/// <summary>A JSON node as a room message's <c>Data</c> (null: an empty object).</summary>
internal readonly struct NodeData(JsonNode? node) : IRoomMessageData
{
    public void WriteTo(Utf8JsonWriter writer)
    {
        if (node is null)
        {
            writer.WriteStartObject();
            writer.WriteEndObject();
        }
        else
        {
            node.WriteTo(writer);
        }
    }
}
