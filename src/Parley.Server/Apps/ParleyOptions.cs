namespace Parley.Server.Apps;

/// <summary>Configuration section <c>Parley</c>.</summary>
public sealed class ParleyOptions
{
    public const string SectionName = "Parley";

    /// <summary>Apps allowed to call the API. Empty: a development app is created and stored on first start.</summary>
    public List<AppOptions> Apps { get; set; } = [];

    /// <summary>Directory for the SQLite database and the generated development app.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>SQLite file; relative paths are under <see cref="DataDirectory"/>.</summary>
    public string DatabasePath { get; set; } = "parley.db";

    /// <summary>Requests per second allowed per app and per action (spec 1.8: 10/s).</summary>
    public int RateLimitPerSecond { get; set; } = 10;

    /// <summary>Allowed difference between a request's Timestamp and the server clock.</summary>
    public TimeSpan SignatureWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Refuse a signed request whose SignatureNonce its app already used within <see cref="SignatureWindow"/> (100000004).</summary>
    public bool ReplayGuard { get; set; } = true;

    /// <summary>Nonces the replay guard remembers per app; beyond it the oldest timestamps are refused (about 30 bytes each).</summary>
    public int ReplayGuardNoncesPerApp { get; set; } = 1_000_000;

    /// <summary>Concurrent agent instances per app (spec 1.8: 10).</summary>
    public int MaxInstancesPerApp { get; set; } = 10;

    /// <summary>Registered agents per app; RegisterAgent beyond it is refused with 410000010 (the contract names no limit).</summary>
    public int MaxAgentsPerApp { get; set; } = 1000;
}

public sealed class AppOptions
{
    public uint AppId { get; set; }

    /// <summary>Signs API requests (MD5 scheme) and room tokens (Token04).</summary>
    public string ServerSecret { get; set; } = "";

    /// <summary>Where signed callbacks are POSTed; empty disables callbacks for the app.</summary>
    public string? CallbackUrl { get; set; }

    /// <summary>
    /// Named callback URLs (<c>Parley:Apps:N:CallbackUrls:&lt;tag&gt;</c>): an instance created with
    /// <c>CallbackConfig.HostTag</c> = a tag sends its callbacks there instead of <see cref="CallbackUrl"/>.
    /// </summary>
    public Dictionary<string, string> CallbackUrls { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The callback URL for <paramref name="hostTag"/> ("" = <see cref="CallbackUrl"/>); null when the tag is not configured.</summary>
    public string? CallbackUrlFor(string? hostTag) =>
        string.IsNullOrEmpty(hostTag) ? CallbackUrl : CallbackUrls.TryGetValue(hostTag, out var url) ? url : null;

    /// <summary>Signs callbacks (SHA-1 scheme).</summary>
    public string? CallbackSecret { get; set; }
}
