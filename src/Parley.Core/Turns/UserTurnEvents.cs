namespace Parley.Core.Turns;

/// <summary>Typed events of a <see cref="UserTurnDetector"/>; <see cref="At"/> comes from its TimeProvider.</summary>
public abstract record UserTurnEvent(DateTimeOffset At);

/// <summary>The VAD decided the user started speaking (after the minimum speech duration).</summary>
public sealed record UserSpeechStarted(DateTimeOffset At) : UserTurnEvent(At);

/// <summary>The VAD decided the user stopped speaking (after <c>VADSilenceSegmentation</c> of silence).</summary>
public sealed record UserSpeechEnded(DateTimeOffset At) : UserTurnEvent(At);

/// <summary>
/// The transcript of the turn: the full text so far each time (room Cmd 3 semantics: replace, not append), one
/// <paramref name="MessageId"/> per turn, <paramref name="IsFinal"/> once, when the (stitched) turn is final.
/// </summary>
public sealed record TranscriptUpdated(DateTimeOffset At, string MessageId, string Text, bool IsFinal) : UserTurnEvent(At);

/// <summary>The user's turn is complete with non-empty text (follows the final <see cref="TranscriptUpdated"/>).</summary>
public sealed record UserTurnCompleted(DateTimeOffset At, string MessageId, string Text, UserTurnTimes Times) : UserTurnEvent(At);

/// <summary>Speech was heard but recognition produced no text for the whole turn (the contract's exception 1004).</summary>
public sealed record EmptyUtterance(DateTimeOffset At, string MessageId) : UserTurnEvent(At);

/// <summary>The recogniser failed (the contract's exception 2101); the detector hears nothing more.</summary>
public sealed record RecognitionFailed(DateTimeOffset At, string Message) : UserTurnEvent(At);

/// <summary>When a turn was heard: first speech start, last speech end decision, final transcript.</summary>
public readonly record struct UserTurnTimes(DateTimeOffset SpeechStartedAt, DateTimeOffset SpeechEndedAt, DateTimeOffset FinalTranscriptAt);
