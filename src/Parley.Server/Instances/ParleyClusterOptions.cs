using System.Net;

namespace Parley.Server.Instances;

/// <summary>
/// Where this node stands in a cluster (section <c>Parley:Cluster</c>, falling back to <c>Parley:Orleans</c> for the
/// ports and ids): the silo and gateway ports, the address other nodes reach it at, the public URL room clients are
/// sent to, how fast a silent node is declared dead, and how long a drained node lets live calls run.
/// </summary>
public sealed class ParleyClusterOptions
{
    /// <summary>True when Orleans membership is kept in the PostgreSQL store (a cluster of nodes), false for localhost clustering.</summary>
    public bool IsPostgresMembership { get; init; }

    public int SiloPort { get; init; } = 11111;

    public int GatewayPort { get; init; } = 30000;

    public string ClusterId { get; init; } = "parley";

    public string ServiceId { get; init; } = "parley";

    /// <summary><c>Parley:Cluster:AdvertisedAddress</c>: the IP other nodes connect to (default loopback: set it on every real node).</summary>
    public IPAddress AdvertisedAddress { get; init; } = IPAddress.Loopback;

    /// <summary><c>Parley:Cluster:ListenAddress</c>: where the silo and gateway listen (default: any address).</summary>
    public IPAddress ListenAddress { get; init; } = IPAddress.Any;

    /// <summary><c>Parley:Cluster:PublicUrl</c>: this node's address as room clients reach it (http(s)://host:port/), or null.</summary>
    public Uri? PublicUrl { get; init; }

    /// <summary><c>Parley:Cluster:ProbeTimeoutSeconds</c> (default 5): Orleans' probe timeout; a killed node is declared dead after about three.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary><c>Parley:Cluster:DrainTimeoutSeconds</c> (default 30): after SIGTERM, how long live instances may keep running before they are ended.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>Parley:Cluster:DrainMinimumSeconds</c> (default 2, at most the drain timeout): how long a draining node keeps
    /// listening and answering <c>/readyz</c> 503 even with no live call, so a load balancer sees it not ready
    /// before its connections are refused.
    /// </summary>
    public TimeSpan DrainMinimum { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// <c>Parley:Cluster:PlacementCpuCoresPerSession</c> (default 0.1, about one talking session's CPU): how much of a
    /// node's process CPU (in cores) counts as one live session when new instances go to the least-loaded node.
    /// </summary>
    public double PlacementCpuCoresPerSession { get; init; } = 0.1;

    internal static ParleyClusterOptions Read(IConfiguration configuration, InstanceHostOptions orleans, Storage.StoreOptions store)
    {
        var section = configuration.GetSection("Parley:Cluster");
        var clustering = orleans.Clustering;
        // "AdoNet" is the former name of the PostgreSQL membership (Orleans' ADO.NET provider), still accepted.
        var postgres = clustering.Length == 0
            ? store.IsPostgres
            : string.Equals(clustering, "PostgreSQL", StringComparison.OrdinalIgnoreCase)
                || string.Equals(clustering, "AdoNet", StringComparison.OrdinalIgnoreCase)
                || (!string.Equals(clustering, "Localhost", StringComparison.OrdinalIgnoreCase)
                    ? throw new InvalidOperationException($"Parley:Orleans:Clustering '{clustering}' is not a clustering; use 'Localhost' or 'PostgreSQL'")
                    : false);
        if (postgres && !store.IsPostgres)
        {
            throw new InvalidOperationException($"Parley:Orleans:Clustering '{clustering}' keeps the membership in the PostgreSQL store: set Parley:Store:Provider to PostgreSQL and Parley:Store:ConnectionString");
        }

        return new ParleyClusterOptions
        {
            IsPostgresMembership = postgres,
            SiloPort = Port(section, "SiloPort", orleans.SiloPort),
            GatewayPort = Port(section, "GatewayPort", orleans.GatewayPort),
            ClusterId = section["ClusterId"] ?? orleans.ClusterId,
            ServiceId = section["ServiceId"] ?? orleans.ServiceId,
            AdvertisedAddress = Address(section, "AdvertisedAddress", IPAddress.Loopback),
            ListenAddress = Address(section, "ListenAddress", IPAddress.Any),
            PublicUrl = PublicUrlOf(section["PublicUrl"]),
            ProbeTimeout = Seconds(section, "ProbeTimeoutSeconds", 5, min: 0.2),
            DrainTimeout = Seconds(section, "DrainTimeoutSeconds", 30, min: 0),
            DrainMinimum = Seconds(section, "DrainMinimumSeconds", 2, min: 0),
            PlacementCpuCoresPerSession = section.GetValue("PlacementCpuCoresPerSession", 0.1) is var perSession and > 0
                ? perSession
                : throw new InvalidOperationException("Parley:Cluster:PlacementCpuCoresPerSession must be positive"),
        };
    }

    private static int Port(IConfigurationSection section, string key, int fallback)
    {
        var value = section.GetValue(key, fallback);
        return value is < 0 or > 65535 ? throw new InvalidOperationException($"Parley:Cluster:{key} must be a port (0-65535)") : value;
    }

    private static IPAddress Address(IConfigurationSection section, string key, IPAddress fallback)
    {
        var text = section[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        return IPAddress.TryParse(text, out var address)
            ? address
            : throw new InvalidOperationException($"Parley:Cluster:{key} '{text}' is not an IP address");
    }

    private static Uri? PublicUrlOf(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? new Uri(uri.GetLeftPart(UriPartial.Authority) + "/")
            : throw new InvalidOperationException($"Parley:Cluster:PublicUrl '{text}' must be an absolute http(s) URL");
    }

    private static TimeSpan Seconds(IConfigurationSection section, string key, double fallback, double min)
    {
        var value = section.GetValue(key, fallback);
        return value < min ? throw new InvalidOperationException($"Parley:Cluster:{key} must be at least {min}") : TimeSpan.FromSeconds(value);
    }
}
