using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Providers.Net;

namespace Parley.Providers.Volcengine;

/// <summary>
/// The Volcengine vendors' connections. V3 TTS connections (one-way and bidirectional) carry several sessions one after
/// another, so they are kept open between sentences and replies, per endpoint and credentials (at most
/// <see cref="VolcengineOptions.MaxIdleConnectionsPerKey"/>, closed after <see cref="VolcengineOptions.IdleTimeout"/>);
/// a bidirectional connection is kept only after StartConnection succeeded. A connection in doubt (failed, cancelled
/// mid-session) is closed instead. All connections, and the legacy HTTP TTS calls, go through the
/// <see cref="OutboundPolicy"/>: configured endpoints as the operator's, an agent's <c>TTS.Url</c> as the agent's.
/// </summary>
public sealed partial class VolcConnectionPool : IDisposable
{
    private readonly VendorConnectionPool<string, VolcSocket> _pool;
    private readonly ILogger _logger;
    private readonly HttpMessageInvoker _invoker;
    private readonly HttpMessageInvoker _agentInvoker;
    private readonly OutboundPolicy _policy;

    public VolcConnectionPool(VolcengineOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, OutboundPolicy? policy = null)
    {
        Options = options ?? new VolcengineOptions();
        Options.Validate();
        Time = time ?? TimeProvider.System;
        _pool = new VendorConnectionPool<string, VolcSocket>(Options.MaxIdleConnectionsPerKey, Options.IdleTimeout, Time, StringComparer.Ordinal);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<VolcConnectionPool>();
        _policy = policy ?? OutboundPolicy.Default;
        _invoker = new HttpMessageInvoker(_policy.CreateHandler(UrlOrigin.Operator));
        _agentInvoker = new HttpMessageInvoker(_policy.CreateHandler(UrlOrigin.Agent));
        Http = new HttpClient(_policy.CreateHandler(UrlOrigin.Operator, Options.ConnectTimeout)) { Timeout = Timeout.InfiniteTimeSpan };
        AgentHttp = new HttpClient(_policy.CreateHandler(UrlOrigin.Agent, Options.ConnectTimeout)) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public VolcengineOptions Options { get; }

    internal TimeProvider Time { get; }

    /// <summary>For the legacy HTTP TTS at the configured endpoint.</summary>
    internal HttpClient Http { get; }

    /// <summary>For the legacy HTTP TTS at an agent's <c>TTS.Url</c>.</summary>
    internal HttpClient AgentHttp { get; }

    /// <summary>WebSocket connections opened so far (handshakes paid).</summary>
    public long ConnectionsOpened => _pool.Opened;

    public int IdleCount => _pool.IdleCount;

    /// <summary>
    /// An agent's <c>TTS.Url</c> that passed the policy (http(s) taken as ws(s) when <paramref name="webSocket"/>), or
    /// null for the configured one. Refusals throw <see cref="OutboundPolicyException"/>.
    /// </summary>
    internal Uri? AgentEndpoint(Uri? endpoint, bool webSocket)
    {
        if (endpoint is null)
        {
            return null;
        }

        var builder = new UriBuilder(endpoint);
        if (webSocket)
        {
            builder.Scheme = builder.Scheme switch
            {
                "http" => "ws",
                "https" => "wss",
                var other => other,
            };
        }

        var uri = builder.Uri;
        if (_policy.CheckUrl(uri.AbsoluteUri, webSocket ? OutboundProtocol.WebSocket : OutboundProtocol.Http, UrlOrigin.Agent) is { } refusal)
        {
            throw new OutboundPolicyException($"TTS.Url is refused by the outbound URL policy: it {refusal}.");
        }

        return uri;
    }

    /// <summary>
    /// Rents a connection to <paramref name="endpoint"/> with these credentials and runs <paramref name="start"/> on it
    /// (the request up to the first answer): an idle one, or a new one (for <paramref name="bidirectional"/> after
    /// StartConnection → ConnectionStarted). A reused connection found broken before the first answer is replaced once.
    /// <paramref name="agent"/> says the endpoint is an agent's URL (the whole policy applies). On success the caller
    /// owns the connection (<see cref="Return"/>); on failure it is disposed.
    /// </summary>
    internal Task<T> StartAsync<T>(
        string vendor, Uri endpoint, bool agent, VolcCredentials credentials, bool bidirectional, Func<VolcSocket, CancellationToken, Task<T>> start,
        CancellationToken cancellationToken) =>
        _pool.StartAsync(
            credentials.Key(endpoint),
            ct => ConnectAsync(vendor, endpoint, agent, credentials, bidirectional, ct),
            start,
            ex => ex is VolcengineException { Kind: VolcengineErrorKind.ConnectionBroken },
            () => LogStale(vendor),
            cancellationToken);

    /// <summary>Opens a WebSocket with the given headers (counted; not pooled by itself).</summary>
    internal async Task<VolcSocket> OpenAsync(
        string vendor, Uri endpoint, bool agent, IReadOnlyList<KeyValuePair<string, string>> headers, string key, CancellationToken cancellationToken)
    {
        var socket = await ConnectSocketAsync(vendor, endpoint, agent, headers, key, cancellationToken).ConfigureAwait(false);
        _pool.CountOpened();
        return socket;
    }

    private async Task<VolcSocket> ConnectAsync(string vendor, Uri endpoint, bool agent, VolcCredentials credentials, bool bidirectional, CancellationToken cancellationToken)
    {
        var socket = await ConnectSocketAsync(vendor, endpoint, agent, V3Headers(credentials, appIdHeader: "X-Api-App-Id"), credentials.Key(endpoint), cancellationToken)
            .ConfigureAwait(false);
        if (!bidirectional)
        {
            return socket;
        }

        try
        {
            await socket.SendEventAsync(VolcEvent.StartConnection, null, "{}"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            var frame = await ReceiveWithinAsync(socket, "ConnectionStarted", cancellationToken).ConfigureAwait(false);
            if (frame.Type == VolcMessageType.Error || frame.Event == VolcEvent.ConnectionFailed)
            {
                throw socket.Failure(frame);
            }

            if (frame.Event != VolcEvent.ConnectionStarted)
            {
                throw new VolcengineException($"{vendor}: expected ConnectionStarted, got event {frame.Event}.", VolcengineErrorKind.Protocol);
            }

            socket.ConnectId = frame.ConnectId;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private Task<VolcSocket> ConnectSocketAsync(
        string vendor, Uri endpoint, bool agent, IReadOnlyList<KeyValuePair<string, string>> headers, string key, CancellationToken cancellationToken) =>
        VolcSocket.ConnectAsync(vendor, endpoint, agent ? _agentInvoker : _invoker, headers, key, Options, Time, cancellationToken);

    /// <summary>Receives the next frame within <see cref="VolcengineOptions.ResponseTimeout"/>.</summary>
    internal async ValueTask<VolcFrame> ReceiveWithinAsync(VolcSocket socket, string waitingFor, CancellationToken cancellationToken)
    {
        using var limit = new CancellationTokenSource(Options.ResponseTimeout, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            return await socket.ReceiveAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new VolcengineException(
                $"{socket.Vendor}: no {waitingFor} from {socket.Endpoint} within {Options.ResponseTimeout.TotalSeconds:0.#} s.", VolcengineErrorKind.Timeout);
        }
    }

    /// <summary>Hands a connection back: kept when <paramref name="reusable"/> (its session ended cleanly) and there is room.</summary>
    internal void Return(VolcSocket socket, bool reusable) => _pool.Return(socket.PoolKey, socket, reusable);

    internal static KeyValuePair<string, string>[] V3Headers(VolcCredentials credentials, string appIdHeader) =>
    [
        new(appIdHeader, credentials.AppId),
        new("X-Api-Access-Key", credentials.Token),
        new("X-Api-Resource-Id", credentials.ResourceId),
        new("X-Api-Connect-Id", Guid.NewGuid().ToString()),
    ];

    internal void LogStale(string vendor) => LogStaleConnection(_logger, vendor);

    public void Dispose()
    {
        _pool.Dispose();
        _invoker.Dispose();
        _agentInvoker.Dispose();
        Http.Dispose();
        AgentHttp.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Vendor}: an idle Volcengine connection was dead; retrying on a new one")]
    private static partial void LogStaleConnection(ILogger logger, string vendor);
}
