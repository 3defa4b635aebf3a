namespace Parley.Core.Turns;

/// <summary>Typed events of a <c>UserInputPipeline</c>; <see cref="At"/> comes from its TimeProvider.</summary>
public abstract record UserTurnEvent(DateTimeOffset At);

/// <summary>The VAD decided the user started speaking (after the minimum speech duration).</summary>
public sealed record UserSpeechStarted(DateTimeOffset At) : UserTurnEvent(At);

/// <summary>
/// Speech-like audio began (the VAD's provisional start, before its minimum speech): while the agent speaks, its audio
/// pauses until the speech is confirmed (<see cref="UserSpeechStarted"/> and the interruption policy) or released
/// (<see cref="UserSpeechReleased"/>).
/// </summary>
public sealed record UserSpeechProvisional(DateTimeOffset At) : UserTurnEvent(At);

/// <summary>A provisional start fell back to quiet before it became speech (a false start: the agent's audio resumes).</summary>
public sealed record UserSpeechReleased(DateTimeOffset At) : UserTurnEvent(At);

/// <summary>
/// The user's current utterance has lasted <paramref name="Duration"/>, at least the pipeline's
/// <see cref="InterruptionPolicy.MinSpeech"/> (audio time from the speech boundary): once per utterance, right after
/// <see cref="UserSpeechStarted"/> when the VAD's own minimum already covers it, and once more at
/// <see cref="InterruptionPolicy.EchoGuardMinSpeech"/> when that is longer. Speech that ends before never sends it.
/// </summary>
public sealed record UserSpeechSustained(DateTimeOffset At, TimeSpan Duration) : UserTurnEvent(At);

/// <summary>The VAD decided the user stopped speaking (after its silence duration).</summary>
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

/// <summary>
/// The recogniser failed (the contract's exception 2101): the turn in progress is dropped. Sent once per outage: the
/// pipeline opens a fresh recognition stream after a short backoff and keeps hearing; failures before a new stream has
/// produced any result belong to the same outage and send <see cref="UserTurnDropped"/> instead.
/// </summary>
public sealed record RecognitionFailed(DateTimeOffset At, string Message) : UserTurnEvent(At);

/// <summary>
/// The turn in progress is dropped without a transcript: its recogniser failed again during an outage already reported
/// by <see cref="RecognitionFailed"/>, or speech began while no recogniser was open (during the backoff).
/// </summary>
public sealed record UserTurnDropped(DateTimeOffset At, string MessageId) : UserTurnEvent(At);

/// <summary>When a turn was heard: first speech start, last speech end decision, final transcript.</summary>
public readonly record struct UserTurnTimes(DateTimeOffset SpeechStartedAt, DateTimeOffset SpeechEndedAt, DateTimeOffset FinalTranscriptAt);
