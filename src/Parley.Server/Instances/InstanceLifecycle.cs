using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Server.Callbacks;

namespace Parley.Server.Instances;

/// <summary>
/// The start and the end of an agent instance as the outside world sees them: the durable live record
/// (<see cref="IInstanceJournal"/>) and the <c>AgentInstanceDeleted</c> callback, whichever way the instance ends —
/// deleted through the API or its room (by the grain), stopped with the host (SIGTERM), or found live in the journal
/// at the next start after a crash. The grain calls this; it holds no state of its own.
/// </summary>
internal sealed partial class InstanceLifecycle(IInstanceJournal journal, TimeProvider time, ILogger<InstanceLifecycle> logger)
{
    /// <summary><c>Data.Reason</c> (a Parley extension) of the Deleted sent when the host stops with the instance live.</summary>
    public const string ServerStoppedReason = "ServerStopped";

    /// <summary><c>Data.Reason</c> of the Deleted sent when the runtime deactivates a live instance while the host keeps running.</summary>
    public const string DeactivatedReason = "Deactivated";

    /// <summary><c>Data.Reason</c> of the Deleted sent at the next start for an instance that was live when the process died.</summary>
    public const string ServerRestartedReason = "ServerRestarted";

    /// <summary>Deleted <c>Code</c> for a graceful host stop: the agent leaves its room because the server goes away (1205, disconnected).</summary>
    public const int ServerStoppedCode = InstanceCodes.Disconnected;

    /// <summary>Deleted <c>Code</c> after a crash: the instance's room session ended with no orderly leave (1201, RTC general error).</summary>
    public const int ServerRestartedCode = InstanceCodes.RoomGeneral;

    /// <summary>Records the instance as live; a failure is logged (the instance still runs, but a crash would lose its Deleted).</summary>
    public async Task StartedAsync(InstanceSpec spec)
    {
        try
        {
            await journal.RecordLiveAsync(
                new LiveInstanceRecord(spec.AppId, spec.InstanceId, spec.AgentUserId, spec.RoomId, time.GetUtcNow().ToUnixTimeMilliseconds()),
                CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogRecordFailed(logger, ex, spec.InstanceId);
        }
    }

    /// <summary>Queues the instance's <c>AgentInstanceDeleted</c> and forgets its live record; returns once both are durable.</summary>
    public async Task EndedAsync(InstanceSpec spec, int code, SessionLatency latency, string? reason = null)
    {
        try
        {
            await journal.RecordDeletedAsync(
                DeletedEvent(spec.AppId, spec.InstanceId, spec.AgentUserId, spec.RoomId, code, reason, latency, time.GetUtcNow())
                    with { AgentId = spec.AgentId, Name = spec.AgentName, HostTag = spec.HostTag },
                CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogDeletedFailed(logger, ex, spec.InstanceId);
        }
    }

    /// <summary>At start: instances a dead process left live get their Deleted (<see cref="ServerRestartedCode"/>).</summary>
    public Task<int> RecoverAsync(CancellationToken cancellationToken) =>
        journal.RecoverAsync(
            instance => DeletedEvent(instance.AppId, instance.AgentInstanceId, instance.AgentUserId, instance.RoomId,
                ServerRestartedCode, ServerRestartedReason, default, time.GetUtcNow()),
            cancellationToken);

    /// <summary>The <c>AgentInstanceDeleted</c> event (spec 6.4): Code, DeletedTimestamp, LatencyData, and Reason when Parley ended it.</summary>
    internal static CallbackEvent DeletedEvent(
        uint appId, string instanceId, string agentUserId, string roomId, int code, string? reason, SessionLatency latency, DateTimeOffset now)
    {
        var data = new JsonObject
        {
            ["Code"] = code,
            ["DeletedTimestamp"] = now.ToUnixTimeMilliseconds(),
            ["LatencyData"] = new JsonObject
            {
                ["LLMTTFT"] = latency.LlmFirstTokenMs,
                ["LLMTPS"] = latency.LlmTokensPerSecond,
                ["TTSAudioFirstFrameTime"] = latency.SpeechFirstAudioMs,
                ["TotalCost"] = latency.TotalCostMs,
            },
        };
        if (reason is not null)
        {
            data["Reason"] = reason;
        }

        return new CallbackEvent(appId, CallbackEvents.AgentInstanceDeleted, instanceId, agentUserId, roomId, data);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not record agent instance {InstanceId} as live; a crash would lose its AgentInstanceDeleted")]
    private static partial void LogRecordFailed(ILogger logger, Exception exception, string instanceId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not queue AgentInstanceDeleted of agent instance {InstanceId}")]
    private static partial void LogDeletedFailed(ILogger logger, Exception exception, string instanceId);
}

/// <summary>At start, before instances are served: Deleted for every instance an earlier process left live.</summary>
internal sealed partial class InstanceRecovery(InstanceLifecycle lifecycle, ILogger<InstanceRecovery> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var recovered = await lifecycle.RecoverAsync(cancellationToken);
        if (recovered > 0)
        {
            LogRecovered(logger, recovered, InstanceLifecycle.ServerRestartedCode);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} agent instances were live when the previous process ended; AgentInstanceDeleted (code {Code}) queued for each")]
    private static partial void LogRecovered(ILogger logger, int count, int code);
}
