using Parley.Providers.Net;

namespace Parley.Providers.Volcengine;

/// <summary>Where one Volcengine vendor connects and, for ASR, the deployment's default credentials.</summary>
public sealed class VolcVendorOptions
{
    /// <summary>The endpoint (null = the vendor's public default); an agent's <c>TTS.Url</c> wins over it.</summary>
    public string? Url { get; set; }

    /// <summary>Default APP ID when an agent gives none (VolcSeedASR: ZEGO supplies its own ASR credentials).</summary>
    public string? AppId { get; set; }

    /// <summary>Default access token (never logged); set it from the environment, e.g. <c>Parley__Vendors__VolcSeedASR__AccessToken</c>.</summary>
    public string? AccessToken { get; set; }

    /// <summary>Default resource id (<c>X-Api-Resource-Id</c>).</summary>
    public string? ResourceId { get; set; }
}

/// <summary>
/// The Volcengine (ByteDance) speech vendors: <c>Parley:Vendors:ByteDanceV3</c>, <c>:ByteDanceFlowing</c>,
/// <c>:ByteDance</c>, <c>:VolcSeedASR</c> (each <see cref="VolcVendorOptions"/>) and the shared limits in
/// <c>Parley:Vendors:Volcengine</c>.
/// </summary>
public sealed class VolcengineOptions
{
    public const string SharedSection = "Parley:Vendors:Volcengine";

    public const string ByteDanceV3Url = "wss://openspeech.bytedance.com/api/v3/tts/unidirectional/stream";
    public const string ByteDanceFlowingUrl = "wss://openspeech.bytedance.com/api/v3/tts/bidirection";
    public const string ByteDanceHttpUrl = "https://openspeech.bytedance.com/api/v1/tts";
    public const string VolcSeedAsrUrl = "wss://openspeech.bytedance.com/api/v3/sauc/bigmodel";

    public VolcVendorOptions ByteDanceV3 { get; set; } = new();

    public VolcVendorOptions ByteDanceFlowing { get; set; } = new();

    public VolcVendorOptions ByteDance { get; set; } = new();

    public VolcVendorOptions VolcSeedASR { get; set; } = new();

    /// <summary>Idle V3 TTS connections kept per endpoint and credentials (sessions run one after another on a connection).</summary>
    public int MaxIdleConnectionsPerKey { get; set; } = 8;

    /// <summary>An idle connection older than this is closed instead of reused.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit for each answer the protocol waits for (ConnectionStarted, SessionStarted, the next audio, the final result).</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Largest message accepted (default 4 MiB): a frame of audio or one HTTP TTS reply.</summary>
    public int MaxMessageBytes { get; set; } = 4 * 1024 * 1024;

    public string TtsV3Url => ByteDanceV3.Url ?? ByteDanceV3Url;

    public string FlowingUrl => ByteDanceFlowing.Url ?? ByteDanceFlowingUrl;

    public string HttpTtsUrl => ByteDance.Url ?? ByteDanceHttpUrl;

    public string AsrUrl => VolcSeedASR.Url ?? VolcSeedAsrUrl;

    /// <summary>The first setting out of range, named, or null.</summary>
    public string? Error()
    {
        foreach (var (name, url, protocol) in new[]
        {
            ("ByteDanceV3", TtsV3Url, OutboundProtocol.WebSocket), ("ByteDanceFlowing", FlowingUrl, OutboundProtocol.WebSocket),
            ("ByteDance", HttpTtsUrl, OutboundProtocol.Http), ("VolcSeedASR", AsrUrl, OutboundProtocol.WebSocket),
        })
        {
            if (OutboundPolicy.CheckConfiguredUrl(url, protocol) is { } refusal)
            {
                return $"Parley:Vendors:{name}:Url {refusal}";
            }
        }

        if (MaxMessageBytes < 4096)
        {
            return $"{SharedSection}:MaxMessageBytes must be at least 4096";
        }

        if (MaxIdleConnectionsPerKey < 0)
        {
            return $"{SharedSection}:MaxIdleConnectionsPerKey must not be negative";
        }

        return IdleTimeout <= TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero || ResponseTimeout <= TimeSpan.Zero
            ? $"{SharedSection}: IdleTimeout, ConnectTimeout and ResponseTimeout must be positive"
            : null;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting when one is out of range.</summary>
    public void Validate()
    {
        if (Error() is { } error)
        {
            throw new ArgumentException(error + ".");
        }
    }
}
