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
    private readonly VendorConnectionPool<string, MiniMaxSession> _pool;
    private readonly HttpMessageInvoker _invoker;
    private readonly HttpMessageInvoker _agentInvoker;
    private readonly OutboundPolicy _policy;
    private readonly ILogger _logger;

    public MiniMaxSessionPool(MiniMaxOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, OutboundPolicy? policy = null)
    {
        Options = options ?? new MiniMaxOptions();
        Options.Validate();
        Endpoint = new Uri(Options.Url);
        Time = time ?? TimeProvider.System;
        _pool = new VendorConnectionPool<string, MiniMaxSession>(Options.MaxIdleSessionsPerKey, Options.IdleTimeout, Time, StringComparer.Ordinal);
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
    public long SessionsOpened => _pool.Opened;

    public int IdleCount => _pool.IdleCount;

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
        return await _pool.RentAsync(
            key,
            fresh,
            ct => MiniMaxSession.StartAsync(uri, agent ? _agentInvoker : _invoker, apiKey, key, taskStart, sampleRate, Options, Time, ct),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Hands a session back: kept when <paramref name="reusable"/> (its last text ended with is_final) and there is room.</summary>
    internal void Return(MiniMaxSession session, bool reusable) => _pool.Return(session.Key, session, reusable);

    public void Dispose()
    {
        _pool.Dispose();
        _invoker.Dispose();
        _agentInvoker.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "MiniMax: a pooled session was dead before any audio; retrying on a new one")]
    internal static partial void LogStaleSession(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MiniMax synthesis failed: {ErrorCode} (status {StatusCode})")]
    internal static partial void LogFailed(ILogger logger, string errorCode, int? statusCode);
}
