namespace Parley.Rtc;

/// <summary>Room server settings, bound from the configuration section <c>Parley:Rtc</c>. Defaults suit a single server.</summary>
public sealed class ParleyRtcOptions
{
    public const string SectionName = "Parley:Rtc";

    /// <summary>When true (default) a WebSocket Login must carry a valid Token04. When false, a missing token is accepted (development only); a token that is given is still verified.</summary>
    public bool RequireToken { get; set; } = true;

    /// <summary>App secrets for the default <see cref="Tokens.IRoomAppDirectory"/>: AppId (decimal string) → ServerSecret. Ignored when the host registers its own directory.</summary>
    public Dictionary<string, string> Apps { get; set; } = [];

    /// <summary>Room events buffered per participant before it is considered stalled and removed.</summary>
    public int EventQueueCapacity { get; set; } = 1024;

    /// <summary>20 ms frames buffered per player before the oldest are dropped (25 = 500 ms).</summary>
    public int PlayerQueueFrames { get; set; } = 25;

    /// <summary>Chunks buffered per WebSocket-published stream before the oldest are dropped (live microphone audio; 100 × 20 ms = 2 s).</summary>
    public int LivePublishQueueChunks { get; set; } = 100;

    /// <summary>
    /// Chunks buffered per in-process published stream before <see cref="Rooms.IRoomAudioOutput.WriteAsync"/> waits
    /// (1024 ≈ a minute of TTS audio: a whole reply is queued at once, so the agent knows how much of it has been played).
    /// </summary>
    public int OutputQueueChunks { get; set; } = 1024;

    /// <summary>Control messages queued per WebSocket connection; a client that lets this overflow is disconnected.</summary>
    public int SendQueueCapacity { get; set; } = 512;

    /// <summary>Largest accepted WebSocket message (text or binary), in bytes.</summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Largest accepted in-room message JSON from a client, in bytes.</summary>
    public int MaxRoomMessageBytes { get; set; } = 8 * 1024;

    /// <summary>Time a new connection has to send Login.</summary>
    public TimeSpan LoginTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Rooms one user (app and UserId) may be in at once over WebSocket logins. A Token04 without <c>room_id</c> opens any
    /// room until it expires, and one login is one room, so this bounds the connections a token can hold open.
    /// </summary>
    public int MaxRoomsPerUser { get; set; } = 8;

    /// <summary>Error replies after which a connection is closed as a protocol violation.</summary>
    public int MaxErrorsPerConnection { get; set; } = 100;

    /// <summary>WebRTC media negotiated over the room WebSocket (<c>WebRtcOffer</c>), section <c>Parley:Rtc:WebRtc</c>.</summary>
    public WebRtc.WebRtcSettings WebRtc { get; set; } = new();
}
