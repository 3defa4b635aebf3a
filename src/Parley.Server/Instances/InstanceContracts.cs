namespace Parley.Server.Instances;

/// <summary>
/// One running agent instance (grain key <c>"{appId}:{instanceId}"</c>, so an app can only reach its own instances).
/// Owns the lifecycle and the in-process <see cref="Parley.Core.Sessions.AgentSession"/>; control calls are serialised.
/// Every call answers <see cref="InstanceReply"/> with Code 410001002 when the instance does not exist (any more).
/// </summary>
public interface IAgentInstanceGrain : IGrainWithStringKey
{
    Task<InstanceReply> CreateAsync(InstanceSpec spec);

    Task<InstanceReply> UpdateAsync(InstanceUpdate update);

    /// <summary>Stops the instance; <paramref name="reasonCode"/> is the AgentInstanceDeleted code (0 = by API, 1203 = kicked…).</summary>
    Task<InstanceReply> DeleteAsync(int reasonCode);

    /// <summary>
    /// DeleteAgentInstance with <c>GracefulShutdown</c>: answers at once; the instance ends (as <see cref="DeleteAsync"/>
    /// with code 0) once the agent is IDLE, or after <paramref name="timeoutSeconds"/>. Meanwhile calls get 410001041.
    /// </summary>
    Task<InstanceReply> DeleteGracefullyAsync(int timeoutSeconds);

    /// <summary>The end of a graceful delete (the host calls it when the agent is idle or the time is up).</summary>
    Task<InstanceReply> FinishGracefulDeleteAsync();

    Task<InstanceReply> SendLlmAsync(LlmCommand command);

    Task<InstanceReply> SendTtsAsync(TtsCommand command);

    Task<InstanceReply> InterruptAsync();

    Task<InstanceReply> ResetMessagesAsync();

    /// <summary>AddAgentInstanceMsg: appends to the context (no LLM call, no subtitles, no new round).</summary>
    Task<InstanceReply> AddMessagesAsync(List<HistoryMessage> messages);

    Task<MessagesReply> GetMessagesAsync();

    /// <summary>Status in <see cref="InstanceReply.Status"/>.</summary>
    Task<InstanceReply> GetStatusAsync();

    /// <summary>Walkie-talkie mode: the agent starts hearing the user (StartListening; <see cref="InstanceReply.Round"/> in the reply).</summary>
    Task<InstanceReply> StartListeningAsync(ListenCommand command);

    /// <summary>Walkie-talkie mode: the agent stops hearing the user and answers what was heard (StopListening).</summary>
    Task<InstanceReply> StopListeningAsync(ListenCommand command);
}

/// <summary>The live instances of one app (grain key: the AppId). Enforces the concurrency limit and RTC id uniqueness.</summary>
public interface IAppInstanceRegistryGrain : IGrainWithStringKey
{
    Task<ReservationReply> ReserveAsync(InstanceReservation reservation);

    Task ReleaseAsync(string instanceId);

    Task<int> CountAsync();
}

[GenerateSerializer]
[Immutable]
public sealed class InstanceReply
{
    public static readonly InstanceReply Ok = new() { Code = 0, Message = "success" };

    [Id(0)]
    public int Code { get; init; }

    [Id(1)]
    public string Message { get; init; } = "";

    /// <summary>Status for QueryAgentInstanceStatus (IDLE, LISTENING, THINKING, SPEAKING).</summary>
    [Id(2)]
    public string? Status { get; init; }

    /// <summary>Data.Round of SendAgentInstanceLLM/TTS (the reply started or queued) and InterruptAgentInstance (the reply interrupted, 0 if none).</summary>
    [Id(3)]
    public long Round { get; init; }

    public static InstanceReply Error(int code, string message) => new() { Code = code, Message = message };
}

[GenerateSerializer]
[Immutable]
public sealed class HistoryMessage
{
    [Id(0)]
    public string Role { get; init; } = "";

    [Id(1)]
    public string Content { get; init; } = "";
}

[GenerateSerializer]
[Immutable]
public sealed class MessagesReply
{
    [Id(0)]
    public int Code { get; init; }

    [Id(1)]
    public string Message { get; init; } = "";

    [Id(2)]
    public List<HistoryMessage> Messages { get; init; } = [];
}

/// <summary>Everything an instance is created with. Configuration objects travel as JSON text (already merged and validated).</summary>
[GenerateSerializer]
[Immutable]
public sealed class InstanceSpec
{
    [Id(0)] public uint AppId { get; init; }
    [Id(1)] public string InstanceId { get; init; } = "";
    [Id(2)] public string AgentId { get; init; } = "";
    [Id(3)] public string UserId { get; init; } = "";
    [Id(4)] public string RoomId { get; init; } = "";
    [Id(5)] public string AgentUserId { get; init; } = "";
    [Id(6)] public string AgentStreamId { get; init; } = "";
    [Id(7)] public string UserStreamId { get; init; } = "";
    [Id(8)] public string LlmJson { get; init; } = "{}";
    [Id(9)] public string TtsJson { get; init; } = "{}";
    [Id(10)] public string AsrJson { get; init; } = "{}";
    [Id(11)] public int WindowSize { get; init; } = 20;
    [Id(12)] public List<HistoryMessage> InitialMessages { get; init; } = [];

    /// <summary>CallbackConfig flags as sent (1 = on); unknown flags are kept.</summary>
    [Id(13)] public Dictionary<string, int> CallbackFlags { get; init; } = [];
    [Id(14)] public int InterruptMode { get; init; }

    /// <summary>The registered agent's name (callbacks carry it with <see cref="AgentId"/>).</summary>
    [Id(15)] public string AgentName { get; init; } = "";

    /// <summary><c>AdvancedConfig.DisableTTS</c>: a text-only agent (no synthesis, no audio published; SendAgentInstanceTTS is refused).</summary>
    [Id(16)] public bool DisableTts { get; init; }

    /// <summary><c>AdvancedConfig.MaxIdleTime</c> in seconds (10–1800; 0 = not given: <c>Parley:Rooms:IdleTimeout</c>).</summary>
    [Id(30)] public int MaxIdleSeconds { get; init; }

    /// <summary>The <c>VAD</c> object of CreateAgentInstance (JSON text; "{}" = not given): turn detection and sensitivity.</summary>
    [Id(20)] public string VadJson { get; init; } = "{}";

    /// <summary><c>AdvancedConfig.CommunicationMode</c>: 0 full duplex, 2 walkie-talkie (StartListening/StopListening).</summary>
    [Id(25)] public int CommunicationMode { get; init; }

    /// <summary><c>CallbackConfig.HostTag</c>: the app's named callback URL the instance's callbacks go to ("" = its CallbackUrl).</summary>
    [Id(46)] public string HostTag { get; init; } = "";

    /// <summary><c>RTC.StreamExtraInfo</c>: the agent stream's extra info (≤1024 bytes UTF-8; "" = none).</summary>
    [Id(45)] public string StreamExtraInfo { get; init; } = "";

    /// <summary><c>AdvancedConfig.LLMMetaInfo</c> as checked (JSON), or null.</summary>
    [Id(35)] public string? MetaInfoJson { get; init; }

    /// <summary><c>AdvancedConfig.TTSParamPaths</c> as checked (JSON), or null.</summary>
    [Id(36)] public string? TtsParamPathsJson { get; init; }
}

/// <summary>UpdateAgentInstance: override objects (JSON text, null = not given) merged over the instance's current ones.</summary>
[GenerateSerializer]
[Immutable]
public sealed class InstanceUpdate
{
    [Id(0)] public string? LlmJson { get; init; }
    [Id(1)] public string? TtsJson { get; init; }
    [Id(2)] public string? AsrJson { get; init; }

    /// <summary><c>RTC.UserStreamId</c>: the user stream the agent listens to from now on (null = unchanged).</summary>
    [Id(45)] public string? UserStreamId { get; init; }
}

[GenerateSerializer]
[Immutable]
public sealed class LlmCommand
{
    [Id(0)] public string Text { get; init; } = "";
    [Id(1)] public string? SystemPrompt { get; init; }
    [Id(2)] public bool AddQuestionToHistory { get; init; }
    [Id(3)] public bool AddAnswerToHistory { get; init; }
    [Id(4)] public int Priority { get; init; } = 1;
    [Id(5)] public bool Enqueue { get; init; }
}

[GenerateSerializer]
[Immutable]
public sealed class TtsCommand
{
    [Id(0)] public string Text { get; init; } = "";
    [Id(1)] public bool AddHistory { get; init; } = true;
    [Id(2)] public int InterruptMode { get; init; }
    [Id(3)] public int Priority { get; init; } = 1;
    [Id(4)] public bool Enqueue { get; init; }
}

[GenerateSerializer]
[Immutable]
public sealed class InstanceReservation
{
    [Id(0)] public string InstanceId { get; init; } = "";
    [Id(1)] public string AgentUserId { get; init; } = "";
    [Id(2)] public string AgentStreamId { get; init; } = "";
    [Id(3)] public int MaxInstances { get; init; }
}

[GenerateSerializer]
[Immutable]
public sealed class ReservationReply
{
    [Id(0)] public int Code { get; init; }
    [Id(1)] public string Message { get; init; } = "";

    /// <summary>An older instance with the same AgentUserId that must be kicked (Deleted 1203), or null.</summary>
    [Id(2)] public string? KickInstanceId { get; init; }
}
