namespace Parley.Providers.DashScope;

/// <summary>
/// Where and how Parley talks to Alibaba DashScope's WebSocket inference API (section <c>Parley:Vendors:DashScope</c>),
/// shared by the <c>CosyVoice</c> TTS and <c>AliyunParaformer</c> ASR vendors.
/// </summary>
public sealed class DashScopeOptions
{
    public const string SectionName = "Parley:Vendors:DashScope";

    public const string DefaultUrl = "wss://dashscope.aliyuncs.com/api-ws/v1/inference";

    /// <summary>The WebSocket endpoint (ws:// or wss://); point it at a regional endpoint, a proxy or a fake.</summary>
    public string Url { get; set; } = DefaultUrl;

    /// <summary>
    /// The deployment's DashScope API key, used when an agent's <c>Params.app.api_key</c> is absent or ZEGO's trial
    /// placeholder <c>zego_test</c> (ZEGO clients send <c>ASR.Vendor: "AliyunParaformer"</c> with no credentials, since
    /// ZEGO supplies its own). Set it from the environment (<c>Parley__Vendors__DashScope__ApiKey</c>); it is never logged.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Idle connections kept per endpoint and API key (tasks run one after another on a connection).</summary>
    public int MaxIdleConnectionsPerKey { get; set; } = 16;

    /// <summary>An idle connection older than this is closed instead of reused (DashScope drops connections idle for 60 s).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>Limit for the TCP/TLS/WebSocket handshake.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit for the server to answer run-task with task-started (or finish-task with task-finished).</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Largest JSON event accepted from DashScope (default 1 MiB; its events are a few hundred bytes). Audio arrives in pieces and is not limited by this.</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting when one is out of range.</summary>
    public void Validate()
    {
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || (uri.Scheme != "ws" && uri.Scheme != "wss"))
        {
            throw new ArgumentException($"{SectionName}:Url must be an absolute ws:// or wss:// URL.", nameof(Url));
        }

        if (Parley.Providers.Net.OutboundPolicy.CheckConfiguredUrl(Url, Parley.Providers.Net.OutboundProtocol.WebSocket) is { } refusal)
        {
            throw new ArgumentException($"{SectionName}:Url is refused by the outbound URL policy: it {refusal}.", nameof(Url));
        }

        if (MaxMessageBytes < 1024)
        {
            throw new ArgumentException($"{SectionName}:MaxMessageBytes must be at least 1024.", nameof(MaxMessageBytes));
        }

        if (MaxIdleConnectionsPerKey < 0)
        {
            throw new ArgumentException($"{SectionName}:MaxIdleConnectionsPerKey must not be negative.", nameof(MaxIdleConnectionsPerKey));
        }

        if (IdleTimeout <= TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero || ResponseTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{SectionName}: IdleTimeout, ConnectTimeout and ResponseTimeout must be positive.");
        }
    }
}
