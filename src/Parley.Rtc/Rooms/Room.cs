namespace Parley.Rtc.Rooms;

/// <summary>One room's state; every field is guarded by <see cref="Gate"/>.</summary>
internal sealed class Room(string id, RoomManager manager)
{
    public string Id { get; } = id;

    public RoomManager Manager { get; } = manager;

    public object Gate { get; } = new();

    public Dictionary<string, RoomParticipant> Users { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, StreamPublication> Streams { get; } = new(StringComparer.Ordinal);

    /// <summary>Players by stream id, including players waiting for a stream that is not published (yet, or any more).</summary>
    public Dictionary<string, List<StreamPlayer>> Players { get; } = new(StringComparer.Ordinal);

    public int RealUsers { get; private set; }

    public RoomStreamInfo[] SnapshotStreamsLocked()
    {
        var streams = new RoomStreamInfo[Streams.Count];
        var i = 0;
        foreach (var stream in Streams.Values)
        {
            streams[i++] = new RoomStreamInfo(stream.StreamId, stream.Owner.UserId, stream.ExtraInfo);
        }

        return streams;
    }

    public RoomUserInfo[] SnapshotUsersLocked()
    {
        var users = new RoomUserInfo[Users.Count];
        var i = 0;
        foreach (var user in Users.Values)
        {
            users[i++] = new RoomUserInfo(user.UserId, user.IsAgent);
        }

        return users;
    }

    public void AddLocked(RoomParticipant participant)
    {
        Users.Add(participant.UserId, participant);
        BroadcastLocked(new RoomEvent(RoomEventKind.UserJoined, Id, participant.UserId), participant);
        if (!participant.IsAgent)
        {
            RealUsers++;
            BroadcastLocked(new RoomEvent(RoomEventKind.RealUserCountChanged, Id, participant.UserId, RealUserCount: RealUsers), participant);
        }
    }

    /// <summary>Removes <paramref name="participant"/> with its streams and players; false when it was not (or no longer) in the room.</summary>
    public bool RemoveLocked(RoomParticipant participant, RoomLeaveReason reason)
    {
        if (!Users.TryGetValue(participant.UserId, out var current) || !ReferenceEquals(current, participant))
        {
            return false;
        }

        Users.Remove(participant.UserId);
        participant.LeaveReasonLocked = reason;
        if (reason == RoomLeaveReason.Kicked)
        {
            participant.TryPost(new RoomEvent(RoomEventKind.Kicked, Id, participant.UserId));
        }

        foreach (var publication in participant.Publications.ToArray())
        {
            UnpublishLocked(publication);
        }

        foreach (var player in participant.Players.ToArray())
        {
            RemovePlayerLocked(player);
        }

        BroadcastLocked(new RoomEvent(RoomEventKind.UserLeft, Id, participant.UserId), participant);
        if (!participant.IsAgent)
        {
            RealUsers--;
            BroadcastLocked(new RoomEvent(RoomEventKind.RealUserCountChanged, Id, participant.UserId, RealUserCount: RealUsers), participant);
        }

        participant.CompleteEventsLocked();
        return true;
    }

    public StreamPublication PublishLocked(RoomParticipant owner, string streamId, bool live, string extraInfo = "")
    {
        if (!Users.TryGetValue(owner.UserId, out var current) || !ReferenceEquals(current, owner))
        {
            throw new RoomException(RoomErrorCode.NotInRoom, $"user '{owner.UserId}' is no longer in room '{Id}'");
        }

        if (Streams.TryGetValue(streamId, out var existing))
        {
            throw ReferenceEquals(existing.Owner, owner)
                ? new RoomException(RoomErrorCode.AlreadyPublishing, $"StreamId '{streamId}' is already published by this user", nameof(streamId))
                : new RoomException(RoomErrorCode.StreamIdInUse, $"StreamId '{streamId}' is already published in room '{Id}' by user '{existing.Owner.UserId}'", nameof(streamId));
        }

        var publication = new StreamPublication(this, owner, streamId, live) { ExtraInfo = extraInfo };
        Streams.Add(streamId, publication);
        owner.Publications.Add(publication);
        publication.Players = Players.TryGetValue(streamId, out var players) ? [.. players] : [];
        BroadcastLocked(new RoomEvent(RoomEventKind.StreamAdded, Id, owner.UserId, streamId, ExtraInfo: extraInfo), owner);
        publication.Start();
        return publication;
    }

    public void UnpublishLocked(StreamPublication publication)
    {
        if (!Streams.TryGetValue(publication.StreamId, out var current) || !ReferenceEquals(current, publication))
        {
            return;
        }

        Streams.Remove(publication.StreamId);
        publication.Owner.Publications.Remove(publication);
        publication.StopLocked();
        BroadcastLocked(new RoomEvent(RoomEventKind.StreamRemoved, Id, publication.Owner.UserId, publication.StreamId), publication.Owner);
    }

    public void AddPlayerLocked(StreamPlayer player)
    {
        if (!Users.TryGetValue(player.Owner.UserId, out var current) || !ReferenceEquals(current, player.Owner))
        {
            throw new RoomException(RoomErrorCode.NotInRoom, $"user '{player.Owner.UserId}' is no longer in room '{Id}'");
        }

        if (!Players.TryGetValue(player.StreamId, out var list))
        {
            list = [];
            Players.Add(player.StreamId, list);
        }

        list.Add(player);
        player.Owner.Players.Add(player);
        if (Streams.TryGetValue(player.StreamId, out var publication))
        {
            publication.Players = [.. list];
        }
    }

    public void RemovePlayerLocked(StreamPlayer player)
    {
        if (!Players.TryGetValue(player.StreamId, out var list) || !list.Remove(player))
        {
            return;
        }

        player.Owner.Players.Remove(player);
        if (list.Count == 0)
        {
            Players.Remove(player.StreamId);
        }

        if (Streams.TryGetValue(player.StreamId, out var publication))
        {
            publication.Players = [.. list];
        }

        player.Complete();
    }

    public void SendMessageLocked(RoomParticipant sender, RoomMessage message)
    {
        if (message.ToUserIds is { } targets)
        {
            foreach (var target in targets)
            {
                if (Users.TryGetValue(target, out var user) && !ReferenceEquals(user, sender))
                {
                    user.TryPost(new RoomEvent(RoomEventKind.RoomMessage, Id, sender.UserId, Message: message));
                }
            }

            return;
        }

        BroadcastLocked(new RoomEvent(RoomEventKind.RoomMessage, Id, sender.UserId, Message: message), sender);
    }

    public void BroadcastLocked(in RoomEvent roomEvent, RoomParticipant? except)
    {
        foreach (var user in Users.Values)
        {
            if (!ReferenceEquals(user, except))
            {
                user.TryPost(roomEvent);
            }
        }
    }
}
