using Parley.Providers.Net;

namespace Parley.Providers.DashScope;

/// <summary>
/// The <c>AliyunQwenASR</c> vendor's endpoint (section <c>Parley:Vendors:AliyunQwenASR</c>): DashScope's realtime
/// (OpenAI-Realtime-like) WebSocket. The API key is <see cref="ApiKey"/>, else <c>Parley:Vendors:DashScope:ApiKey</c>.
/// </summary>
public sealed class QwenAsrOptions
{
    public const string SectionName = "Parley:Vendors:AliyunQwenASR";

    public const string DefaultUrl = "wss://dashscope.aliyuncs.com/api-ws/v1/realtime";

    public const string DefaultModel = "qwen3-asr-flash-realtime";

    public string Url { get; set; } = DefaultUrl;

    /// <summary>The model when Params give none (sent as the <c>model</c> query parameter).</summary>
    public string Model { get; set; } = DefaultModel;

    /// <summary>A key for this vendor only; when absent the DashScope key (<c>Parley:Vendors:DashScope:ApiKey</c>). Never logged.</summary>
    public string? ApiKey { get; set; }

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit for session.updated after session.update, and for the transcript after a commit.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public int MaxMessageBytes { get; set; } = 1024 * 1024;

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

        if (string.IsNullOrWhiteSpace(Model))
        {
            throw new ArgumentException($"{SectionName}:Model must not be empty.", nameof(Model));
        }

        if (MaxMessageBytes < 1024 || ConnectTimeout <= TimeSpan.Zero || ResponseTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{SectionName}: MaxMessageBytes must be at least 1024 and the timeouts positive.");
        }
    }
}
