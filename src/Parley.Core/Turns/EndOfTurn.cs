using Parley.Core.Sessions;

namespace Parley.Core.Turns;

/// <summary>What an <see cref="IEndOfTurnPolicy"/> decided about the user's turn.</summary>
public enum EndOfTurn
{
    /// <summary>The turn stays open: more speech may join it.</summary>
    Wait,

    /// <summary>The turn ends here: no more speech joins it; it completes once its transcripts are final.</summary>
    End,
}

/// <summary>
/// The user's open turn as an end-of-turn policy sees it. Times are audio time (samples heard since the pipeline
/// started), not wall-clock time, so the decisions follow the audio even when it arrives late or in bursts.
/// </summary>
/// <param name="MessageId">The turn's transcript id.</param>
/// <param name="AudioTime">Audio heard so far.</param>
/// <param name="LastSpeechEnd">Where the last utterance's speech ended (the first silent window).</param>
/// <param name="Phase">The VAD's phase now (<see cref="VadPhase.Starting"/>: speech-like audio not yet confirmed).</param>
/// <param name="Utterances">Utterances in the turn so far.</param>
/// <param name="PendingFinals">Utterances whose final transcript has not arrived.</param>
/// <param name="Text">The final transcript so far (the joined finals; empty until one arrives).</param>
public readonly record struct TurnSnapshot(
    string MessageId,
    TimeSpan AudioTime,
    TimeSpan LastSpeechEnd,
    VadPhase Phase,
    int Utterances,
    int PendingFinals,
    string Text)
{
    /// <summary>Silence since the last utterance ended.</summary>
    public TimeSpan Silence => AudioTime - LastSpeechEnd;

    /// <summary>Where the turn's audio begins: its first utterance's speech start less the pre-roll (audio time).</summary>
    public TimeSpan TurnStart { get; init; }
}

/// <summary>A read-only view of the conversation, for policies that judge the user's turn in context.</summary>
public interface IConversationView
{
    /// <summary>The messages so far, oldest first; a snapshot that later changes do not alter.</summary>
    IReadOnlyList<ContextMessage> Snapshot();
}

/// <summary>A conversation with no messages (the default when the pipeline is given none).</summary>
public sealed class EmptyConversation : IConversationView
{
    public static EmptyConversation Instance { get; } = new();

    public IReadOnlyList<ContextMessage> Snapshot() => [];
}

/// <summary>
/// Decides when the user's turn ends. The input pipeline asks at three moments: when an utterance's speech ends
/// (<see cref="OnSpeechEnded"/>), after each piece of audio while the turn is open and the user is silent
/// (<see cref="OnAudioAdvanced"/>), and when a final transcript arrives for an open turn
/// (<see cref="OnFinalTranscriptAsync"/>, which may take time: a model reading the conversation). The first two run
/// under the pipeline's lock on the audio path: they must answer at once and allocate nothing. A decision from
/// <see cref="OnFinalTranscriptAsync"/> is dropped if the user spoke again meanwhile. One policy serves one pipeline.
/// </summary>
public interface IEndOfTurnPolicy
{
    EndOfTurn OnSpeechEnded(in TurnSnapshot turn);

    EndOfTurn OnAudioAdvanced(in TurnSnapshot turn);

    ValueTask<EndOfTurn> OnFinalTranscriptAsync(TurnSnapshot turn, IConversationView conversation, CancellationToken cancellationToken);
}

/// <summary>The turn ends when the VAD ends speech (after its silence duration): each utterance is a turn.</summary>
public sealed class SilenceEndOfTurn : IEndOfTurnPolicy
{
    public static SilenceEndOfTurn Instance { get; } = new();

    public EndOfTurn OnSpeechEnded(in TurnSnapshot turn) => EndOfTurn.End;

    public EndOfTurn OnAudioAdvanced(in TurnSnapshot turn) => EndOfTurn.End;

    public ValueTask<EndOfTurn> OnFinalTranscriptAsync(TurnSnapshot turn, IConversationView conversation, CancellationToken cancellationToken) =>
        ValueTask.FromResult(EndOfTurn.End);
}

/// <summary>
/// Utterances separated by less than <see cref="PauseInterval"/> of silence are one turn (the contract's ASR
/// <c>PauseInterval</c>, when longer than the VAD's silence): the turn ends once the silence after the last utterance
/// reaches the interval and the VAD is quiet (not in the middle of speech-like audio it has not confirmed yet).
/// </summary>
public sealed class PauseIntervalStitching : IEndOfTurnPolicy
{
    public PauseIntervalStitching(TimeSpan pauseInterval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(pauseInterval, TimeSpan.Zero);
        PauseInterval = pauseInterval;
    }

    public TimeSpan PauseInterval { get; }

    public EndOfTurn OnSpeechEnded(in TurnSnapshot turn) => EndOfTurn.Wait;

    public EndOfTurn OnAudioAdvanced(in TurnSnapshot turn) =>
        turn.Phase == VadPhase.Quiet && turn.Silence >= PauseInterval ? EndOfTurn.End : EndOfTurn.Wait;

    public ValueTask<EndOfTurn> OnFinalTranscriptAsync(TurnSnapshot turn, IConversationView conversation, CancellationToken cancellationToken) =>
        ValueTask.FromResult(EndOfTurn.Wait);
}
