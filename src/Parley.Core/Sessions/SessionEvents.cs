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

public sealed record InterruptedEvent(long RoundId, InterruptReason Reason) : SessionEvent(RoundId);

public sealed record SessionErrorEvent(long RoundId, SessionErrorSource Source, LlmErrorKind Kind, string Message) : SessionEvent(RoundId);
