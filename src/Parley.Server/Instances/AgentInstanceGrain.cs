using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Parley.Core.Sessions;
using Parley.Server.Api;
using Parley.Server.Apps;
using Parley.Server.Callbacks;
using Parley.Server.Rooms;
using Parley.Server.Zego;

namespace Parley.Server.Instances;

[KeepAlive]
[Placement.LeastLoadedPlacement]
internal sealed partial class AgentInstanceGrain(
    AgentInstanceHostFactory hosts,
    TtsProviders speakers,
    InstanceLifecycle lifecycle,
    Parley.Providers.Net.OutboundPolicy outboundPolicy,
    IHostApplicationLifetime lifetime,
    IServiceProvider services,
    ILogger<AgentInstanceGrain> logger) : Grain, IAgentInstanceGrain
{
    private static readonly InstanceReply NotFound = InstanceReply.Error(ReturnCodes.InstanceNotFound, "agent instance not found; it may already be deleted");
    private static readonly TimeSpan JoinWait = TimeSpan.FromSeconds(10);

    // Lifecycle and control only: the running side (voice agent, room, event lanes) is the host's, built here and
    // stopped here, never touched from other threads.
    private InstanceSpec? _spec;
    private JsonObject _llm = [];
    private JsonObject _tts = [];
    private JsonObject _asr = [];
    private AgentInstanceHost? _host;
    private bool _deleted;
    private bool _shuttingDown;

    /// <summary>Created, not deleted, and not being shut down gracefully: control calls are served.</summary>
    private bool Live => Running && !_shuttingDown;

    /// <summary>The host runs (also during a graceful shutdown).</summary>
    private bool Running => _host is not null && !_deleted;

    private AgentSession Session => _host!.Session;

    public async Task<InstanceReply> CreateAsync(InstanceSpec spec)
    {
        if (_host is not null || _deleted)
        {
            return InstanceReply.Error(ReturnCodes.InstanceCreateFailed, $"agent instance {spec.InstanceId} already exists");
        }

        // A draining node (SIGTERM) takes no new instances: this activation goes away and the caller places it again.
        if (lifetime.ApplicationStopping.IsCancellationRequested || services.GetService<Storage.Postgres.NodeDrain>()?.IsDraining == true)
        {
            DeactivateOnIdle();
            return InstanceReply.Error(InstanceCodes.NodeDraining, "the node chosen for the instance is draining");
        }

        // Durable before the caller learns the id, so even a crash from here on ends in an AgentInstanceDeleted.
        await lifecycle.StartedAsync(spec);

        _spec = spec;
        _llm = InstanceConfig.Parse(spec.LlmJson);
        _tts = InstanceConfig.Parse(spec.TtsJson);
        _asr = InstanceConfig.Parse(spec.AsrJson);

        // The host reports a lost room or a failed join through this grain's own Delete call (serialised with the rest).
        var self = GrainFactory.GetGrain<IAgentInstanceGrain>(InstanceKeys.Instance(spec.AppId, spec.InstanceId));
        _host = hosts.Create(spec, _llm, _tts, _asr, code => self.DeleteAsync(code));
        LogCreated(logger, spec.AppId, spec.InstanceId, spec.AgentId);
        return InstanceReply.Ok;
    }

    public Task<InstanceReply> UpdateAsync(InstanceUpdate update)
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        // A text-only instance (DisableTTS) accepts TTS changes and ignores them.
        var ttsOverlay = update.TtsJson is null || _spec!.DisableTts ? null : InstanceConfig.Parse(update.TtsJson);

        // TTS.FilterText cannot change on update (spec 4.2): ignored.
        ttsOverlay?.Remove("FilterText");
        var asrOverlay = update.AsrJson is null ? null : InstanceConfig.Parse(update.AsrJson);
        var llm = InstanceConfig.Merge(_llm, update.LlmJson is null ? null : InstanceConfig.Parse(update.LlmJson));
        var tts = InstanceConfig.Merge(_tts, ttsOverlay);
        var asr = InstanceConfig.Merge(_asr, asrOverlay);
        try
        {
            InstanceConfig.ValidateMerged(llm, tts, asr, outboundPolicy, ttsComplete: !_spec!.DisableTts);
            if (ttsOverlay is not null)
            {
                AgentConfigValidator.ValidateTtsParams(tts, speakers);
            }
        }
        catch (ApiException ex)
        {
            return Task.FromResult(InstanceReply.Error(ex.Code, ex.Message));
        }

        (_llm, _tts, _asr) = (llm, tts, asr);
        _host!.Update(llm, ttsOverlay is null ? null : tts, asrOverlay is null ? null : asr);
        if (update.UserStreamId is { Length: > 0 } userStreamId)
        {
            _host.SwitchUserStream(userStreamId);
        }
        return Task.FromResult(InstanceReply.Ok);
    }

    public async Task<InstanceReply> DeleteAsync(int reasonCode)
    {
        // A graceful shutdown refuses API calls (410001041), but the room's own end (lost, kicked) still ends it at once.
        if (!Live && !(Running && reasonCode != 0))
        {
            return NotLive();
        }


        var spec = _spec!;
        var host = _host!;
        _deleted = true;
        await GrainFactory.GetGrain<IAppInstanceRegistryGrain>(InstanceKeys.Registry(spec.AppId)).ReleaseAsync(spec.InstanceId);
        if (reasonCode != 0)
        {
            await host.PublishAsync(CallbackEvents.Exception, new JsonObject
            {
                ["Code"] = reasonCode,
                ["Message"] = reasonCode == InstanceCodes.Kicked
                    ? $"agent instance kicked out of the room: another instance joined as AgentUserId '{spec.AgentUserId}'"
                    : "agent instance stopped",
                ["Round"] = host.Session.LastRound,
            });
        }

        var latency = await host.StopAsync(JoinWait);
        await lifecycle.EndedAsync(spec, reasonCode, latency);
        LogDeleted(logger, spec.AppId, spec.InstanceId, reasonCode);
        DeactivateOnIdle();
        return InstanceReply.Ok;
    }

    public Task<InstanceReply> DeleteGracefullyAsync(int timeoutSeconds)
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        _shuttingDown = true;
        var self = GrainFactory.GetGrain<IAgentInstanceGrain>(InstanceKeys.Instance(_spec!.AppId, _spec.InstanceId));
        _host!.BeginGracefulStop(TimeSpan.FromSeconds(timeoutSeconds), () => self.FinishGracefulDeleteAsync());
        LogGracefulDelete(logger, _spec.AppId, _spec.InstanceId, timeoutSeconds);
        return Task.FromResult(InstanceReply.Ok);
    }

    public Task<InstanceReply> FinishGracefulDeleteAsync()
    {
        if (!_shuttingDown || !Running)
        {
            return Task.FromResult(InstanceReply.Ok);
        }

        _shuttingDown = false;
        return DeleteAsync(0);
    }

    public Task<InstanceReply> SendLlmAsync(LlmCommand command)
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        if (Session.Status == AgentStatus.Listening)
        {
            return Task.FromResult(InstanceReply.Error(ReturnCodes.AgentListening, "the agent is listening; proactive LLM calls are not allowed now"));
        }

        // High is forced playback: the user's voice does not interrupt it.
        var accepted = Session.TrySubmitLlmReply(
            new LlmReplyRequest(
                command.Text,
                command.SystemPrompt,
                command.AddQuestionToHistory,
                command.AddAnswerToHistory,
                (ReplyPriority)command.Priority,
                command.Enqueue ? SamePriorityOption.Enqueue : SamePriorityOption.ClearAndInterrupt,
                InterruptibleByUser: command.Priority != (int)ReplyPriority.High),
            out var round);
        return Task.FromResult(accepted ? Ok(round) : QueueFull(ReturnCodes.SendLlmFailed));
    }

    public Task<InstanceReply> SendTtsAsync(TtsCommand command)
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        if (_spec!.DisableTts)
        {
            // send-agent-instance-tts.yaml gives no code for this: the TTS call failed.
            return Task.FromResult(InstanceReply.Error(ReturnCodes.SendTtsFailed, "the instance was created with AdvancedConfig.DisableTTS: it has no TTS"));
        }

        if (Session.Status == AgentStatus.Listening)
        {
            return Task.FromResult(InstanceReply.Error(ReturnCodes.AgentListening, "the agent is listening; proactive TTS calls are not allowed now"));
        }

        var accepted = Session.TrySubmitSpeech(
            new SpeechRequest(
                command.Text,
                command.AddHistory,
                command.InterruptMode == 0 && command.Priority != (int)ReplyPriority.High,
                (ReplyPriority)command.Priority,
                command.Enqueue ? SamePriorityOption.Enqueue : SamePriorityOption.ClearAndInterrupt),
            out var round);
        return Task.FromResult(accepted ? Ok(round) : QueueFull(ReturnCodes.SendTtsFailed));
    }

    public Task<InstanceReply> InterruptAsync()
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        return Task.FromResult(Ok(Session.InterruptReply(InterruptReason.Manual)));
    }

    private static InstanceReply QueueFull(int code) => InstanceReply.Error(
        code, "the queue is full: at most 5 requests wait (SamePriorityOption Enqueue, or a lower Priority than the reply playing); try again when one has played");

    private static InstanceReply Ok(long round) => new() { Code = 0, Message = "success", Round = round };

    public Task<InstanceReply> ResetMessagesAsync()
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        Session.ResetMessages();
        return Task.FromResult(InstanceReply.Ok);
    }

    public Task<InstanceReply> AddMessagesAsync(List<HistoryMessage> messages)
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        Session.AddMessages(messages.Select(m => new ContextMessage(m.Role == "user" ? MessageRole.User : MessageRole.Assistant, m.Content)));
        return Task.FromResult(InstanceReply.Ok);
    }

    public Task<MessagesReply> GetMessagesAsync()
    {
        if (!Live)
        {
            var notFound = NotLive();
            return Task.FromResult(new MessagesReply { Code = notFound.Code, Message = notFound.Message });
        }

        return Task.FromResult(new MessagesReply
        {
            Code = 0,
            Message = "success",
            Messages = [.. Session.GetMessages().Select(m => new HistoryMessage { Role = m.Role == MessageRole.User ? "user" : "assistant", Content = m.Content })],
        });
    }

    public Task<InstanceReply> GetStatusAsync()
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        return Task.FromResult(new InstanceReply { Code = 0, Message = "success", Status = CallbackMapper.StatusName(Session.Status) });
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (Running)
        {
            // The silo is shutting down: the instance ends with the process. Its native engines (VAD, ASR decoders) must
            // stop before the host disposes the shared engine factories, or their worker threads would use freed memory.
            LogStoppedWithHost(logger, _spec!.AppId, _spec.InstanceId);
            _deleted = true;
            var latency = await _host!.StopAsync(TimeSpan.Zero);

            // Durable before the host exits; the dispatcher delivers it now or after the next start.
            var shuttingDown = reason.ReasonCode == DeactivationReasonCode.ShuttingDown;
            await lifecycle.EndedAsync(_spec, InstanceLifecycle.ServerStoppedCode, latency,
                shuttingDown ? InstanceLifecycle.ServerStoppedReason : InstanceLifecycle.DeactivatedReason);

            // The in-memory registry goes down with the silo (calling it then fails placement, retried and logged by
            // Orleans as errors): release only when the silo stays up.
            if (!shuttingDown)
            {
                try
                {
                    await GrainFactory.GetGrain<IAppInstanceRegistryGrain>(InstanceKeys.Registry(_spec.AppId)).ReleaseAsync(_spec.InstanceId);
                }
                catch (Exception ex) when (ex is OrleansException or OperationCanceledException or TimeoutException)
                {
                    // The registry is gone too: nothing left to release.
                }
            }
        }
    }

    /// <summary>
    /// The "not found" reply. A grain that was never created (a call with an unknown AgentInstanceId) also deactivates:
    /// the grain type is [KeepAlive] for live instances, and without this every unknown id would keep an activation.
    /// </summary>
    private InstanceReply NotLive()
    {
        if (_shuttingDown && Running)
        {
            return InstanceReply.Error(ReturnCodes.InstanceShuttingDown, "the agent instance is being shut down gracefully (DeleteAgentInstance with GracefulShutdown); it takes no more calls");
        }

        if (_spec is null)
        {
            DeactivateOnIdle();
        }

        return NotFound;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent instance {InstanceId} of app {AppId} created from agent {AgentId}")]
    private static partial void LogCreated(ILogger logger, uint appId, string instanceId, string agentId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent instance {InstanceId} of app {AppId} deleted (code {Code})")]
    private static partial void LogDeleted(ILogger logger, uint appId, string instanceId, int code);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent instance {InstanceId} of app {AppId} shutting down gracefully (at most {TimeoutSeconds} s)")]
    private static partial void LogGracefulDelete(ILogger logger, uint appId, string instanceId, int timeoutSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent instance {InstanceId} of app {AppId} stopped with its host")]
    private static partial void LogStoppedWithHost(ILogger logger, uint appId, string instanceId);

}

internal static class InstanceKeys
{
    public static string Registry(uint appId) => appId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string Instance(uint appId, string instanceId) => $"{appId}:{instanceId}";
}
