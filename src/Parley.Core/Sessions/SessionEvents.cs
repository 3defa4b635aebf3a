namespace Parley.Core.Sessions;

/// <summary>Typed events of an <see cref="AgentSession"/>, in the order they happened.</summary>
public abstract record SessionEvent(long RoundId);

public sealed record StatusChangedEvent(long RoundId, AgentStatus Status) : SessionEvent(RoundId);

/// <summary>An incremental piece of reply text (what room subtitles show).</summary>
public sealed record ReplyTextDeltaEvent(long RoundId, string Delta) : SessionEvent(RoundId);

/// <summary>A complete sentence of the reply (what per-sentence result callbacks carry).</summary>
public sealed record ReplySentenceEvent(long RoundId, string Text) : SessionEvent(RoundId);

/// <summary>A reply ran to its end (not sent for interrupted or failed replies).</summary>
public sealed record ReplyFinishedEvent(long RoundId, string Text) : SessionEvent(RoundId);

public sealed record InterruptedEvent(long RoundId, InterruptReason Reason) : SessionEvent(RoundId)
{
    /// <summary>The reply's text already played when it was interrupted ("" when no audio had started).</summary>
    public string PlayedText { get; init; } = "";
}

public sealed record SessionErrorEvent(long RoundId, SessionErrorSource Source, LlmErrorKind Kind, string Message) : SessionEvent(RoundId);

/// <summary>
/// The user started (<see cref="Speaking"/> true) or stopped speaking, in the round of the user's turn: room message
/// Cmd 1 (SpeakStatus 1/2) and the UserSpeakAction callback (SPEAK_BEGIN/SPEAK_END). Not sent for speech the session
/// ignores (InterruptMode 1 while the agent replies).
/// </summary>
public sealed record UserSpeakingChangedEvent(long RoundId, bool Speaking) : SessionEvent(RoundId);

/// <summary>
/// The user's transcript: the full text of the turn so far each time (replace, never append), <see cref="IsFinal"/> on
/// the last one. Room message Cmd 3 (MessageId, Text, EndFlag); the final one is the ASRResult callback.
/// </summary>
public sealed record UserTranscriptEvent(long RoundId, string MessageId, string Text, bool IsFinal) : SessionEvent(RoundId);

/// <summary>Speech was heard but recognition produced no text (the contract's exception 1004).</summary>
public sealed record UserUtteranceEmptyEvent(long RoundId) : SessionEvent(RoundId);

/// <summary>
/// The agent started (first segment of a reply handed to the speech output) or stopped (reply finished, interrupted
/// or failed) speaking: room message Cmd 2 and the AgentSpeakAction callback.
/// </summary>
public sealed record AgentSpeakingChangedEvent(long RoundId, bool Speaking) : SessionEvent(RoundId);

/// <summary>How a reply ended.</summary>
public enum ReplyOutcome
{
    Finished,
    Interrupted,
    Failed,
}

/// <summary>
/// Timestamps of one reply, sent once when it ends (after its finished/interrupted/error event), for metrics and a
/// per-turn log line. User marks are null for proactive replies; later marks are null when the reply never got there.
/// </summary>
public sealed record TurnLatencyEvent(
    long RoundId,
    ReplyOutcome Outcome,
    bool IsUserTurn,
    DateTimeOffset? UserSpeechEndedAt,
    DateTimeOffset? FinalTranscriptAt,
    DateTimeOffset ReplyStartedAt,
    DateTimeOffset? LlmFirstTokenAt,
    DateTimeOffset? TtsFirstAudioAt,
    DateTimeOffset? FirstAudioOutAt) : SessionEvent(RoundId)
{
    /// <summary>End of user speech (or reply start for proactive replies) to the first audio frame out.</summary>
    public TimeSpan? TotalCost => FirstAudioOutAt - (UserSpeechEndedAt ?? ReplyStartedAt);
}

/// <summary>
/// A sentence carrying <c>LLMMetaInfo</c> metadata started playing: <paramref name="MetaInfo"/> has the keys listed in
/// <c>SendMetaKeys</c> (room Cmd 102, callback AgentInstanceMetaInfo).
/// </summary>
public sealed record AgentMetaInfoEvent(long RoundId, System.Text.Json.Nodes.JsonObject MetaInfo) : SessionEvent(RoundId);
