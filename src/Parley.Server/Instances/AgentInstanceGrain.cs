using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Parley.Core.Sessions;
using Parley.Server.Api;
using Parley.Server.Apps;
using Parley.Server.Callbacks;

namespace Parley.Server.Instances;

[KeepAlive]
internal sealed partial class AgentInstanceGrain(
    IEnumerable<ICallbackPublisher> callbackPublishers,
    IAgentRoomBinding rooms,
    Parley.Server.Rooms.SpeechRecognizers listeners,
    Parley.Server.Rooms.TtsProviders speakers,
    IChatModel chatModel,
    InstanceLifecycle lifecycle,
    Parley.Providers.Net.OutboundPolicy outboundPolicy,
    TimeProvider time,
    IOptions<InstanceHostOptions> options,
    ILogger<AgentInstanceGrain> logger) : Grain, IAgentInstanceGrain
{
    private static readonly InstanceReply NotFound = InstanceReply.Error(ReturnCodes.InstanceNotFound, "agent instance not found; it may already be deleted");

    private readonly CancellationTokenSource _lifetime = new();

    // Optional until the callback outbox is registered: without a publisher, events are only logged.
    private readonly ICallbackPublisher? _callbacks = callbackPublishers.LastOrDefault();
    private InstanceSpec? _spec;
    private JsonObject _llm = [];
    private JsonObject _tts = [];
    private JsonObject _asr = [];
    private AgentSession? _session;
    private Task? _pump;
    private Task<IAgentRoomConnection?>? _join;
    private Parley.Core.Input.UserInputPipeline? _detector;
    private bool _deleted;

    private bool Live => _session is not null && !_deleted;

    public async Task<InstanceReply> CreateAsync(InstanceSpec spec)
    {
        if (_session is not null || _deleted)
        {
            return InstanceReply.Error(ReturnCodes.InstanceCreateFailed, $"agent instance {spec.InstanceId} already exists");
        }

        // Durable before the caller learns the id, so even a crash from here on ends in an AgentInstanceDeleted.
        await lifecycle.StartedAsync(spec);

        _spec = spec;
        _llm = InstanceConfig.Parse(spec.LlmJson);
        _tts = InstanceConfig.Parse(spec.TtsJson);
        _asr = InstanceConfig.Parse(spec.AsrJson);
        _session = new AgentSession(
            new AgentSessionOptions
            {
                Identity = new SessionIdentity(spec.InstanceId, spec.RoomId, spec.AgentUserId, spec.UserId),
                Llm = InstanceConfig.ToLlmSettings(_llm),
                WindowSize = spec.WindowSize,
                InitialMessages = [.. spec.InitialMessages.Select(ToContext)],
                LlmStallTimeout = options.Value.LlmStallTimeout,
                InterruptMode = spec.InterruptMode,
            },
            chatModel,
            time);
        var session = _session;
        _pump = Task.Run(() => PumpEventsAsync(spec, session, _lifetime.Token));
        // Grain references are taken here, on the activation: the join runs on the thread pool, which may not touch activation services.
        var self = GrainFactory.GetGrain<IAgentInstanceGrain>(InstanceKeys.Instance(spec.AppId, spec.InstanceId));
        _join = Task.Run(() => JoinAsync(spec, session, self, _lifetime.Token));
        LogCreated(logger, spec.AppId, spec.InstanceId, spec.AgentId);
        return InstanceReply.Ok;
    }

    public Task<InstanceReply> UpdateAsync(InstanceUpdate update)
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        var ttsOverlay = update.TtsJson is null ? null : InstanceConfig.Parse(update.TtsJson);

        // TTS.FilterText cannot change on update (spec 4.2): ignored.
        ttsOverlay?.Remove("FilterText");
        var llm = InstanceConfig.Merge(_llm, update.LlmJson is null ? null : InstanceConfig.Parse(update.LlmJson));
        var tts = InstanceConfig.Merge(_tts, ttsOverlay);
        var asr = InstanceConfig.Merge(_asr, update.AsrJson is null ? null : InstanceConfig.Parse(update.AsrJson));
        try
        {
            InstanceConfig.ValidateMerged(llm, tts, asr, outboundPolicy);
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
        _session!.UpdateLlm(InstanceConfig.ToLlmSettings(llm));
        if (ttsOverlay is not null && _join is { IsCompletedSuccessfully: true, Result: { } connection })
        {
            connection.UpdateTts(tts.ToJsonString());
        }
        return Task.FromResult(InstanceReply.Ok);
    }

    public async Task<InstanceReply> DeleteAsync(int reasonCode)
    {
        if (!Live)
        {
            return NotLive();
        }

        var spec = _spec!;
        var session = _session!;
        _deleted = true;
        await GrainFactory.GetGrain<IAppInstanceRegistryGrain>(InstanceKeys.Registry(spec.AppId)).ReleaseAsync(spec.InstanceId);

        // The join is short (and completes at once without a room server); waiting keeps Created before Deleted.
        IAgentRoomConnection? connection = null;
        try
        {
            connection = await _join!.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            await _lifetime.CancelAsync();
        }

        if (reasonCode != 0)
        {
            await PublishAsync(spec, CallbackEvents.Exception, new JsonObject
            {
                ["Code"] = reasonCode,
                ["Message"] = reasonCode == InstanceCodes.Kicked
                    ? $"agent instance kicked out of the room: another instance joined as AgentUserId '{spec.AgentUserId}'"
                    : "agent instance stopped",
            });
        }

        var latency = session.GetLatency();
        await session.DisposeAsync();
        if (_detector is not null)
        {
            await _detector.DisposeAsync();
        }
        await _pump!.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        if (connection is not null)
        {
            await connection.DisposeAsync();
        }

        await _lifetime.CancelAsync();
        await lifecycle.EndedAsync(spec, reasonCode, latency);
        LogDeleted(logger, spec.AppId, spec.InstanceId, reasonCode);
        DeactivateOnIdle();
        return InstanceReply.Ok;
    }

    public Task<InstanceReply> SendLlmAsync(LlmCommand command)
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        if (_session!.Status == AgentStatus.Listening)
        {
            return Task.FromResult(InstanceReply.Error(ReturnCodes.AgentListening, "the agent is listening; proactive LLM calls are not allowed now"));
        }

        _session.SubmitLlmReply(new LlmReplyRequest(
            command.Text,
            command.SystemPrompt,
            command.AddQuestionToHistory,
            command.AddAnswerToHistory,
            (ReplyPriority)command.Priority,
            command.Enqueue ? SamePriorityOption.Enqueue : SamePriorityOption.ClearAndInterrupt));
        return Task.FromResult(InstanceReply.Ok);
    }

    public Task<InstanceReply> SendTtsAsync(TtsCommand command)
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        if (_session!.Status == AgentStatus.Listening)
        {
            return Task.FromResult(InstanceReply.Error(ReturnCodes.AgentListening, "the agent is listening; proactive TTS calls are not allowed now"));
        }

        _session.SubmitSpeech(new SpeechRequest(
            command.Text,
            command.AddHistory,
            command.InterruptMode == 0,
            (ReplyPriority)command.Priority,
            command.Enqueue ? SamePriorityOption.Enqueue : SamePriorityOption.ClearAndInterrupt));
        return Task.FromResult(InstanceReply.Ok);
    }

    public Task<InstanceReply> InterruptAsync()
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        _session!.Interrupt(InterruptReason.Manual);
        return Task.FromResult(InstanceReply.Ok);
    }

    public Task<InstanceReply> ResetMessagesAsync()
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        _session!.ResetMessages();
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
            Messages = [.. _session!.GetMessages().Select(m => new HistoryMessage { Role = m.Role == MessageRole.User ? "user" : "assistant", Content = m.Content })],
        });
    }

    public Task<InstanceReply> GetStatusAsync()
    {
        if (!Live)
        {
            return Task.FromResult(NotLive());
        }

        return Task.FromResult(new InstanceReply { Code = 0, Message = "success", Status = StatusName(_session!.Status) });
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (Live)
        {
            // The silo is shutting down: the instance ends with the process. Its native engines (VAD, ASR decoders) must
            // stop before the host disposes the shared engine factories, or their worker threads would use freed memory.
            LogStoppedWithHost(logger, _spec!.AppId, _spec.InstanceId);
            _deleted = true;
            var latency = _session!.GetLatency();
            await _lifetime.CancelAsync();
            await _session.DisposeAsync();
            if (_detector is not null)
            {
                await _detector.DisposeAsync();
            }

            if (_join is { IsCompletedSuccessfully: true, Result: { } connection })
            {
                await connection.DisposeAsync();
            }

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

        await _lifetime.CancelAsync();
        _lifetime.Dispose();
    }

    /// <summary>
    /// The "not found" reply. A grain that was never created (a call with an unknown AgentInstanceId) also deactivates:
    /// the grain type is [KeepAlive] for live instances, and without this every unknown id would keep an activation.
    /// </summary>
    private InstanceReply NotLive()
    {
        if (_spec is null)
        {
            DeactivateOnIdle();
        }

        return NotFound;
    }

    internal static string StatusName(AgentStatus status) => status switch
    {
        AgentStatus.Listening => "LISTENING",
        AgentStatus.Thinking => "THINKING",
        AgentStatus.Speaking => "SPEAKING",
        _ => "IDLE",
    };

    private static ContextMessage ToContext(HistoryMessage m) =>
        new(string.Equals(m.Role, "user", StringComparison.OrdinalIgnoreCase) ? MessageRole.User : MessageRole.Assistant, m.Content);

    private async Task<IAgentRoomConnection?> JoinAsync(InstanceSpec spec, AgentSession session, IAgentInstanceGrain self, CancellationToken cancellationToken)
    {
        try
        {
            var connection = await rooms.JoinAsync(
                new AgentRoomJoin(spec.AppId, spec.InstanceId, spec.RoomId, spec.AgentUserId, spec.AgentStreamId, spec.UserStreamId, spec.UserId, spec.TtsJson),
                cancellationToken);
            session.SetSpeechOutput(connection.SpeechOutput);

            if (cancellationToken.IsCancellationRequested)
            {
                // Deleted or shut down while joining: leave at once, start no engines.
                await connection.DisposeAsync();
                return null;
            }

            // The listening half: the user's stream → VAD → ASR → turns → the session (barge-in, user turns).
            var detector = listeners.CreateDetector(_asr);
            _detector = detector;
            _ = detector.RunAsync(connection.UserAudio, cancellationToken);
            _ = session.ListenAsync(
                detector.Events,
                failed => _ = PublishAsync(spec, CallbackEvents.Exception, new JsonObject { ["Code"] = 2101, ["Message"] = failed.Message }),
                cancellationToken);
            _ = connection.Lost.ContinueWith(
                lost => self.DeleteAsync(lost.Result),
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion,
                TaskScheduler.Default);
            await PublishAsync(spec, CallbackEvents.AgentInstanceCreated, new JsonObject
            {
                ["CreatedTimestamp"] = time.GetUtcNow().ToUnixTimeMilliseconds(),
            });
            return connection;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception ex)
        {
            var code = ex is AgentRoomException room ? room.Code : InstanceCodes.RoomLoginFailed;
            LogJoinFailed(logger, ex, spec.AppId, spec.InstanceId, code);

            // Delete through the grain (serialised with other calls); it reports Exception and Deleted with the code.
            _ = self.DeleteAsync(code);
            return null;
        }
    }

    private async Task PumpEventsAsync(InstanceSpec spec, AgentSession session, CancellationToken cancellationToken)
    {
        var flags = spec.CallbackFlags;
        bool On(string flag) => flags.TryGetValue(flag, out var v) && v == 1;
        var messages = new RoomMessageMapper(spec.UserId);
        try
        {
            await foreach (var e in session.Events.ReadAllAsync(cancellationToken))
            {
                var room = _join is { IsCompletedSuccessfully: true, Result: { } joined } ? joined : null;
                if (room is not null)
                {
                    foreach (var (cmd, round, data) in messages.Map(e))
                    {
                        await room.SendRoomMessageAsync(cmd, round, data, cancellationToken);
                    }
                }

                switch (e)
                {
                    case AgentSpeakingChangedEvent agent when On("AgentSpeakAction"):
                        await PublishAsync(spec, CallbackEvents.AgentSpeakAction, new JsonObject { ["Action"] = agent.Speaking ? "SPEAK_BEGIN" : "SPEAK_END" });
                        break;
                    case UserSpeakingChangedEvent user when On("UserSpeakAction"):
                        await PublishAsync(spec, CallbackEvents.UserSpeakAction, new JsonObject { ["UserId"] = spec.UserId, ["Action"] = user.Speaking ? "SPEAK_BEGIN" : "SPEAK_END" });
                        break;
                    case UserTranscriptEvent { IsFinal: true } transcript when On("ASRResult"):
                        await PublishAsync(spec, CallbackEvents.AsrResult, new JsonObject { ["UserId"] = spec.UserId, ["Round"] = transcript.RoundId, ["Text"] = transcript.Text });
                        break;
                    case UserUtteranceEmptyEvent empty:
                        await PublishAsync(spec, CallbackEvents.Exception, new JsonObject { ["Code"] = 1004, ["Message"] = "speech was heard but recognition produced no text", ["Round"] = empty.RoundId });
                        break;
                    case TurnLatencyEvent turn:
                        TurnMetrics.Record(turn);
                        LogTurn(logger, spec.InstanceId, turn.RoundId, turn.Outcome, turn.IsUserTurn,
                            Ms(turn.FinalTranscriptAt - turn.UserSpeechEndedAt), Ms(turn.LlmFirstTokenAt - turn.ReplyStartedAt),
                            Ms(turn.TtsFirstAudioAt - (turn.LlmFirstTokenAt ?? turn.ReplyStartedAt)), Ms(turn.TotalCost));
                        break;
                }

                switch (e)
                {
                    case InterruptedEvent interrupted when On("Interrupted"):
                        await PublishAsync(spec, CallbackEvents.Interrupted, new JsonObject { ["Round"] = interrupted.RoundId, ["Reason"] = (int)interrupted.Reason });
                        break;
                    case ReplySentenceEvent sentence when On("LLMResult"):
                        await PublishAsync(spec, CallbackEvents.LlmResult, new JsonObject { ["Round"] = sentence.RoundId, ["Text"] = sentence.Text });
                        break;
                    case SessionErrorEvent error:
                        await PublishAsync(spec, CallbackEvents.Exception, new JsonObject { ["Code"] = ExceptionCode(error), ["Message"] = error.Message, ["Round"] = error.RoundId });
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    internal static int ExceptionCode(SessionErrorEvent error) => error.Source switch
    {
        SessionErrorSource.Speech => 2301,
        _ => error.Kind switch
        {
            LlmErrorKind.InvalidParameter => 2202,
            LlmErrorKind.Authentication => 2203,
            LlmErrorKind.RateLimited => 2204,
            LlmErrorKind.Arrears => 2205,
            LlmErrorKind.ContentRejected => 2206,
            _ => 2201,
        },
    };

    private async Task PublishAsync(InstanceSpec spec, string eventName, JsonObject data)
    {
        if (_callbacks is null)
        {
            LogNoPublisher(logger, eventName, spec.InstanceId);
            return;
        }

        try
        {
            await _callbacks.PublishAsync(new CallbackEvent(spec.AppId, eventName, spec.InstanceId, spec.AgentUserId, spec.RoomId, data), CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogPublishFailed(logger, ex, eventName, spec.InstanceId);
        }
    }

    private static long Ms(TimeSpan? span) => span is { } value ? (long)value.TotalMilliseconds : -1;

    [LoggerMessage(Level = LogLevel.Information, Message = "Turn {Round} of instance {InstanceId}: {Outcome} (user turn {IsUserTurn}); final transcript {AsrMs} ms after end of speech, LLM first token {LlmMs} ms, TTS first audio {TtsMs} ms, voice-to-voice {TotalMs} ms")]
    private static partial void LogTurn(ILogger logger, string instanceId, long round, ReplyOutcome outcome, bool isUserTurn, long asrMs, long llmMs, long ttsMs, long totalMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent instance {InstanceId} of app {AppId} created from agent {AgentId}")]
    private static partial void LogCreated(ILogger logger, uint appId, string instanceId, string agentId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Agent instance {InstanceId} of app {AppId} deleted (code {Code})")]
    private static partial void LogDeleted(ILogger logger, uint appId, string instanceId, int code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent instance {InstanceId} of app {AppId} stopped with its host")]
    private static partial void LogStoppedWithHost(ILogger logger, uint appId, string instanceId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent instance {InstanceId} of app {AppId} could not join its room (code {Code})")]
    private static partial void LogJoinFailed(ILogger logger, Exception exception, uint appId, string instanceId, int code);

    [LoggerMessage(Level = LogLevel.Debug, Message = "No callback publisher registered; callback {Event} of agent instance {InstanceId} dropped")]
    private static partial void LogNoPublisher(ILogger logger, string @event, string instanceId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not publish callback {Event} of agent instance {InstanceId}")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string @event, string instanceId);
}

internal static class InstanceKeys
{
    public static string Registry(uint appId) => appId.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string Instance(uint appId, string instanceId) => $"{appId}:{instanceId}";
}
