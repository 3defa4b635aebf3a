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
    private readonly Dictionary<string, Stack<DashScopeConnection>> _idle = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly ILogger _logger;
    private readonly HttpMessageInvoker _invoker;
    private readonly HttpMessageInvoker _agentInvoker;
    private readonly OutboundPolicy _policy;
    private long _opened;
    private bool _disposed;

    /// <param name="policy">Checks every connection's resolved address (default <see cref="OutboundPolicy.Default"/>); the URL is the operator's, so loopback and private networks are allowed.</param>
    public DashScopeConnectionPool(DashScopeOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, OutboundPolicy? policy = null)
    {
        Options = options ?? new DashScopeOptions();
        Options.Validate();
        Endpoint = new Uri(Options.Url);
        Time = time ?? TimeProvider.System;
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
    public long ConnectionsOpened => Interlocked.Read(ref _opened);

    /// <summary>Idle connections currently kept.</summary>
    public int IdleCount
    {
        get
        {
            lock (_gate)
            {
                return _idle.Values.Sum(s => s.Count);
            }
        }
    }

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
    internal async Task<DashScopeConnection> StartTaskAsync<TState>(
        string vendor, string apiKey, string taskId, TState state, Action<Utf8JsonWriter, TState> writePayload, CancellationToken cancellationToken, Uri? endpoint = null)
    {
        endpoint = AgentEndpoint(endpoint);
        for (var attempt = 0; ; attempt++)
        {
            var (connection, reused) = await RentAsync(apiKey, fresh: attempt > 0, endpoint, cancellationToken).ConfigureAwait(false);
            var keep = false;
            try
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
                        keep = true;
                        return connection;
                    }

                    if (e.Name == DashScopeEvent.TaskFailed)
                    {
                        throw TaskFailed(vendor, e);
                    }
                }
            }
            catch (DashScopeException ex) when (reused && attempt == 0 && ex.ErrorCode is "ConnectionBroken" or "ConnectionClosed")
            {
                LogStaleConnection(_logger, vendor);
            }
            finally
            {
                if (!keep)
                {
                    connection.Dispose();
                }
            }
        }
    }

    internal static DashScopeException TaskFailed(string vendor, DashScopeEvent e) =>
        new($"{vendor}: DashScope task failed: {e.ErrorCode ?? "UnknownError"}: {e.ErrorMessage ?? "no message"}", e.ErrorCode ?? "UnknownError");

    /// <summary>Hands a connection back: kept when <paramref name="reusable"/> (its task ended cleanly) and there is room.</summary>
    internal void Return(DashScopeConnection connection, bool reusable)
    {
        if (reusable && connection.IsOpen)
        {
            lock (_gate)
            {
                if (!_disposed)
                {
                    if (!_idle.TryGetValue(connection.PoolKey, out var stack))
                    {
                        stack = new Stack<DashScopeConnection>();
                        _idle[connection.PoolKey] = stack;
                    }

                    if (stack.Count < Options.MaxIdleConnectionsPerKey)
                    {
                        connection.IdleSince = Time.GetTimestamp();
                        stack.Push(connection);
                        return;
                    }
                }
            }
        }

        connection.Dispose();
    }

    public void Dispose()
    {
        List<DashScopeConnection> all;
        lock (_gate)
        {
            _disposed = true;
            all = [.. _idle.Values.SelectMany(s => s)];
            _idle.Clear();
        }

        foreach (var connection in all)
        {
            connection.Dispose();
        }

        _invoker.Dispose();
        _agentInvoker.Dispose();
    }

    /// <summary>An agent's endpoint as a WebSocket URL that passed the policy, or null for the configured one.</summary>
    private Uri? AgentEndpoint(Uri? endpoint)
    {
        if (endpoint is null)
        {
            return null;
        }

        var builder = new UriBuilder(endpoint);
        builder.Scheme = builder.Scheme switch
        {
            "http" => "ws",
            "https" => "wss",
            var other => other,
        };
        var ws = builder.Uri;
        if (_policy.CheckUrl(ws.AbsoluteUri, OutboundProtocol.WebSocket, UrlOrigin.Agent) is { } refusal)
        {
            throw new OutboundPolicyException($"TTS.Url is refused by the outbound URL policy: it {refusal}.");
        }

        return ws;
    }

    private async Task<(DashScopeConnection Connection, bool Reused)> RentAsync(string apiKey, bool fresh, Uri? endpoint, CancellationToken cancellationToken)
    {
        var key = endpoint is null ? apiKey : endpoint.AbsoluteUri + "\n" + apiKey;
        if (!fresh)
        {
            while (true)
            {
                DashScopeConnection? idle = null;
                lock (_gate)
                {
                    ObjectDisposedException.ThrowIf(_disposed, this);
                    if (_idle.TryGetValue(key, out var stack) && stack.Count > 0)
                    {
                        idle = stack.Pop();
                    }
                }

                if (idle is null)
                {
                    break;
                }

                if (idle.IsOpen && Time.GetElapsedTime(idle.IdleSince) < Options.IdleTimeout)
                {
                    return (idle, true);
                }

                idle.Dispose();
            }
        }

        var connection = endpoint is null
            ? await DashScopeConnection.ConnectAsync(Endpoint, _invoker, apiKey, key, Options, Time, cancellationToken).ConfigureAwait(false)
            : await DashScopeConnection.ConnectAsync(endpoint, _agentInvoker, apiKey, key, Options, Time, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _opened);
        return (connection, false);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Vendor}: an idle DashScope connection was dead; retrying on a new one")]
    private static partial void LogStaleConnection(ILogger logger, string vendor);
}
