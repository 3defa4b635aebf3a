using Parley.Core.Sessions;
using Prometheus;

namespace Parley.Server.Instances;

/// <summary>Per-turn latency (Prometheus, at <c>/metrics</c>): each stage of a turn, measured by the session.</summary>
internal static class TurnMetrics
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

    public static void Record(TurnLatencyEvent turn)
    {
        Turns.WithLabels(turn.Outcome.ToString(), turn.IsUserTurn ? "user" : "proactive").Inc();
        Observe("asr_final", turn.FinalTranscriptAt - turn.UserSpeechEndedAt);
        Observe("llm_first_token", turn.LlmFirstTokenAt - turn.ReplyStartedAt);
        Observe("tts_first_audio", turn.TtsFirstAudioAt - (turn.LlmFirstTokenAt ?? turn.ReplyStartedAt));
        Observe("first_frame_out", turn.FirstAudioOutAt - turn.TtsFirstAudioAt);
        Observe("voice_to_voice", turn.TotalCost);
    }

    private static void Observe(string stage, TimeSpan? value)
    {
        if (value is { } span && span >= TimeSpan.Zero)
        {
            Stage.WithLabels(stage).Observe(span.TotalSeconds);
        }
    }
}
