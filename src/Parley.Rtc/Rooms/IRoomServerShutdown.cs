namespace Parley.Rtc.Rooms;

/// <summary>
/// When the room server ends its connections. Without one the connections end when the host starts stopping
/// (<c>IHostApplicationLifetime.ApplicationStopping</c>); a host that drains (a cluster node at SIGTERM) registers its
/// own, which fires only after the drain, so live calls go on meanwhile.
/// </summary>
public interface IRoomServerShutdown
{
    /// <summary>Cancelled when the room connections must end.</summary>
    CancellationToken Stopping { get; }
}
