using Parley.Providers.Net;

namespace Parley.Providers.MiniMax;

/// <summary>Where and how Parley talks to MiniMax's T2A v2 WebSocket API (section <c>Parley:Vendors:MiniMax</c>).</summary>
public sealed class MiniMaxOptions
{
    public const string SectionName = "Parley:Vendors:MiniMax";

    /// <summary>
    /// ZEGO's default for <c>TTS.Url</c>: MiniMax's China host. The international host is
    /// <c>wss://api.minimax.io/ws/v1/t2a_v2</c>.
    /// </summary>
    public const string DefaultUrl = "wss://api.minimaxi.com/ws/v1/t2a_v2";

    /// <summary>The WebSocket endpoint (ws:// or wss://) when an agent gives no <c>TTS.Url</c>.</summary>
    public string Url { get; set; } = DefaultUrl;

    /// <summary>Started tasks kept open per endpoint, API key and voice settings between sentences (a sentence then pays no handshake).</summary>
    public int MaxIdleSessionsPerKey { get; set; } = 8;

    /// <summary>An idle session older than this is closed instead of reused (MiniMax closes connections idle for 120 s).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>Limit for the TCP/TLS/WebSocket handshake.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit for each answer: connected_success, task_started, and the gap between two audio messages.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Largest JSON message accepted (audio arrives hex-encoded inside JSON, so this is larger than for DashScope).</summary>
    public int MaxMessageBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting when one is out of range.</summary>
    public void Validate()
    {
        if (VendorUrls.WebSocketUrlError(Url, SectionName + ":Url") is { } error)
        {
            throw new ArgumentException(error, nameof(Url));
        }

        if (MaxMessageBytes < 64 * 1024)
        {
            throw new ArgumentException($"{SectionName}:MaxMessageBytes must be at least 65536.", nameof(MaxMessageBytes));
        }

        if (MaxIdleSessionsPerKey < 0)
        {
            throw new ArgumentException($"{SectionName}:MaxIdleSessionsPerKey must not be negative.", nameof(MaxIdleSessionsPerKey));
        }

        if (IdleTimeout <= TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero || ResponseTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{SectionName}: IdleTimeout, ConnectTimeout and ResponseTimeout must be positive.");
        }
    }
}
