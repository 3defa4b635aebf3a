using Parley.Core.Sessions;

namespace Parley.Core.Observability;

/// <summary>
/// Something that watches a session's events from outside the stages (the event lane calls it for every event, in
/// order, from one consumer). It must not block: it runs on the lane that feeds room messages and callbacks.
/// </summary>
public interface ISessionEventObserver
{
    void OnEvent(SessionEvent sessionEvent);
}

/// <summary>Receives each measured turn from a <see cref="TurnLatencyObserver"/> (a log line, another metrics system).</summary>
public interface ITurnLatencySink
{
    void OnTurn(TurnLatency turn);
}

/// <summary>
/// The stages of one reply, computed from the timestamps a <see cref="TurnLatencyEvent"/> carries. A stage is null when
/// the reply never got there (interrupted, failed, a proactive reply has no user marks) or its marks are out of order.
/// </summary>
public sealed record TurnLatency(
    string InstanceId,
    long RoundId,
    ReplyOutcome Outcome,
    bool IsUserTurn,
    TimeSpan? TranscriptionDelay,
    TimeSpan? EndOfUtteranceDelay,
    TimeSpan? LlmTtft,
    TimeSpan? TtsTtfb,
    TimeSpan? PlayoutDelay,
    TimeSpan? E2eLatency)
{
    public static TurnLatency From(string instanceId, TurnLatencyEvent turn)
    {
        ArgumentNullException.ThrowIfNull(turn);
        return new TurnLatency(
            instanceId,
            turn.RoundId,
            turn.Outcome,
            turn.IsUserTurn,
            Between(turn.UserSpeechEndedAt, turn.FinalTranscriptAt),
            Between(turn.UserSpeechEndedAt, turn.ReplyStartedAt),
            Between(turn.ReplyStartedAt, turn.LlmFirstTokenAt),
            Between(TtsRequestedAt(turn), turn.TtsFirstAudioAt),
            Between(turn.TtsFirstAudioAt, turn.FirstAudioOutAt),
            Between(turn.UserSpeechEndedAt ?? turn.ReplyStartedAt, turn.FirstAudioOutAt));
    }

    /// <summary>
    /// Where the TTS stage is counted from: the LLM's first token (the first sentence is cut from the stream that
    /// starts there), or the reply's start for a spoken text. The event has no "first sentence handed to the TTS" mark,
    /// so for LLM replies the wait for the first complete sentence is part of this stage.
    /// </summary>
    internal static DateTimeOffset TtsRequestedAt(TurnLatencyEvent turn) => turn.LlmFirstTokenAt ?? turn.ReplyStartedAt;

    internal static TimeSpan? Between(DateTimeOffset? from, DateTimeOffset? to) =>
        from is { } start && to is { } end && end >= start ? end - start : null;
}
