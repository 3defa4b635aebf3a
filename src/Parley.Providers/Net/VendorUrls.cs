namespace Parley.Providers.Net;

/// <summary>Checks shared by the vendors' options and their agent endpoints (<c>TTS.Url</c>).</summary>
internal static class VendorUrls
{
    /// <summary>An error naming <paramref name="setting"/> when <paramref name="url"/> is not an absolute ws(s) URL the policy allows for the operator, else null.</summary>
    public static string? WebSocketUrlError(string? url, string setting)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "ws" && uri.Scheme != "wss"))
        {
            return $"{setting} must be an absolute ws:// or wss:// URL.";
        }

        return OutboundPolicy.CheckConfiguredUrl(url, OutboundProtocol.WebSocket) is { } refusal
            ? $"{setting} is refused by the outbound URL policy: it {refusal}."
            : null;
    }

    /// <summary>An error naming <paramref name="setting"/> when <paramref name="url"/> is not an absolute http(s) URL the policy allows for the operator, else null.</summary>
    public static string? HttpUrlError(string? url, string setting)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
        {
            return $"{setting} must be an absolute http:// or https:// URL.";
        }

        return OutboundPolicy.CheckConfiguredUrl(url, OutboundProtocol.Http) is { } refusal
            ? $"{setting} is refused by the outbound URL policy: it {refusal}."
            : null;
    }

    /// <summary>
    /// An agent's <c>TTS.Url</c> as a WebSocket URL (http(s) taken as ws(s)) that passed the whole outbound policy
    /// (<see cref="UrlOrigin.Agent"/>); a refusal throws <see cref="OutboundPolicyException"/>.
    /// </summary>
    public static Uri AgentWebSocket(Uri endpoint, OutboundPolicy policy)
    {
        var builder = new UriBuilder(endpoint);
        builder.Scheme = builder.Scheme switch
        {
            "http" => "ws",
            "https" => "wss",
            var other => other,
        };
        if (builder.Uri.IsDefaultPort)
        {
            builder.Port = -1;
        }

        var ws = builder.Uri;
        if (policy.CheckUrl(ws.AbsoluteUri, OutboundProtocol.WebSocket, UrlOrigin.Agent) is { } refusal)
        {
            throw new OutboundPolicyException($"TTS.Url is refused by the outbound URL policy: it {refusal}.");
        }

        return ws;
    }
}
