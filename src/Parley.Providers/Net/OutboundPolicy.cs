using System.Net;
using System.Net.Sockets;

namespace Parley.Providers.Net;

/// <summary>Which schemes a URL may use.</summary>
public enum OutboundProtocol
{
    /// <summary><c>http</c> and <c>https</c> (LLM, callbacks, HTTP vendors).</summary>
    Http,

    /// <summary><c>ws</c> and <c>wss</c> (WebSocket vendors such as DashScope).</summary>
    WebSocket,
}

/// <summary>Who chose a URL: decides whether loopback and private networks are subject to the policy's settings.</summary>
public enum UrlOrigin
{
    /// <summary>An app's agent configuration (<c>LLM.Url</c>, later <c>TTS.Url</c>): a tenant's choice, the whole policy applies.</summary>
    Agent,

    /// <summary>The operator's own configuration (<c>Parley:Apps:*:CallbackUrl</c>, <c>Parley:Vendors:*:Url</c>): loopback and private networks are allowed.</summary>
    Operator,
}

/// <summary>Settings of the outbound URL policy (section <c>Parley:Outbound</c>).</summary>
public sealed class OutboundPolicyOptions
{
    public const string SectionName = "Parley:Outbound";

    /// <summary>Agent URLs may point at loopback (127.0.0.0/8, ::1, localhost). Null: the server decides (development app: yes; configured apps: no).</summary>
    public bool? AllowLoopback { get; set; }

    /// <summary>Agent URLs may point at private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7). Null: as <see cref="AllowLoopback"/>.</summary>
    public bool? AllowPrivateNetworks { get; set; }

    /// <summary>Networks (CIDR, e.g. <c>10.1.2.0/24</c>, or single addresses) agent URLs may reach even when loopback or private networks are refused.</summary>
    public List<string> AllowedNetworks { get; set; } = [];
}

/// <summary>A refused outbound URL or connection. The message is Parley's own words (never bytes from the far end).</summary>
public sealed class OutboundPolicyException(string message) : Exception(message);

/// <summary>An address and port the server itself listens on (<c>IServerAddressesFeature</c>): a null address means every local address.</summary>
public readonly record struct ListeningEndpoint(IPAddress? Address, int Port)
{
    /// <summary>Parses a Kestrel address such as <c>http://127.0.0.1:8080</c>, <c>http://[::]:80</c>, <c>http://+:80</c> or <c>http://localhost:5000</c>.</summary>
    public static IEnumerable<ListeningEndpoint> Parse(string address)
    {
        var scheme = address.IndexOf("://", StringComparison.Ordinal);
        var rest = scheme < 0 ? address : address[(scheme + 3)..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            rest = rest[..slash];
        }

        var colon = rest.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(rest.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port))
        {
            yield break;
        }

        var host = rest[..colon].Trim('[', ']');
        if (host is "+" or "*" or "" || (IPAddress.TryParse(host, out var any) && (any.Equals(IPAddress.Any) || any.Equals(IPAddress.IPv6Any))))
        {
            yield return new ListeningEndpoint(null, port);
        }
        else if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            yield return new ListeningEndpoint(IPAddress.Loopback, port);
            yield return new ListeningEndpoint(IPAddress.IPv6Loopback, port);
        }
        else if (IPAddress.TryParse(host, out var ip))
        {
            yield return new ListeningEndpoint(ip, port);
        }
        else
        {
            // A host name Kestrel binds to every address.
            yield return new ListeningEndpoint(null, port);
        }
    }
}

/// <summary>
/// Decides which URLs Parley may call and which addresses it may connect to (docs/security.md, "Outbound URL policy").
/// Always refused: other schemes, unspecified/multicast/broadcast/reserved addresses, link-local addresses
/// (169.254.0.0/16, fe80::/10), cloud metadata endpoints (169.254.169.254, fd00:ec2::254, 100.100.100.200,
/// metadata.google.internal, …) and the server's own listening endpoints. Loopback and private networks: allowed for
/// operator URLs; for agent URLs as <see cref="OutboundPolicyOptions"/> say. URLs are checked when they are configured
/// (<see cref="CheckUrl"/>, no DNS) and every connection is checked again on the resolved address
/// (<see cref="CreateHandler"/>'s connect callback), since a name may resolve differently later.
/// </summary>
public sealed class OutboundPolicy
{
    private static readonly IPNetwork[] Unusable =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("224.0.0.0/4"), IPNetwork.Parse("240.0.0.0/4"),
        IPNetwork.Parse("::/128"), IPNetwork.Parse("ff00::/8"),
    ];

    private static readonly IPNetwork[] LinkLocal = [IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("fe80::/10")];

    /// <summary>Metadata services outside the link-local ranges: AWS IPv6, Alibaba Cloud, Oracle Cloud.</summary>
    private static readonly IPAddress[] MetadataAddresses = [IPAddress.Parse("fd00:ec2::254"), IPAddress.Parse("100.100.100.200"), IPAddress.Parse("192.0.0.192")];

    private static readonly string[] MetadataHosts =
    [
        "metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal", "metadata.azure.internal",
    ];

    private static readonly IPNetwork[] Private =
    [
        IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.168.0.0/16"), IPNetwork.Parse("100.64.0.0/10"),
        IPNetwork.Parse("fc00::/7"), IPNetwork.Parse("fec0::/10"),
    ];

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");

    private static readonly IPAddress CommonMetadata = IPAddress.Parse("169.254.169.254");

    private readonly bool _allowLoopback;
    private readonly bool _allowPrivate;
    private readonly IPNetwork[] _allowed;
    private readonly Func<IEnumerable<ListeningEndpoint>> _ownEndpoints;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _resolve;

    /// <param name="ownEndpoints">What this server listens on (read at each check: Kestrel knows its ports only once started).</param>
    /// <param name="resolve">Name resolution (default: <see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/>).</param>
    public OutboundPolicy(
        bool allowLoopback,
        bool allowPrivateNetworks,
        IEnumerable<string>? allowedNetworks = null,
        Func<IEnumerable<ListeningEndpoint>>? ownEndpoints = null,
        Func<string, CancellationToken, Task<IPAddress[]>>? resolve = null)
    {
        _allowLoopback = allowLoopback;
        _allowPrivate = allowPrivateNetworks;
        _allowed = [.. (allowedNetworks ?? []).Select(ParseNetwork)];
        _ownEndpoints = ownEndpoints ?? (() => []);
        _resolve = resolve ?? Dns.GetHostAddressesAsync;
    }

    /// <summary>For library use without a server (tests, tools): loopback and private networks allowed, the rest of the policy applies.</summary>
    public static OutboundPolicy Default { get; } = new(allowLoopback: true, allowPrivateNetworks: true);

    public bool AllowsLoopback => _allowLoopback;

    public bool AllowsPrivateNetworks => _allowPrivate;

    /// <summary>Parses a CIDR (<c>10.0.0.0/8</c>) or a single address; throws <see cref="FormatException"/> naming the value.</summary>
    public static IPNetwork ParseNetwork(string text)
    {
        if (IPNetwork.TryParse(text, out var network))
        {
            return network;
        }

        if (IPAddress.TryParse(text, out var address))
        {
            return new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
        }

        throw new FormatException($"'{text}' is not a network (CIDR such as 10.0.0.0/8) or an address");
    }

    /// <summary>
    /// Checks a URL without resolving names: scheme, literal addresses, well-known names (localhost, metadata hosts) and
    /// this server's own endpoints. Returns why it is refused (a phrase such as "is a link-local address"), or null.
    /// </summary>
    public string? CheckUrl(string url, OutboundProtocol protocol, UrlOrigin origin)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.IsFile || uri.IsUnc)
        {
            return "must be an absolute URL";
        }

        if (SchemeRefusal(uri, protocol) is { } scheme)
        {
            return scheme;
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "must not carry user information (user:password@)";
        }

        var host = uri.IdnHost.TrimEnd('.');
        if (MetadataHosts.Contains(host, StringComparer.OrdinalIgnoreCase))
        {
            return "is a cloud metadata address";
        }

        var port = uri.Port;
        if (IsLocalhostName(host))
        {
            return CheckAddress(IPAddress.Loopback, port, origin) ?? CheckAddress(IPAddress.IPv6Loopback, port, origin);
        }

        return IPAddress.TryParse(uri.HostNameType == UriHostNameType.IPv6 ? uri.DnsSafeHost : host, out var address)
            ? CheckAddress(address, port, origin)
            : null;
    }

    /// <summary>Scheme and literal-address checks that need no server (configuration validated at start).</summary>
    public static string? CheckConfiguredUrl(string url, OutboundProtocol protocol) => Default.CheckUrl(url, protocol, UrlOrigin.Operator);

    /// <summary>Checks one resolved address and port; returns why a connection there is refused, or null.</summary>
    public string? CheckAddress(IPAddress address, int port, UrlOrigin origin)
    {
        var ip = Normalize(address);
        if (Unusable.Any(n => n.Contains(ip)) || ip.Equals(IPAddress.Broadcast))
        {
            return "is not a usable unicast address";
        }

        if (ip.Equals(CommonMetadata) || MetadataAddresses.Contains(ip))
        {
            return "is a cloud metadata address";
        }

        if (LinkLocal.Any(n => n.Contains(ip)))
        {
            return "is a link-local address";
        }

        if (IsOwnEndpoint(ip, port))
        {
            return "is this server's own listening endpoint";
        }

        if (origin == UrlOrigin.Operator || _allowed.Any(n => n.Contains(ip)))
        {
            return null;
        }

        if (IPAddress.IsLoopback(ip))
        {
            return _allowLoopback ? null : "is a loopback address (allowed only with Parley:Outbound:AllowLoopback or Parley:Outbound:AllowedNetworks)";
        }

        if (Private.Any(n => n.Contains(ip)))
        {
            return _allowPrivate ? null : "is a private-network address (allowed only with Parley:Outbound:AllowPrivateNetworks or Parley:Outbound:AllowedNetworks)";
        }

        return null;
    }

    /// <summary>
    /// A handler for HTTP (and WebSocket handshakes) whose every connection goes through the policy: names are resolved
    /// here and only allowed addresses are dialled; no proxy (a proxy would dial for us, unchecked); no automatic
    /// redirects (a redirect could lead anywhere).
    /// </summary>
    public SocketsHttpHandler CreateHandler(UrlOrigin origin, TimeSpan? connectTimeout = null)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectCallback = (context, cancellationToken) => ConnectAsync(context.DnsEndPoint, origin, cancellationToken),
        };
        if (connectTimeout is { } timeout)
        {
            handler.ConnectTimeout = timeout;
        }

        return handler;
    }

    /// <summary>Resolves <paramref name="endpoint"/>, drops refused addresses and connects to the first allowed one that answers.</summary>
    public async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, UrlOrigin origin, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var host = endpoint.Host.Trim('[', ']').TrimEnd('.');
        if (MetadataHosts.Contains(host, StringComparer.OrdinalIgnoreCase))
        {
            throw new OutboundPolicyException("refused by the outbound URL policy: the host is a cloud metadata address");
        }

        IPAddress[] addresses;
        if (IPAddress.TryParse(host, out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = await _resolve(host, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new HttpRequestException(HttpRequestError.NameResolutionError, "name not resolved", ex);
            }
        }

        string? refusal = null;
        var allowed = new List<IPAddress>(addresses.Length);
        foreach (var address in addresses)
        {
            if (CheckAddress(address, endpoint.Port, origin) is { } reason)
            {
                refusal ??= reason;
            }
            else
            {
                allowed.Add(Normalize(address));
            }
        }

        if (allowed.Count == 0)
        {
            throw refusal is null
                ? new HttpRequestException(HttpRequestError.NameResolutionError, "name not resolved")
                : new OutboundPolicyException($"refused by the outbound URL policy: the address {refusal}");
        }

        Exception? last = null;
        foreach (var address in allowed)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(address, endpoint.Port, cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last!;
    }

    private static string? SchemeRefusal(Uri uri, OutboundProtocol protocol)
    {
        var allowed = protocol == OutboundProtocol.Http ? new[] { "http", "https" } : ["ws", "wss"];
        return allowed.Contains(uri.Scheme, StringComparer.OrdinalIgnoreCase) ? null : $"must use {string.Join(" or ", allowed)}";
    }

    private static bool IsLocalhostName(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);

    /// <summary>IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are judged by their IPv4 address.</summary>
    private static IPAddress Normalize(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6 && Nat64.Contains(address))
        {
            var bytes = address.GetAddressBytes();
            return new IPAddress(bytes.AsSpan(12, 4));
        }

        return address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0 ? new IPAddress(address.GetAddressBytes()) : address;
    }

    private bool IsOwnEndpoint(IPAddress ip, int port)
    {
        HashSet<IPAddress>? local = null;
        foreach (var own in _ownEndpoints())
        {
            if (own.Port != port)
            {
                continue;
            }

            // Loopback reaches every loopback-bound listener (and 127.0.0.2 reaches one bound to 127.0.0.1 on some systems).
            if (IPAddress.IsLoopback(ip))
            {
                return true;
            }

            if (own.Address is { } bound)
            {
                if (Normalize(bound).Equals(ip))
                {
                    return true;
                }
            }
            else
            {
                local ??= LocalAddresses();
                if (local.Contains(ip))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static HashSet<IPAddress> LocalAddresses()
    {
        var set = new HashSet<IPAddress>();
        try
        {
            foreach (var nic in System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    set.Add(Normalize(unicast.Address));
                }
            }
        }
        catch (System.Net.NetworkInformation.NetworkInformationException)
        {
            // Without the interface list only loopback (checked above) is known to be local.
        }

        return set;
    }
}
