using Parley.Providers.Net;

namespace Parley.Providers.Azure;

/// <summary>
/// Where and how Parley talks to Azure Speech to Text over its WebSocket protocol (section
/// <c>Parley:Vendors:Microsoft</c>), the <c>Microsoft</c> ASR vendor. ZEGO supplies its own Azure credentials, so a
/// deployment sets its key and region here (<c>Parley__Vendors__Microsoft__Key</c>); an agent's <c>Params.app</c> overrides them.
/// </summary>
public sealed class AzureSpeechOptions
{
    public const string SectionName = "Parley:Vendors:Microsoft";

    /// <summary>The endpoint for a region: <c>wss://{region}.stt.speech.microsoft.com/speech/recognition/conversation/cognitiveservices/v1</c>.</summary>
    public const string RegionUrlTemplate = "wss://{region}.stt.speech.microsoft.com/speech/recognition/conversation/cognitiveservices/v1";

    /// <summary>A fixed endpoint (a private endpoint, a proxy, a fake); when absent the region's public endpoint. <c>{region}</c> is replaced.</summary>
    public string? Url { get; set; }

    /// <summary>The Speech resource key (<c>Ocp-Apim-Subscription-Key</c>), used when an agent's Params give none. Never logged.</summary>
    public string? Key { get; set; }

    /// <summary>The Speech resource region, e.g. <c>eastus</c>.</summary>
    public string? Region { get; set; }

    /// <summary>The recognition language when Params give none (ZEGO: Microsoft is for English).</summary>
    public string Language { get; set; } = "en-US";

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit for <c>turn.end</c> after the end of an utterance's audio.</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A connection older than this, or idle longer than <see cref="IdleLifetime"/>, is replaced before the next
    /// utterance (Azure ends connections after 10 minutes, and idle ones after 180 s).
    /// </summary>
    public TimeSpan ConnectionLifetime { get; set; } = TimeSpan.FromMinutes(9);

    public TimeSpan IdleLifetime { get; set; } = TimeSpan.FromSeconds(150);

    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>The endpoint for <paramref name="region"/> (or <see cref="Region"/>).</summary>
    public string EndpointFor(string? region) =>
        (string.IsNullOrWhiteSpace(Url) ? RegionUrlTemplate : Url).Replace("{region}", (region ?? Region ?? "").Trim(), StringComparison.Ordinal);

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting when one is out of range.</summary>
    public void Validate()
    {
        if (!string.IsNullOrWhiteSpace(Url))
        {
            var probe = Url.Replace("{region}", "region", StringComparison.Ordinal);
            if (!Uri.TryCreate(probe, UriKind.Absolute, out var uri) || (uri.Scheme != "ws" && uri.Scheme != "wss"))
            {
                throw new ArgumentException($"{SectionName}:Url must be an absolute ws:// or wss:// URL.", nameof(Url));
            }

            if (OutboundPolicy.CheckConfiguredUrl(probe, OutboundProtocol.WebSocket) is { } refusal)
            {
                throw new ArgumentException($"{SectionName}:Url is refused by the outbound URL policy: it {refusal}.", nameof(Url));
            }
        }

        if (!string.IsNullOrWhiteSpace(Region) && !AzureSpeechRequest.IsRegion(Region.Trim()))
        {
            throw new ArgumentException($"{SectionName}:Region must be an Azure region name such as eastus.", nameof(Region));
        }

        if (string.IsNullOrWhiteSpace(Language))
        {
            throw new ArgumentException($"{SectionName}:Language must not be empty.", nameof(Language));
        }

        if (MaxMessageBytes < 1024)
        {
            throw new ArgumentException($"{SectionName}:MaxMessageBytes must be at least 1024.", nameof(MaxMessageBytes));
        }

        if (ConnectTimeout <= TimeSpan.Zero || ResponseTimeout <= TimeSpan.Zero || ConnectionLifetime <= TimeSpan.Zero || IdleLifetime <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{SectionName}: ConnectTimeout, ResponseTimeout, ConnectionLifetime and IdleLifetime must be positive.");
        }
    }
}
