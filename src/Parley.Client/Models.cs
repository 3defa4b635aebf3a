using System.Text.Json.Nodes;

namespace Parley.Client;

// Property names are ZEGO's wire names (spec sections 2-5); null properties are omitted when sent.

/// <summary><c>LLM</c> (spec 2.1).</summary>
public sealed record LlmConfig
{
    /// <summary>[NEWER] interface type, e.g. <c>OpenAIChat</c>; the field's real name is not documented.</summary>
    public string? Vendor { get; init; }

    public required string Url { get; init; }

    public string? ApiKey { get; init; }

    public required string Model { get; init; }

    public string? SystemPrompt { get; init; }

    public double? Temperature { get; init; }

    public double? TopP { get; init; }

    public JsonObject? Params { get; init; }

    public bool? AddAgentInfo { get; init; }
}

/// <summary><c>TTS</c> (spec 2.2). <see cref="Params"/> must contain <c>app</c>.</summary>
public sealed record TtsConfig
{
    public required string Vendor { get; init; }

    public required JsonObject Params { get; init; }

    public IReadOnlyList<TtsFilterText>? FilterText { get; init; }

    public string? TerminatorText { get; init; }
}

public sealed record TtsFilterText
{
    public required string BeginCharacters { get; init; }

    public required string EndCharacters { get; init; }
}

/// <summary><c>ASR</c> (spec 2.3).</summary>
public sealed record AsrConfig
{
    public string? Vendor { get; init; }

    public string? HotWord { get; init; }

    public JsonObject? Params { get; init; }

    public int? VADSilenceSegmentation { get; init; }

    public int? PauseInterval { get; init; }
}

/// <summary><c>RTC</c> (spec 2.4).</summary>
public sealed record RtcConfig
{
    public required string RoomId { get; init; }

    public required string AgentStreamId { get; init; }

    public required string AgentUserId { get; init; }

    public required string UserStreamId { get; init; }
}

/// <summary><c>MessageHistory</c> (spec 2.5).</summary>
public sealed record MessageHistoryConfig
{
    public int? SyncMode { get; init; }

    public IReadOnlyList<ChatMessage>? Messages { get; init; }

    public int? WindowSize { get; init; }

    public ZimConfig? ZIM { get; init; }
}

public sealed record ZimConfig
{
    public string? RobotId { get; init; }

    public int? LoadMessageCount { get; init; }
}

/// <summary>A context message: <c>Role</c> is <c>user</c> or <c>assistant</c>.</summary>
public sealed record ChatMessage
{
    public required string Role { get; init; }

    public required string Content { get; init; }
}

/// <summary><c>CallbackConfig</c> (spec 2.6): 1 enables the event.</summary>
public sealed record CallbackConfig
{
    public int? ASRResult { get; init; }

    public int? LLMResult { get; init; }

    public int? Exception { get; init; }

    public int? Interrupted { get; init; }

    public int? UserSpeakAction { get; init; }

    public int? AgentSpeakAction { get; init; }

    public int? UserAudioData { get; init; }

    public int? AgentInstanceStatus { get; init; }
}

/// <summary><c>AdvancedConfig</c> (spec 2.7).</summary>
public sealed record AdvancedConfig
{
    public int? InterruptMode { get; init; }
}

public sealed record RegisterAgentRequest
{
    public required string AgentId { get; init; }

    public string? Name { get; init; }

    public required LlmConfig LLM { get; init; }

    public required TtsConfig TTS { get; init; }

    public AsrConfig? ASR { get; init; }
}

public sealed record UnregisterAgentRequest
{
    public required string AgentId { get; init; }
}

public sealed record UpdateAgentRequest
{
    public required string AgentId { get; init; }

    public string? Name { get; init; }

    public LlmConfig? LLM { get; init; }

    public TtsConfig? TTS { get; init; }

    public AsrConfig? ASR { get; init; }
}

public sealed record ListAgentsRequest
{
    public int? Limit { get; init; }

    public string? Cursor { get; init; }
}

public sealed record QueryAgentsRequest
{
    public required IReadOnlyList<string> AgentIds { get; init; }
}

public sealed record CreateAgentInstanceRequest
{
    public required string AgentId { get; init; }

    public required string UserId { get; init; }

    public required RtcConfig RTC { get; init; }

    public LlmConfig? LLM { get; init; }

    public TtsConfig? TTS { get; init; }

    public AsrConfig? ASR { get; init; }

    public MessageHistoryConfig? MessageHistory { get; init; }

    public CallbackConfig? CallbackConfig { get; init; }

    public AdvancedConfig? AdvancedConfig { get; init; }
}

public sealed record UpdateAgentInstanceRequest
{
    public required string AgentInstanceId { get; init; }

    public LlmConfig? LLM { get; init; }

    public TtsConfig? TTS { get; init; }

    public AsrConfig? ASR { get; init; }
}

/// <summary>The body of the actions that take only an instance: Delete, QueryStatus, Interrupt, Get/ResetMsgList.</summary>
public sealed record AgentInstanceRequest
{
    public required string AgentInstanceId { get; init; }
}

public sealed record SendAgentInstanceLlmRequest
{
    public required string AgentInstanceId { get; init; }

    public required string Text { get; init; }

    public string? SystemPrompt { get; init; }

    public bool? AddQuestionToHistory { get; init; }

    public bool? AddAnswerToHistory { get; init; }

    /// <summary><c>High</c>, <c>Medium</c> or <c>Low</c>.</summary>
    public string? Priority { get; init; }

    /// <summary><c>ClearAndInterrupt</c> or <c>Enqueue</c>.</summary>
    public string? SamePriorityOption { get; init; }

    public bool? EnqueueUserSpeech { get; init; }
}

public sealed record SendAgentInstanceTtsRequest
{
    public required string AgentInstanceId { get; init; }

    /// <summary>At most 300 characters.</summary>
    public required string Text { get; init; }

    public bool? AddHistory { get; init; }

    public int? InterruptMode { get; init; }

    public string? Priority { get; init; }

    public string? SamePriorityOption { get; init; }

    public bool? EnqueueUserSpeech { get; init; }
}

/// <summary>An agent as returned by ListAgents and QueryAgents (spec 2.8).</summary>
public sealed record AgentInfo
{
    public string AgentId { get; init; } = "";

    public string? Name { get; init; }

    public LlmConfig? LLM { get; init; }

    public TtsConfig? TTS { get; init; }

    public AsrConfig? ASR { get; init; }
}

public sealed record ListAgentsResult
{
    public int Total { get; init; }

    public IReadOnlyList<AgentInfo> Agents { get; init; } = [];

    /// <summary>Non-empty when more pages follow.</summary>
    public string Cursor { get; init; } = "";
}

public sealed record QueryAgentsResult
{
    public IReadOnlyList<AgentInfo> Agents { get; init; } = [];
}

public sealed record CreateAgentInstanceResult
{
    public string AgentInstanceId { get; init; } = "";
}

public sealed record AgentInstanceStatusResult
{
    /// <summary><c>IDLE</c>, <c>LISTENING</c>, <c>THINKING</c> or <c>SPEAKING</c>.</summary>
    public string Status { get; init; } = "";
}

public sealed record AgentInstanceMsgListResult
{
    public int Total { get; init; }

    public IReadOnlyList<ChatMessage> MessageList { get; init; } = [];
}
