using System.Net.WebSockets;
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
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var roomEvent))
                {
                    if (ToJson(roomEvent) is { } frame)
                    {
                        connection.Send(frame);
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

    /// <summary>The event as the client sees it; null for events clients are not told about.</summary>
    public static byte[]? ToJson(in RoomEvent roomEvent)
    {
        switch (roomEvent.Kind)
        {
            case RoomEventKind.UserJoined:
            case RoomEventKind.UserLeft:
                return RtcSignaling.Build(static (w, e) =>
                {
                    w.WriteString("Type", e.Kind == RoomEventKind.UserJoined ? "UserJoined" : "UserLeft");
                    w.WriteString("UserId", e.UserId);
                }, roomEvent);
            case RoomEventKind.StreamAdded:
            case RoomEventKind.StreamRemoved:
                return RtcSignaling.Build(static (w, e) =>
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
                return RtcSignaling.Build(static (w, e) =>
                {
                    w.WriteString("Type", "RoomMessage");
                    w.WriteString("FromUserId", e.Message!.FromUserId);
                    w.WritePropertyName("Message");
                    w.WriteRawValue(e.Message.JsonBytes, skipInputValidation: true);
                }, roomEvent);
            case RoomEventKind.Kicked:
                return RtcSignaling.Build(static (w, _) =>
                {
                    w.WriteString("Type", "Kicked");
                    w.WriteNumber("Code", RtcCodes.Kicked);
                    w.WriteString("Message", "another login with the same UserId replaced this one");
                }, roomEvent);
            default:
                return null;
        }
    }
}
