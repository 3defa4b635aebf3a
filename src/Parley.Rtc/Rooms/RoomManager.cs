using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Parley.Rtc.Rooms;

/// <summary>
/// The rooms of this server. Lock order: the manager's gate, then a room's gate. Membership changes take both;
/// stream and message operations take only the room's gate, so rooms never wait on each other for audio.
/// </summary>
internal sealed partial class RoomManager : IRoomManager, IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Room> _rooms = new(StringComparer.Ordinal);

    /// <summary>Rooms each limited user (a WebSocket login's app and UserId) is in now; guarded by the manager's gate.</summary>
    private readonly Dictionary<RoomUserKey, int> _roomsPerUser = [];
    private bool _disposed;

    public RoomManager(IOptions<ParleyRtcOptions> options, TimeProvider timeProvider, ILogger<RoomManager> logger)
    {
        Options = options.Value;
        TimeProvider = timeProvider;
        Logger = logger;
    }

    internal ParleyRtcOptions Options { get; }

    internal TimeProvider TimeProvider { get; }

    internal ILogger Logger { get; }

    public int RoomCount
    {
        get
        {
            lock (_gate)
            {
                return _rooms.Count;
            }
        }
    }

    public ValueTask<IRoomParticipant> JoinAsync(string roomId, string userId, bool isAgent, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<IRoomParticipant>(Join(roomId, userId, isAgent));
    }

    /// <param name="limitKey">
    /// For a client's login: who it is (app and UserId), counted against <see cref="ParleyRtcOptions.MaxRoomsPerUser"/>
    /// across rooms. A login that replaces the same user in the same room does not count twice. Null (in-process agents): not limited.
    /// </param>
    internal RoomParticipant Join(string roomId, string userId, bool isAgent, RoomUserKey? limitKey = null)
    {
        RoomIds.ThrowIfInvalid(RoomIds.ValidateRoomId(roomId), nameof(roomId));
        RoomIds.ThrowIfInvalid(RoomIds.ValidateUserId(userId), nameof(userId));
        RoomParticipant? kicked = null;
        RoomParticipant participant;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _rooms.TryGetValue(roomId, out var room);
            if (limitKey is { } key)
            {
                RoomParticipant? same = null;
                var replaces = room is not null && TryGetUser(room, userId, out same) && same!.LimitKey == key;
                if (!replaces && _roomsPerUser.GetValueOrDefault(key) >= Options.MaxRoomsPerUser)
                {
                    throw new RoomException(
                        RoomErrorCode.TooManyRooms,
                        $"UserId '{userId}' is already in {Options.MaxRoomsPerUser} rooms, the most one user may be in at once (Parley:Rtc:MaxRoomsPerUser); leave one first");
                }
            }

            if (room is null)
            {
                room = new Room(roomId, this);
                _rooms.Add(roomId, room);
                LogRoomCreated(Logger, roomId);
            }

            lock (room.Gate)
            {
                if (room.Users.TryGetValue(userId, out var existing))
                {
                    room.RemoveLocked(existing, RoomLeaveReason.Kicked);
                    Uncount(existing);
                    kicked = existing;
                }

                participant = new RoomParticipant(room, userId, isAgent, room.SnapshotStreamsLocked(), room.SnapshotUsersLocked(), limitKey);
                room.AddLocked(participant);
                if (limitKey is { } counted)
                {
                    _roomsPerUser[counted] = _roomsPerUser.GetValueOrDefault(counted) + 1;
                }
            }
        }

        if (kicked is not null)
        {
            LogKicked(Logger, roomId, userId);
            kicked.AfterRemoved();
        }

        LogJoined(Logger, roomId, userId, isAgent);
        return participant;
    }

    internal void Leave(RoomParticipant participant, RoomLeaveReason reason)
    {
        bool removed;
        lock (_gate)
        {
            var room = participant.Room;
            lock (room.Gate)
            {
                removed = room.RemoveLocked(participant, reason);
                if (removed)
                {
                    Uncount(participant);
                }

                if (room.Users.Count == 0 && _rooms.TryGetValue(room.Id, out var current) && ReferenceEquals(current, room))
                {
                    _rooms.Remove(room.Id);
                    LogRoomRemoved(Logger, room.Id);
                }
            }
        }

        if (removed)
        {
            LogLeft(Logger, participant.RoomId, participant.UserId, reason);
            participant.AfterRemoved();
        }
    }

    private static bool TryGetUser(Room room, string userId, out RoomParticipant? participant)
    {
        lock (room.Gate)
        {
            return room.Users.TryGetValue(userId, out participant);
        }
    }

    /// <summary>Under the manager's gate: a removed participant no longer counts against its user's rooms.</summary>
    private void Uncount(RoomParticipant participant)
    {
        if (participant.LimitKey is { } key && _roomsPerUser.TryGetValue(key, out var count))
        {
            if (count <= 1)
            {
                _roomsPerUser.Remove(key);
            }
            else
            {
                _roomsPerUser[key] = count - 1;
            }
        }
    }

    /// <summary>Called under a room's gate when a participant's event queue overflowed: it is removed off that lock.</summary>
    internal void ScheduleOverflowLeave(RoomParticipant participant) =>
        ThreadPool.UnsafeQueueUserWorkItem(static p => p.Manager.Leave(p, RoomLeaveReason.EventQueueOverflow), participant, preferLocal: false);

    public int GetRealUserCount(string roomId)
    {
        var room = Find(roomId);
        if (room is null)
        {
            return 0;
        }

        lock (room.Gate)
        {
            return room.RealUsers;
        }
    }

    public IReadOnlyList<RoomStreamInfo> GetStreams(string roomId)
    {
        var room = Find(roomId);
        if (room is null)
        {
            return [];
        }

        lock (room.Gate)
        {
            return room.SnapshotStreamsLocked();
        }
    }

    public IReadOnlyList<RoomUserInfo> GetUsers(string roomId)
    {
        var room = Find(roomId);
        if (room is null)
        {
            return [];
        }

        lock (room.Gate)
        {
            var users = new List<RoomUserInfo>(room.Users.Count);
            foreach (var user in room.Users.Values)
            {
                users.Add(new RoomUserInfo(user.UserId, user.IsAgent));
            }

            return users;
        }
    }

    private Room? Find(string roomId)
    {
        lock (_gate)
        {
            return _rooms.GetValueOrDefault(roomId);
        }
    }

    public void Dispose()
    {
        List<RoomParticipant> all = [];
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var room in _rooms.Values)
            {
                lock (room.Gate)
                {
                    all.AddRange(room.Users.Values);
                }
            }
        }

        foreach (var participant in all)
        {
            Leave(participant, RoomLeaveReason.Shutdown);
        }
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Debug, Message = "Room {RoomId} created")]
    private static partial void LogRoomCreated(ILogger logger, string roomId);

    [LoggerMessage(EventId = 101, Level = LogLevel.Debug, Message = "Room {RoomId} removed (empty)")]
    private static partial void LogRoomRemoved(ILogger logger, string roomId);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "User {UserId} joined room {RoomId} (agent: {IsAgent})")]
    private static partial void LogJoined(ILogger logger, string roomId, string userId, bool isAgent);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "User {UserId} left room {RoomId}: {Reason}")]
    private static partial void LogLeft(ILogger logger, string roomId, string userId, RoomLeaveReason reason);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "User {UserId} in room {RoomId} was kicked by a second login with the same UserId")]
    private static partial void LogKicked(ILogger logger, string roomId, string userId);
}
