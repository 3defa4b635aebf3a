using Parley.Providers.Net;

namespace Parley.Providers.Tencent;

/// <summary>
/// Where and how Parley talks to Tencent Cloud real-time speech recognition (section <c>Parley:Vendors:Tencent</c>),
/// ZEGO's default ASR. ZEGO supplies its own Tencent credentials, so a deployment sets its own here
/// (<c>Parley__Vendors__Tencent__SecretKey</c> from the environment); an agent's <c>Params.app</c> overrides them.
/// </summary>
public sealed class TencentAsrOptions
{
    public const string SectionName = "Parley:Vendors:Tencent";

    /// <summary>The endpoint without the AppId: <c>wss://asr.cloud.tencent.com/asr/v2</c> (the AppId is appended as the last path segment).</summary>
    public const string DefaultUrl = "wss://asr.cloud.tencent.com/asr/v2";

    public string Url { get; set; } = DefaultUrl;

    /// <summary>The Tencent Cloud AppId (digits) used when an agent's Params give none.</summary>
    public string? AppId { get; set; }

    /// <summary>The SecretId used when an agent's Params give none.</summary>
    public string? SecretId { get; set; }

    /// <summary>The SecretKey (signs each connection URL; never sent, never logged).</summary>
    public string? SecretKey { get; set; }

    /// <summary><c>engine_model_type</c> when Params give none (ZEGO's default: 16k_zh).</summary>
    public string EngineModelType { get; set; } = "16k_zh";

    /// <summary>How long a signed URL is valid (<c>expired</c> = <c>timestamp</c> + this).</summary>
    public TimeSpan SignatureLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Limit for the WebSocket handshake and Tencent's handshake answer.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit for the final result (final=1) after <c>{"type":"end"}</c>.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A connection opened ahead of the next utterance is replaced after this long unused (Tencent ends a connection
    /// that receives no audio for 15 s), so an utterance never starts on a connection about to time out.
    /// </summary>
    public TimeSpan WarmConnectionLifetime { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>
    /// How long after the stream opened or an utterance's final a warm connection is kept ready (replaced every
    /// <see cref="WarmConnectionLifetime"/>): long enough to cover the agent's reply, after which the user usually
    /// speaks. Past it an idle session holds no connection and pays no handshakes; its next utterance connects at its
    /// first audio, which waits in the stream's queue for the handshake (about 3 ms against the loopback fake, one
    /// TCP + TLS + upgrade + Tencent's answer, roughly 3–4 round trips, against Tencent) and then goes out at once.
    /// Zero: never kept warm.
    /// </summary>
    public TimeSpan WarmWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest JSON message accepted from Tencent.</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting when one is out of range.</summary>
    public void Validate()
    {
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || (uri.Scheme != "ws" && uri.Scheme != "wss"))
        {
            throw new ArgumentException($"{SectionName}:Url must be an absolute ws:// or wss:// URL.", nameof(Url));
        }

        if (OutboundPolicy.CheckConfiguredUrl(Url, OutboundProtocol.WebSocket) is { } refusal)
        {
            throw new ArgumentException($"{SectionName}:Url is refused by the outbound URL policy: it {refusal}.", nameof(Url));
        }

        if (!string.IsNullOrWhiteSpace(AppId) && !AppId.Trim().All(char.IsAsciiDigit))
        {
            throw new ArgumentException($"{SectionName}:AppId must be the numeric Tencent Cloud AppId.", nameof(AppId));
        }

        if (string.IsNullOrWhiteSpace(EngineModelType))
        {
            throw new ArgumentException($"{SectionName}:EngineModelType must not be empty.", nameof(EngineModelType));
        }

        if (MaxMessageBytes < 1024)
        {
            throw new ArgumentException($"{SectionName}:MaxMessageBytes must be at least 1024.", nameof(MaxMessageBytes));
        }

        if (SignatureLifetime <= TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero || ResponseTimeout <= TimeSpan.Zero || WarmConnectionLifetime <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{SectionName}: SignatureLifetime, ConnectTimeout, ResponseTimeout and WarmConnectionLifetime must be positive.");
        }

        if (WarmWindow < TimeSpan.Zero)
        {
            throw new ArgumentException($"{SectionName}:WarmWindow must not be negative.", nameof(WarmWindow));
        }
    }
}
