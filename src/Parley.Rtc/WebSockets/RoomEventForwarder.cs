using System.Buffers;
using System.Net.WebSockets;
using Parley.Media;
using Parley.Rtc.Rooms;

namespace Parley.Rtc.WebSockets;

/// <summary>
/// Forwards a logged-in client's room events (joins, streams, messages, kick) to its WebSocket as JSON, and closes the
/// connection when the room removes the participant (kicked, slow consumer, shutdown).
/// </summary>
internal static class RoomEventForwarder
{
    public static async Task RunAsync(IRoomParticipant participant, RtcConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            var reader = participant.Events;
            using var waiter = new ChannelWaiter<RoomEvent>(reader, cancellationToken); // no allocation per wait
            while (await waiter.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var roomEvent))
                {
                    // Sent once, then dropped: the frame's bytes are rented, and returned by the connection once sent.
                    if (ToJsonPooled(roomEvent) is ({ } rented, var length))
                    {
                        connection.SendPooled(rented, length);
                    }

                    if (roomEvent.Kind == RoomEventKind.Kicked)
                    {
                        connection.RequestClose(WebSocketCloseStatus.NormalClosure, "kicked");
                    }
                }
            }

            switch (participant.LeaveReason)
            {
                case RoomLeaveReason.EventQueueOverflow:
                    connection.RequestClose(WebSocketCloseStatus.PolicyViolation, "slow consumer");
                    break;
                case RoomLeaveReason.Shutdown:
                    connection.RequestClose(WebSocketCloseStatus.EndpointUnavailable, "server shutting down");
                    break;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// The event as the client sees it, in an array rented from <see cref="ArrayPool{T}.Shared"/> (its first Length
    /// bytes); null for events clients are not told about.
    /// </summary>
    public static (byte[]? Rented, int Length) ToJsonPooled(in RoomEvent roomEvent)
    {
        switch (roomEvent.Kind)
        {
            case RoomEventKind.UserJoined:
            case RoomEventKind.UserLeft:
                return JsonScratch.BuildPooled(static (w, e) =>
                {
                    w.WriteString("Type", e.Kind == RoomEventKind.UserJoined ? "UserJoined" : "UserLeft");
                    w.WriteString("UserId", e.UserId);
                }, roomEvent);
            case RoomEventKind.StreamAdded:
            case RoomEventKind.StreamRemoved:
                return JsonScratch.BuildPooled(static (w, e) =>
                {
                    w.WriteString("Type", e.Kind == RoomEventKind.StreamAdded ? "StreamAdded" : "StreamRemoved");
                    w.WriteString("StreamId", e.StreamId);
                    w.WriteString("UserId", e.UserId);
                    if (e.Kind == RoomEventKind.StreamAdded && !string.IsNullOrEmpty(e.ExtraInfo))
                    {
                        w.WriteString("ExtraInfo", e.ExtraInfo);
                    }
                }, roomEvent);
            case RoomEventKind.RoomMessage:
                return JsonScratch.BuildPooled(static (w, e) =>
                {
                    w.WriteString("Type", "RoomMessage");
                    w.WriteString("FromUserId", e.Message!.FromUserId);
                    w.WritePropertyName("Message");
                    w.WriteRawValue(e.Message.JsonBytes, skipInputValidation: true);
                }, roomEvent);
            case RoomEventKind.Kicked:
                return JsonScratch.BuildPooled(static (w, _) =>
                {
                    w.WriteString("Type", "Kicked");
                    w.WriteNumber("Code", RtcCodes.Kicked);
                    w.WriteString("Message", "another login with the same UserId replaced this one");
                }, roomEvent);
            default:
                return (null, 0);
        }
    }
}
