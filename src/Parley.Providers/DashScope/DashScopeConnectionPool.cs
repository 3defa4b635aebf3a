using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Providers.Net;

namespace Parley.Providers.DashScope;

/// <summary>
/// Connections to DashScope's WebSocket endpoint, kept open between tasks: DashScope runs tasks one after another on a
/// connection, so a sentence or an utterance does not pay a TCP/TLS/WebSocket handshake. Idle connections are kept per
/// API key (at most <see cref="DashScopeOptions.MaxIdleConnectionsPerKey"/>, closed after
/// <see cref="DashScopeOptions.IdleTimeout"/>); a connection that failed, was cancelled mid-task or is otherwise in
/// doubt is closed instead of returned. One pool serves both DashScope vendors.
/// </summary>
public sealed partial class DashScopeConnectionPool : IDisposable
{
    private readonly VendorConnectionPool<string, DashScopeConnection> _pool;
    private readonly ILogger _logger;
    private readonly HttpMessageInvoker _invoker;
    private readonly HttpMessageInvoker _agentInvoker;
    private readonly OutboundPolicy _policy;

    /// <param name="policy">Checks every connection's resolved address (default <see cref="OutboundPolicy.Default"/>); the URL is the operator's, so loopback and private networks are allowed.</param>
    public DashScopeConnectionPool(DashScopeOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, OutboundPolicy? policy = null)
    {
        Options = options ?? new DashScopeOptions();
        Options.Validate();
        Endpoint = new Uri(Options.Url);
        Time = time ?? TimeProvider.System;
        _pool = new VendorConnectionPool<string, DashScopeConnection>(Options.MaxIdleConnectionsPerKey, Options.IdleTimeout, Time, StringComparer.Ordinal);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<DashScopeConnectionPool>();
        _policy = policy ?? OutboundPolicy.Default;
        _invoker = new HttpMessageInvoker(_policy.CreateHandler(UrlOrigin.Operator));

        // An agent's TTS.Url is a tenant's choice: the whole outbound policy applies to it.
        _agentInvoker = new HttpMessageInvoker(_policy.CreateHandler(UrlOrigin.Agent));
    }

    public DashScopeOptions Options { get; }

    public Uri Endpoint { get; }

    internal TimeProvider Time { get; }

    /// <summary>Connections opened so far (handshakes paid).</summary>
    public long ConnectionsOpened => _pool.Opened;

    /// <summary>Idle connections currently kept.</summary>
    public int IdleCount => _pool.IdleCount;

    /// <summary>
    /// Starts a task: sends run-task on an idle connection (or a new one) and waits for task-started. A reused
    /// connection that turns out dead before task-started (the server dropped it while idle) is replaced once by a
    /// fresh one. task-failed throws <see cref="DashScopeException"/> with the server's code and message.
    /// </summary>
    /// <param name="endpoint">
    /// An agent's <c>TTS.Url</c> instead of <see cref="Endpoint"/> (null = <see cref="Endpoint"/>): http(s) is taken as
    /// ws(s); the outbound URL policy applies to it as to an agent's URL (<see cref="UrlOrigin.Agent"/>), refusals throw
    /// <see cref="OutboundPolicyException"/>. Its connections are pooled apart from the configured endpoint's.
    /// </param>
    internal Task<DashScopeConnection> StartTaskAsync<TState>(
        string vendor, string apiKey, string taskId, TState state, Action<Utf8JsonWriter, TState> writePayload, CancellationToken cancellationToken, Uri? endpoint = null)
    {
        var agent = endpoint is null ? null : VendorUrls.AgentWebSocket(endpoint, _policy);
        var key = agent is null ? apiKey : agent.AbsoluteUri + "\n" + apiKey;
        return _pool.StartAsync(
            key,
            ct => agent is null
                ? DashScopeConnection.ConnectAsync(Endpoint, _invoker, apiKey, key, Options, Time, ct)
                : DashScopeConnection.ConnectAsync(agent, _agentInvoker, apiKey, key, Options, Time, ct),
            (connection, ct) => AwaitTaskStartedAsync(connection, vendor, taskId, state, writePayload, ct),
            ex => ex is DashScopeException { ErrorCode: "ConnectionBroken" or "ConnectionClosed" },
            () => LogStaleConnection(_logger, vendor),
            cancellationToken);
    }

    internal static DashScopeException TaskFailed(string vendor, DashScopeEvent e) =>
        new($"{vendor}: DashScope task failed: {e.ErrorCode ?? "UnknownError"}: {e.ErrorMessage ?? "no message"}", e.ErrorCode ?? "UnknownError");

    /// <summary>Hands a connection back: kept when <paramref name="reusable"/> (its task ended cleanly) and there is room.</summary>
    internal void Return(DashScopeConnection connection, bool reusable) => _pool.Return(connection.PoolKey, connection, reusable);

    public void Dispose()
    {
        _pool.Dispose();
        _invoker.Dispose();
        _agentInvoker.Dispose();
    }

    private async Task<DashScopeConnection> AwaitTaskStartedAsync<TState>(
        DashScopeConnection connection, string vendor, string taskId, TState state, Action<Utf8JsonWriter, TState> writePayload, CancellationToken cancellationToken)
    {
        await connection.SendRunTaskAsync(taskId, state, writePayload, cancellationToken).ConfigureAwait(false);
        using var limit = new CancellationTokenSource(Options.ResponseTimeout, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        while (true)
        {
            DashScopeEvent? e;
            try
            {
                (_, e) = await connection.ReceiveAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new DashScopeException(
                    $"{vendor}: DashScope did not start the task within {Options.ResponseTimeout.TotalSeconds:0.#} s.", "Timeout");
            }

            if (e is null || e.TaskId != taskId)
            {
                continue; // audio or an event of an earlier task: not ours
            }

            if (e.Name == DashScopeEvent.TaskStarted)
            {
                return connection;
            }

            if (e.Name == DashScopeEvent.TaskFailed)
            {
                throw TaskFailed(vendor, e);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Vendor}: an idle DashScope connection was dead; retrying on a new one")]
    private static partial void LogStaleConnection(ILogger logger, string vendor);
}
