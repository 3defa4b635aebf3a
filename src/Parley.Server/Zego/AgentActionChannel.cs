using System.Globalization;
using Parley.Rtc.Rooms;
using Parley.Server.Api;
using Parley.Server.Apps;

namespace Parley.Server.Zego;

/// <summary>
/// One agent instance's end of ZEGO's client → agent action channel: room messages addressed to the agent's user with
/// <c>msg_type</c> 20 run the named control action through the same registered handler as the HTTP API (body
/// <c>Params</c> + the instance's <c>AgentInstanceId</c>, the instance's app as the caller, the app's rate limit), and
/// the sender alone gets a <c>msg_type</c> 22 reply. <see cref="Offer"/> is called on the room's event loop and never
/// waits or throws: work runs on the thread pool, at most <see cref="MaxConcurrentActions"/> actions at a time (more
/// are answered with 410000010), each answered within <see cref="ActionTimeout"/>.
/// </summary>
internal sealed partial class AgentActionChannel
{
    /// <summary>Actions of one instance running at once; a request beyond this is refused at once (410000010).</summary>
    public const int MaxConcurrentActions = 4;

    /// <summary>Refusals being sent at once; beyond this (a flood) requests are dropped and the client times out.</summary>
    public const int MaxPendingRefusals = 16;

    /// <summary>An action not done by then is answered with 410000001 (ZEGO's clients give up after 5 s).</summary>
    public static readonly TimeSpan ActionTimeout = TimeSpan.FromSeconds(4);

    private readonly IServiceProvider _services;
    private readonly uint _appId;
    private readonly string _instanceId;
    private readonly string _agentUserId;
    private readonly Func<byte[], string, CancellationToken, ValueTask> _send;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationToken _stop;
    private int _running;
    private int _refusing;

    /// <param name="services">The root services (action registry, apps, id generator, rate limiter, grains).</param>
    /// <param name="appId">The instance's app: the caller of every action.</param>
    /// <param name="instanceId">The instance's AgentInstanceId, put into every action's body.</param>
    /// <param name="agentUserId">The agent's user: only messages addressed to it are read.</param>
    /// <param name="send">Sends a reply (the message JSON) to one user.</param>
    /// <param name="time">The server clock (timeouts).</param>
    /// <param name="logger">Refusals and failures (no bodies, no secrets).</param>
    /// <param name="stop">Cancelled when the agent leaves the room.</param>
    public AgentActionChannel(
        IServiceProvider services, uint appId, string instanceId, string agentUserId,
        Func<byte[], string, CancellationToken, ValueTask> send, TimeProvider time, ILogger logger, CancellationToken stop)
    {
        _services = services;
        _appId = appId;
        _instanceId = instanceId;
        _agentUserId = agentUserId;
        _send = send;
        _time = time;
        _logger = logger;
        _stop = stop;
    }

    /// <summary>Actions running now (for tests).</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>
    /// Takes a room message the agent received. Messages not addressed to the agent's user by name (broadcasts, or
    /// messages to others) and messages that are not msg_type 20 are ignored. Returns true when it was taken as a request.
    /// </summary>
    public bool Offer(RoomMessage message)
    {
        if (message.ToUserIds is not { } targets || !targets.Contains(_agentUserId, StringComparer.Ordinal) || _stop.IsCancellationRequested)
        {
            return false;
        }

        if (Interlocked.Increment(ref _running) <= MaxConcurrentActions)
        {
            _ = Task.Run(() => RunAsync(message));
            return true;
        }

        Interlocked.Decrement(ref _running);
        if (Interlocked.Increment(ref _refusing) <= MaxPendingRefusals)
        {
            _ = Task.Run(() => RefuseBusyAsync(message));
            return true;
        }

        Interlocked.Decrement(ref _refusing);
        LogDropped(_logger, _instanceId, message.FromUserId);
        return false;
    }

    private async Task RunAsync(RoomMessage message)
    {
        try
        {
            var request = AgentActionProtocol.Parse(message.Json);
            if (request is null)
            {
                return;
            }

            var requestId = _services.GetRequiredService<IdGenerator>().Next();
            var (code, text, data) = request.ErrorCode != 0
                ? (request.ErrorCode, request.ErrorMessage!, null)
                : await ExecuteAsync(request, requestId).ConfigureAwait(false);
            if (code != ReturnCodes.Success)
            {
                LogRefused(_logger, _instanceId, request.Action, code, requestId);
            }

            await ReplyAsync(message.FromUserId, AgentActionProtocol.Reply(request.Action, request.Seq, code, text, requestId, data)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // The agent left the room: nobody to answer.
        }
        catch (Exception ex)
        {
            // Never into the room loop: a failure here is logged and the client times out.
            LogFailed(_logger, ex, _instanceId);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    private async Task RefuseBusyAsync(RoomMessage message)
    {
        try
        {
            var request = AgentActionProtocol.Parse(message.Json);
            if (request is null)
            {
                return;
            }

            var requestId = _services.GetRequiredService<IdGenerator>().Next();
            LogRefused(_logger, _instanceId, request.Action, ReturnCodes.RateLimited, requestId);
            var text = $"too many agent actions in progress: at most {MaxConcurrentActions} at a time per instance";
            await ReplyAsync(message.FromUserId, AgentActionProtocol.Reply(request.Action, request.Seq, ReturnCodes.RateLimited, text, requestId, null)).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogFailed(_logger, ex, _instanceId);
        }
        finally
        {
            Interlocked.Decrement(ref _refusing);
        }
    }

    /// <summary>Runs the registered handler as the control API does; its errors become the reply's Code and Message.</summary>
    private async Task<(int Code, string Message, object? Data)> ExecuteAsync(AgentActionRequest request, string requestId)
    {
        var registry = _services.GetRequiredService<ActionRegistry>();
        if (!registry.TryGet(request.Action, out var handler))
        {
            // One of ZEGO's five actions this server does not serve (yet): as the control API answers it.
            return (ReturnCodes.ActionNotSupported, $"Action '{request.Action}' is not supported", null);
        }

        if (!_services.GetRequiredService<IAppDirectory>().TryGet(_appId, out var app))
        {
            return (ReturnCodes.ServerSecretUnavailable, $"AppId {_appId} is not configured on this server", null);
        }

        if (!_services.GetRequiredService<ActionRateLimiter>().TryAcquire(_appId, request.Action))
        {
            return (ReturnCodes.RateLimited, $"rate limit exceeded: too many {request.Action} requests per second", null);
        }

        try
        {
            var context = new ActionContext
            {
                App = app,
                Action = request.Action,
                Body = AgentActionProtocol.Body(request.Params, _instanceId),
                RequestId = requestId,
                Services = _services,
            };
            var data = await handler(context, _stop).AsTask().WaitAsync(ActionTimeout, _time, _stop).ConfigureAwait(false);
            return (ReturnCodes.Success, "success", data);
        }
        catch (ApiException ex)
        {
            return (ex.Code, ex.Message, null);
        }
        catch (TimeoutException)
        {
            return (ReturnCodes.SystemError, $"{request.Action} did not finish within {ActionTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s (RequestId {requestId})", null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            LogFailed(_logger, ex, _instanceId);
            return (ReturnCodes.SystemError, $"system error (RequestId {requestId})", null);
        }
    }

    private async Task ReplyAsync(string toUserId, byte[] reply)
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _send(reply, toUserId, _stop).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Room agent action {Action} of instance {InstanceId} refused with {Code} (RequestId {RequestId})")]
    private static partial void LogRefused(ILogger logger, string instanceId, string action, int code, string requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Room agent action of instance {InstanceId} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string instanceId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Room agent action flood on instance {InstanceId} from {UserId}: request dropped")]
    private static partial void LogDropped(ILogger logger, string instanceId, string userId);
}
