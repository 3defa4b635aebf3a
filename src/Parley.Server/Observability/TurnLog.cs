using Parley.Core.Observability;
using Prometheus;

namespace Parley.Server.Observability;

/// <summary>
/// A turn sink: one log line per turn and the Prometheus histograms at <c>/metrics</c> (<c>parley_turn_stage_seconds</c>
/// by stage, <c>parley_turns_total</c> by outcome and kind; the load generator reads them). It is fed by each
/// instance's <see cref="TurnLatencyObserver"/>, never by the session.
/// </summary>
internal sealed partial class TurnLog(ILogger<TurnLog> logger) : ITurnLatencySink
{
    private static readonly Histogram Stage = Metrics.CreateHistogram(
        "parley_turn_stage_seconds",
        "Latency of each stage of a conversation turn.",
        new HistogramConfiguration
        {
            LabelNames = ["stage"],
            Buckets = Histogram.ExponentialBuckets(0.005, 1.6, 16),
        });

    private static readonly Counter Turns = Metrics.CreateCounter("parley_turns_total", "Conversation turns by outcome.", "outcome", "kind");

    public void OnTurn(TurnLatency turn)
    {
        ArgumentNullException.ThrowIfNull(turn);
        Turns.WithLabels(turn.Outcome.ToString(), turn.IsUserTurn ? "user" : "proactive").Inc();
        Observe("asr_final", turn.TranscriptionDelay);
        Observe("end_of_utterance", turn.EndOfUtteranceDelay);
        Observe("llm_first_token", turn.LlmTtft);
        Observe("tts_first_audio", turn.TtsTtfb);
        Observe("first_frame_out", turn.PlayoutDelay);
        Observe("voice_to_voice", turn.E2eLatency);
        LogTurn(logger, turn.InstanceId, turn.RoundId, turn.Outcome, turn.IsUserTurn,
            Ms(turn.TranscriptionDelay), Ms(turn.LlmTtft), Ms(turn.TtsTtfb), Ms(turn.PlayoutDelay), Ms(turn.E2eLatency));
    }

    private static void Observe(string stage, TimeSpan? value)
    {
        if (value is { } span)
        {
            Stage.WithLabels(stage).Observe(span.TotalSeconds);
        }
    }

    private static long Ms(TimeSpan? span) => span is { } value ? (long)value.TotalMilliseconds : -1;

    [LoggerMessage(Level = LogLevel.Information, Message = "Turn {Round} of instance {InstanceId}: {Outcome} (user turn {IsUserTurn}); final transcript {AsrMs} ms after end of speech, LLM first token {LlmMs} ms, TTS first audio {TtsMs} ms, first frame out {PlayoutMs} ms later, voice-to-voice {TotalMs} ms")]
    private static partial void LogTurn(ILogger logger, string instanceId, long round, Parley.Core.Sessions.ReplyOutcome outcome, bool isUserTurn, long asrMs, long llmMs, long ttsMs, long playoutMs, long totalMs);
}
