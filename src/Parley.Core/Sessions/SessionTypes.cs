using System.Text.Json.Nodes;

namespace Parley.Core.Sessions;

/// <summary>What the agent is doing (the contract's status model: idle, listening, thinking, speaking).</summary>
public enum AgentStatus
{
    Idle = 0,
    Listening = 1,
    Thinking = 2,
    Speaking = 3,
}

public enum MessageRole
{
    User,
    Assistant,
}

/// <summary>One message of the conversation context.</summary>
public sealed record ContextMessage(MessageRole Role, string Content);

/// <summary>Why a reply was interrupted (values match the contract's Interrupted reasons).</summary>
public enum InterruptReason
{
    UserSpeech = 1,
    ProactiveLlm = 2,
    ProactiveSpeech = 3,
    Manual = 4,
}

/// <summary>Priority of a proactive reply (user speech priorities arrive with turn-taking).</summary>
public enum ReplyPriority
{
    Low = 0,
    Medium = 1,
    High = 2,
}

/// <summary>What to do when a reply of the same priority is already in flight.</summary>
public enum SamePriorityOption
{
    ClearAndInterrupt,
    Enqueue,
}

/// <summary>Who the session speaks as and to (passed to the LLM when asked to add agent information).</summary>
public sealed record SessionIdentity(string SessionId, string RoomId, string AgentUserId, string UserId);

/// <summary>Settings of the language model of a session (immutable; an update replaces the snapshot).</summary>
public sealed record LlmSettings(
    string Url,
    string ApiKey,
    string Model,
    string? SystemPrompt,
    double Temperature,
    double TopP,
    JsonObject? Params,
    bool AddAgentInfo)
{
    public const double DefaultTemperature = 0.7;
    public const double DefaultTopP = 0.9;
}

/// <summary>Everything needed to stream one reply from a chat model.</summary>
public sealed record ChatModelRequest(
    LlmSettings Settings,
    string? SystemPrompt,
    IReadOnlyList<ContextMessage> History,
    string UserText,
    SessionIdentity Identity,
    long RoundId,
    long TimestampMs);

/// <summary>Streams reply text deltas from a chat model. Failures are thrown as <see cref="LlmException"/>.</summary>
public interface IChatModel
{
    IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, CancellationToken cancellationToken);
}

/// <summary>Classes of model failures (mapped to the contract's exception codes by the API layer).</summary>
public enum LlmErrorKind
{
    /// <summary>Unreachable, timed out, broken or stalled stream, server error.</summary>
    General,
    InvalidParameter,
    Authentication,
    RateLimited,
    Arrears,
    ContentRejected,
}

public sealed class LlmException(LlmErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public LlmErrorKind Kind { get; } = kind;
}

/// <summary>Which part of the session failed.</summary>
public enum SessionErrorSource
{
    Llm,
    Speech,
}

/// <summary>A piece of text the agent speaks. Audio comes from the speech output (TTS in a room).</summary>
public sealed record SpeechSegment(long RoundId, string Text, bool IsFirstOfReply);

/// <summary>
/// Where the session's spoken text goes. Returns when the segment has been played (or handed over when there is
/// no audio path). Cancelled on interruption: the output must drop what it queued for the segment.
/// </summary>
public interface ISpeechOutput
{
    ValueTask SpeakAsync(SpeechSegment segment, CancellationToken cancellationToken);
}

/// <summary>The speech output of a session that has no audio path yet: text is handed over and nothing is played.</summary>
public sealed class TextOnlySpeechOutput : ISpeechOutput
{
    public static readonly TextOnlySpeechOutput Instance = new();

    public ValueTask SpeakAsync(SpeechSegment segment, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Averages over a session (0 when unmeasured).</summary>
public readonly record struct SessionLatency(long LlmFirstTokenMs, double LlmTokensPerSecond, long SpeechFirstAudioMs, long TotalCostMs);
