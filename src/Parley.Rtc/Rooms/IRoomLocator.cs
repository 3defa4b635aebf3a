namespace Parley.Rtc.Rooms;

/// <summary>
/// Where a room lives in a cluster: a room's media stays on the node that hosts its agent, so a client that logs in on
/// another node is redirected there (LoginResult code <see cref="WebSockets.RtcCodes.RoomOnAnotherNode"/> with
/// <c>Redirect</c>, the owner's <c>/rtc/ws</c> URL). Absent on a single node.
/// </summary>
public interface IRoomLocator
{
    /// <summary>
    /// The public base URL (http(s)://host:port/) of another node that hosts an agent in the room
    /// <paramref name="roomId"/> of <paramref name="appId"/>, or null when the room is here or nowhere.
    /// </summary>
    ValueTask<Uri?> FindOtherOwnerAsync(uint appId, string roomId, CancellationToken cancellationToken);
}
