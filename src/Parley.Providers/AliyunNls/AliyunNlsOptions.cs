using Parley.Providers.Net;

namespace Parley.Providers.AliyunNls;

/// <summary>Where and how Parley talks to Alibaba Intelligent Speech Interaction (section <c>Parley:Vendors:Aliyun</c>).</summary>
public sealed class AliyunNlsOptions
{
    public const string SectionName = "Parley:Vendors:Aliyun";

    public const string DefaultUrl = "wss://nls-gateway-cn-shanghai.aliyuncs.com/ws/v1";

    public const string DefaultTokenUrl = "https://nls-meta.cn-shanghai.aliyuncs.com/";

    /// <summary>The NLS gateway (ws:// or wss://) when an agent gives no <c>TTS.Url</c>.</summary>
    public string Url { get; set; } = DefaultUrl;

    /// <summary>The NLS meta endpoint that answers the CreateToken POP call.</summary>
    public string TokenUrl { get; set; } = DefaultTokenUrl;

    /// <summary>The POP <c>RegionId</c> of CreateToken.</summary>
    public string RegionId { get; set; } = "cn-shanghai";

    /// <summary>A cached token is renewed this long before its ExpireTime (at most half its lifetime).</summary>
    public TimeSpan TokenRefreshMargin { get; set; } = TimeSpan.FromMinutes(10);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Limit for CreateToken and for each gateway answer (the gap between two audio frames).</summary>
    public TimeSpan ResponseTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Largest JSON event accepted from the gateway (audio comes in binary frames, not limited by this).</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>How long the gateway connection opened ahead for the next sentence is kept unused before it is closed (0 = none opened ahead).</summary>
    public TimeSpan SpareLifetime { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting when one is out of range.</summary>
    public void Validate()
    {
        if (VendorUrls.WebSocketUrlError(Url, SectionName + ":Url") is { } url)
        {
            throw new ArgumentException(url, nameof(Url));
        }

        if (VendorUrls.HttpUrlError(TokenUrl, SectionName + ":TokenUrl") is { } token)
        {
            throw new ArgumentException(token, nameof(TokenUrl));
        }

        if (string.IsNullOrWhiteSpace(RegionId))
        {
            throw new ArgumentException($"{SectionName}:RegionId must not be empty.", nameof(RegionId));
        }

        if (MaxMessageBytes < 1024)
        {
            throw new ArgumentException($"{SectionName}:MaxMessageBytes must be at least 1024.", nameof(MaxMessageBytes));
        }

        if (TokenRefreshMargin < TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero || ResponseTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{SectionName}: ConnectTimeout and ResponseTimeout must be positive, TokenRefreshMargin not negative.");
        }
    }
}
