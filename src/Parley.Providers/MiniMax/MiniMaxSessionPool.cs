using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Providers.Net;

namespace Parley.Providers.MiniMax;

/// <summary>
/// Started MiniMax tasks kept open between sentences and replies, per endpoint, API key and <c>task_start</c>
/// settings (a sentence on a kept session pays neither a handshake nor task_start). At most
/// <see cref="MiniMaxOptions.MaxIdleSessionsPerKey"/> idle per key, closed after <see cref="MiniMaxOptions.IdleTimeout"/>;
/// a session that failed, was cancelled mid-text or is otherwise in doubt is closed instead of returned.
/// Every connection goes through the <see cref="OutboundPolicy"/>.
/// </summary>
public sealed partial class MiniMaxSessionPool : IDisposable
{
    private readonly Dictionary<string, Stack<MiniMaxSession>> _idle = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly HttpMessageInvoker _invoker;
    private readonly HttpMessageInvoker _agentInvoker;
    private readonly OutboundPolicy _policy;
    private readonly ILogger _logger;
    private long _opened;
    private bool _disposed;

    public MiniMaxSessionPool(MiniMaxOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, OutboundPolicy? policy = null)
    {
        Options = options ?? new MiniMaxOptions();
        Options.Validate();
        Endpoint = new Uri(Options.Url);
        Time = time ?? TimeProvider.System;
        _policy = policy ?? OutboundPolicy.Default;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<MiniMaxSessionPool>();
        _invoker = new HttpMessageInvoker(_policy.CreateHandler(UrlOrigin.Operator));
        _agentInvoker = new HttpMessageInvoker(_policy.CreateHandler(UrlOrigin.Agent));
    }

    public MiniMaxOptions Options { get; }

    /// <summary>The configured endpoint (<c>Parley:Vendors:MiniMax:Url</c>).</summary>
    public Uri Endpoint { get; }

    internal TimeProvider Time { get; }

    /// <summary>Connections opened so far (handshakes and task_starts paid).</summary>
    public long SessionsOpened => Interlocked.Read(ref _opened);

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

    internal ILogger Logger => _logger;

    /// <summary>
    /// A started session for these settings: an idle one (Reused true) or a new one.
    /// <paramref name="endpoint"/> is an agent's <c>TTS.Url</c> (checked by the whole outbound policy), null = the configured one.
    /// </summary>
    internal async Task<(MiniMaxSession Session, bool Reused)> RentAsync(
        string apiKey, string? groupId, byte[] taskStart, int sampleRate, Uri? endpoint, bool fresh, CancellationToken cancellationToken)
    {
        var agent = endpoint is not null;
        var uri = agent ? VendorUrls.AgentWebSocket(endpoint!, _policy) : Endpoint;
        if (groupId is not null)
        {
            var builder = new UriBuilder(uri);
            var query = builder.Query.TrimStart('?');
            builder.Query = (query.Length > 0 ? query + "&" : "") + "GroupId=" + Uri.EscapeDataString(groupId);
            uri = builder.Uri;
        }

        var key = string.Concat(uri.AbsoluteUri, "\n", apiKey, "\n", System.Text.Encoding.UTF8.GetString(taskStart));
        if (!fresh)
        {
            while (true)
            {
                MiniMaxSession? idle = null;
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

        var session = await MiniMaxSession.StartAsync(
            uri, agent ? _agentInvoker : _invoker, apiKey, key, taskStart, sampleRate, Options, Time, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _opened);
        return (session, false);
    }

    /// <summary>Hands a session back: kept when <paramref name="reusable"/> (its last text ended with is_final) and there is room.</summary>
    internal void Return(MiniMaxSession session, bool reusable)
    {
        if (reusable && session.IsOpen)
        {
            lock (_gate)
            {
                if (!_disposed)
                {
                    if (!_idle.TryGetValue(session.Key, out var stack))
                    {
                        stack = new Stack<MiniMaxSession>();
                        _idle[session.Key] = stack;
                    }

                    if (stack.Count < Options.MaxIdleSessionsPerKey)
                    {
                        session.IdleSince = Time.GetTimestamp();
                        stack.Push(session);
                        return;
                    }
                }
            }
        }

        session.Dispose();
    }

    public void Dispose()
    {
        List<MiniMaxSession> all;
        lock (_gate)
        {
            _disposed = true;
            all = [.. _idle.Values.SelectMany(s => s)];
            _idle.Clear();
        }

        foreach (var session in all)
        {
            session.Dispose();
        }

        _invoker.Dispose();
        _agentInvoker.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "MiniMax: a pooled session was dead before any audio; retrying on a new one")]
    internal static partial void LogStaleSession(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MiniMax synthesis failed: {ErrorCode} (status {StatusCode})")]
    internal static partial void LogFailed(ILogger logger, string errorCode, int? statusCode);
}
