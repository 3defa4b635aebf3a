using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Parley.Core.Agents;
using Parley.Core.Output;
using Parley.Core.Sessions;
using Parley.Providers.Llm;
using Parley.Server.Callbacks;
using Parley.Server.Observability;
using Parley.Server.Rooms;
using Parley.Server.Zego;

namespace Parley.Server.Instances;

/// <summary>
/// Builds the running side of one agent instance and owns it: the <see cref="VoiceAgent"/> (from the instance's
/// contract JSON), its room presence (joined in the background), and the <see cref="ZegoEventBridge"/> that carries
/// its events to the room and to callbacks. <see cref="StopAsync"/> is the one teardown, used by both delete and
/// deactivation. It never touches the grain's state: the grain calls it, and it reports back only through the
/// delegates it was given (which go through the grain's own calls).
/// </summary>
internal sealed partial class AgentInstanceHost
{
    private readonly InstanceSpec _spec;
    private readonly AgentInstanceHostFactory _deps;
    private readonly Func<int, Task> _delete;
    private static readonly TimeSpan GracefulPoll = TimeSpan.FromMilliseconds(100);
    private readonly CancellationTokenSource _lifetime = new();
    private Task? _graceful;
    private readonly ZegoEventBridge _bridge;
    private readonly Task<IAgentRoomConnection?> _join;
    private JsonObject _asr;
    private readonly JsonObject _vad;
    private readonly Action<string, int>? _userAudio;
    private readonly Lock _streamLock = new();
    private string _userStreamId;
    private IAgentRoomConnection? _connection;

    // Vendor notices (fallback engines in use) wait for AgentInstanceCreated, then go out as Exception callbacks.
    private List<VendorNotice>? _pendingNotices = [];

    internal AgentInstanceHost(AgentInstanceHostFactory deps, InstanceSpec spec, JsonObject llm, JsonObject tts, JsonObject asr, Func<int, Task> delete)
    {
        _deps = deps;
        _spec = spec;
        _delete = delete;
        _asr = asr;
        _vad = InstanceConfig.Parse(spec.VadJson);
        if (spec.CallbackFlags.TryGetValue("UserAudioData", out var wantsAudio) && wantsAudio == 1)
        {
            _userAudio = (audio, samples) => _ = PublishAsync(CallbackEvents.UserAudioData, new JsonObject
            {
                ["UserId"] = spec.UserId,
                ["Round"] = Session.LastRound,
                ["SampleRate"] = UserAudioCapture.SampleRate,
                ["Format"] = "pcm",
                ["Audio"] = audio,
            });
        }
        _userStreamId = spec.UserStreamId;
        Agent = new VoiceAgent(
            new VoiceAgentOptions
            {
                Session = new AgentSessionOptions
                {
                    Identity = new SessionIdentity(spec.InstanceId, spec.RoomId, spec.AgentUserId, spec.UserId),
                    Llm = InstanceConfig.ToLlmSettings(llm),
                    WindowSize = spec.WindowSize,
                    InitialMessages = [.. spec.InitialMessages.Select(ToContext)],
                    LlmStallTimeout = deps.Options.LlmStallTimeout,
                    Interruption = ZegoConfig.ToInterruptionPolicy(spec.InterruptMode, asr, InstanceConfig.Parse(spec.VadJson)),
                    MetaInfo = SpeechTextConfig.ToRules(spec.MetaInfoJson),
                },
                SpeechLookahead = deps.RoomOptions.SpeechLookahead,
                TextOnly = spec.DisableTts && !SpeaksItself(llm),
                WalkieTalkie = spec.CommunicationMode == ListeningActions.WalkieTalkieMode,
            },
            deps.ChatModel,
            deps.Time);
        if (!spec.DisableTts)
        {
            // A text-only agent (DisableTTS) has no voice: its TTS config may be incomplete.
            Agent.UpdateVoice(deps.Speakers.Select(tts) with { ParamPaths = SpeechTextConfig.ToParamPaths(spec.TtsParamPathsJson) });
        }
        else if (SpeaksItself(llm))
        {
            // An audio-output LLM with TTS disabled: the model's own audio is the agent's voice.
            Agent.UpdateVoice(new TtsVoice(new ModelAudioVoice(), null, [], null));
        }

        Agent.UpdateListening(() => deps.Listeners.CreateListening(Volatile.Read(ref _asr), _vad, _userAudio));
        Notify(spec.DisableTts ? null : deps.Speakers.FallbackNotice(tts));
        Notify(deps.Listeners.FallbackNotice(asr));
        Agent.RecognitionFailed += failed => _ = PublishAsync(CallbackEvents.Exception, new JsonObject { ["Code"] = 2101, ["Message"] = failed.Message, ["Round"] = Session.LastRound });
        Agent.SynthesisFailed += (vendor, ex) => LogTtsFailed(deps.Logger, ex, vendor);
        // Per-turn spans, histograms and the turn log line come from an observer of the events (Observability/).
        var observer = deps.Observers.Create(spec.InstanceId);
        _bridge = new ZegoEventBridge(Agent.Session.Events, spec, PublishAsync, observer.OnEvent);
        _join = Task.Run(() => JoinAsync(_lifetime.Token));
    }

    public VoiceAgent Agent { get; }

    public AgentSession Session => Agent.Session;

    /// <summary>Applies UpdateAgentInstance to the running agent: the LLM at once, the voice from the next sentence, listening at once.</summary>
    public void Update(JsonObject llm, JsonObject? tts, JsonObject? asr)
    {
        Session.UpdateLlm(InstanceConfig.ToLlmSettings(llm));
        if (tts is not null && !_spec.DisableTts)
        {
            Agent.UpdateVoice(_deps.Speakers.Select(tts) with { ParamPaths = SpeechTextConfig.ToParamPaths(_spec.TtsParamPathsJson) });
            Notify(_deps.Speakers.FallbackNotice(tts));
        }

        if (asr is not null)
        {
            Volatile.Write(ref _asr, asr);
            Agent.UpdateListening(() => _deps.Listeners.CreateListening(Volatile.Read(ref _asr), _vad, _userAudio));
            Notify(_deps.Listeners.FallbackNotice(asr));
        }
    }

    /// <summary>
    /// A graceful shutdown (DeleteAgentInstance <c>GracefulShutdown</c>): in the background, waits until the agent is IDLE
    /// (no reply running or queued, the user not mid-turn) or <paramref name="timeout"/> passed, then calls
    /// <paramref name="finish"/> (the grain's own delete). A teardown meanwhile (<see cref="StopAsync"/>) ends the wait.
    /// </summary>
    public void BeginGracefulStop(TimeSpan timeout, Func<Task> finish) => _graceful ??= WaitGracefullyAsync(timeout, finish);

    private async Task WaitGracefullyAsync(TimeSpan timeout, Func<Task> finish)
    {
        using var limit = new CancellationTokenSource(timeout, _deps.Time);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, _lifetime.Token);
        try
        {
            while (true)
            {
                await Session.WhenIdleAsync(wait.Token).ConfigureAwait(false);
                if (Session.Status == AgentStatus.Idle)
                {
                    break;
                }

                // The user is mid-turn (LISTENING) or a reply is starting: look again shortly.
                await Task.Delay(GracefulPoll, _deps.Time, wait.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !_lifetime.IsCancellationRequested)
        {
            // Timed out: shut down anyway.
        }
        catch (OperationCanceledException)
        {
            return; // stopped meanwhile by another teardown
        }

        try
        {
            await finish().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogGracefulFinishFailed(_deps.Logger, _spec.InstanceId, ex);
        }
    }

    /// <summary>
    /// UpdateAgentInstance <c>RTC.UserStreamId</c>: the agent stops playing its user stream and plays this one (also when
    /// it is published only later); the input pipeline continues. Before the room is joined, the switch happens on join.
    /// </summary>
    public void SwitchUserStream(string streamId)
    {
        IAgentRoomConnection? connection;
        lock (_streamLock)
        {
            _userStreamId = streamId;
            connection = _connection;
        }

        if (connection is not null)
        {
            _ = SwitchAsync(connection, streamId);
        }
    }

    private async Task SwitchAsync(IAgentRoomConnection connection, string streamId)
    {
        try
        {
            await connection.SwitchUserStreamAsync(streamId, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AgentRoomException or OperationCanceledException or ObjectDisposedException)
        {
            LogSwitchFailed(_deps.Logger, ex, _spec.InstanceId, streamId);
        }
    }

    /// <summary>The one teardown: leaves the room, stops the agent and its engines, flushes its events; returns its latency figures.</summary>
    public async Task<SessionLatency> StopAsync(TimeSpan joinWait)
    {
        // The join is short (and completes at once without a room server); waiting keeps Created before Deleted.
        IAgentRoomConnection? connection = null;
        try
        {
            connection = await _join.WaitAsync(joinWait).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        var latency = Session.GetLatency();
        await Agent.DisposeAsync().ConfigureAwait(false);
        await _bridge.DisposeAsync().ConfigureAwait(false);
        connection ??= _join.IsCompletedSuccessfully ? _join.Result : null;
        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _lifetime.Dispose();
        return latency;
    }

    /// <summary>Whether the LLM object asks the model for audio it can play (<c>Params.modalities</c> with "audio", PCM).</summary>
    private static bool SpeaksItself(JsonObject llm)
    {
        try
        {
            return OpenAICompatibleChatModel.WantsAudio(llm["Params"] as JsonObject);
        }
        catch (LlmException)
        {
            return false; // an audio format it cannot play: each reply reports it (2202)
        }
    }

    /// <summary>Reports a vendor notice as an Exception callback (after AgentInstanceCreated; held until then).</summary>
    private void Notify(VendorNotice? notice)
    {
        if (notice is null)
        {
            return;
        }

        // The selection already logged a warning naming the vendor and the reason; this is the backend's copy.
        lock (_streamLock)
        {
            if (_pendingNotices is { } pending)
            {
                pending.Add(notice);
                return;
            }
        }

        _ = PublishNoticeAsync(notice);
    }

    private Task PublishNoticeAsync(VendorNotice notice) =>
        PublishAsync(CallbackEvents.Exception, new JsonObject { ["Code"] = notice.Code, ["Message"] = notice.Message, ["Round"] = Session.LastRound });

    public async Task PublishAsync(string eventName, JsonObject data)
    {
        if (_deps.Callbacks is not { } callbacks)
        {
            return;
        }

        try
        {
            await callbacks.PublishAsync(new CallbackEvent(_spec.AppId, eventName, _spec.InstanceId, _spec.AgentUserId, _spec.RoomId, data, _spec.AgentId, _spec.AgentName, _spec.HostTag), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogPublishFailed(_deps.Logger, ex, eventName, _spec.InstanceId);
        }
    }

    private static ContextMessage ToContext(HistoryMessage m) =>
        new(string.Equals(m.Role, "user", StringComparison.OrdinalIgnoreCase) ? MessageRole.User : MessageRole.Assistant, m.Content);

    private async Task<IAgentRoomConnection?> JoinAsync(CancellationToken cancellationToken)
    {
        var spec = _spec;
        try
        {
            var connection = await _deps.Rooms.JoinAsync(
                new AgentRoomJoin(spec.AppId, spec.InstanceId, spec.RoomId, spec.AgentUserId, spec.AgentStreamId, spec.UserStreamId, spec.UserId, spec.MaxIdleSeconds > 0 ? TimeSpan.FromSeconds(spec.MaxIdleSeconds) : null, spec.StreamExtraInfo),
                cancellationToken).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                // Deleted or shut down while joining: leave at once, start no engines.
                await connection.DisposeAsync().ConfigureAwait(false);
                return null;
            }

            string userStreamId;
            lock (_streamLock)
            {
                _connection = connection;
                userStreamId = _userStreamId;
            }

            if (!string.Equals(userStreamId, spec.UserStreamId, StringComparison.Ordinal))
            {
                // RTC.UserStreamId was updated while the agent was joining.
                _ = SwitchAsync(connection, userStreamId);
            }

            Agent.AttachMedia(new VoiceMedia(connection.UserAudio, connection.AgentAudio));
            _bridge.AttachRoom(connection);
            _ = connection.Lost.ContinueWith(lost => _delete(lost.Result), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            await PublishAsync(CallbackEvents.AgentInstanceCreated, new JsonObject
            {
                ["CreatedTimestamp"] = _deps.Time.GetUtcNow().ToUnixTimeMilliseconds(),
            }).ConfigureAwait(false);
            List<VendorNotice> notices;
            lock (_streamLock)
            {
                notices = _pendingNotices ?? [];
                _pendingNotices = null;
            }

            foreach (var notice in notices)
            {
                await PublishNoticeAsync(notice).ConfigureAwait(false);
            }

            return connection;
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException && cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception ex)
        {
            var code = ex is AgentRoomException room ? room.Code : InstanceCodes.RoomLoginFailed;
            LogJoinFailed(_deps.Logger, ex, spec.AppId, spec.InstanceId, code);
            Agent.AbandonMedia();

            // Delete through the grain (serialised with other calls); it reports Exception and Deleted with the code.
            _ = _delete(code);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent instance {InstanceId} could not switch to user stream {StreamId}")]
    private static partial void LogSwitchFailed(ILogger logger, Exception exception, string instanceId, string streamId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent instance {InstanceId} of app {AppId} could not join its room (code {Code})")]
    private static partial void LogJoinFailed(ILogger logger, Exception exception, uint appId, string instanceId, int code);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not publish callback {Event} of agent instance {InstanceId}")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string @event, string instanceId);

    [LoggerMessage(Level = LogLevel.Error, Message = "The graceful shutdown of agent instance {InstanceId} could not finish")]
    private static partial void LogGracefulFinishFailed(ILogger logger, string instanceId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "TTS vendor {Vendor} failed")]
    private static partial void LogTtsFailed(ILogger logger, Exception exception, string vendor);
}

/// <summary>What every <see cref="AgentInstanceHost"/> is built from (one per silo).</summary>
internal sealed class AgentInstanceHostFactory(
    IEnumerable<ICallbackPublisher> callbackPublishers,
    IAgentRoomBinding rooms,
    SpeechRecognizers listeners,
    TtsProviders speakers,
    IChatModel chatModel,
    TimeProvider time,
    IOptions<InstanceHostOptions> options,
    IOptions<AgentRoomOptions> roomOptions,
    SessionObservers observers,
    ILogger<AgentInstanceHost> logger)
{
    public SessionObservers Observers => observers;

    public ICallbackPublisher? Callbacks { get; } = callbackPublishers.LastOrDefault();

    public IAgentRoomBinding Rooms => rooms;

    public SpeechRecognizers Listeners => listeners;

    public TtsProviders Speakers => speakers;

    public IChatModel ChatModel => chatModel;

    public TimeProvider Time => time;

    public InstanceHostOptions Options => options.Value;

    public AgentRoomOptions RoomOptions => roomOptions.Value;

    public ILogger Logger => logger;

    public AgentInstanceHost Create(InstanceSpec spec, JsonObject llm, JsonObject tts, JsonObject asr, Func<int, Task> delete) =>
        new(this, spec, llm, tts, asr, delete);
}
