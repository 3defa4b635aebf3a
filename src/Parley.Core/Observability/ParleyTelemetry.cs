using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Parley.Core.Observability;

/// <summary>
/// Parley's one <see cref="System.Diagnostics.ActivitySource"/> and one <see cref="System.Diagnostics.Metrics.Meter"/>,
/// both named <see cref="Name"/>, and the instruments of a turn. A host makes one (a singleton over its
/// <see cref="IMeterFactory"/>); tests make their own, so a listener can tell theirs apart.
/// </summary>
public sealed class ParleyTelemetry : IDisposable
{
    /// <summary>Name of the activity source and of the meter.</summary>
    public const string Name = "Parley.Agents";

    /// <summary>Bucket boundaries (seconds) for turn latencies: 5 ms to 10 s.</summary>
    public static readonly IReadOnlyList<double> LatencyBuckets =
        [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10];

    private static readonly string? Version = typeof(ParleyTelemetry).Assembly.GetName().Version?.ToString();

    private readonly bool _ownsMeter;

    public ParleyTelemetry(IMeterFactory? meterFactory = null)
    {
        ActivitySource = new ActivitySource(Name, Version);
        if (meterFactory is null)
        {
            Meter = new Meter(Name, Version);
            _ownsMeter = true;
        }
        else
        {
            Meter = meterFactory.Create(new MeterOptions(Name) { Version = Version });
        }

        TranscriptionDelay = Latency(TelemetryNames.TranscriptionDelay, "End of the user's speech to the final transcript.");
        EndOfUtteranceDelay = Latency(TelemetryNames.EndOfUtteranceDelay, "End of the user's speech to the start of the reply (the end-of-turn decision).");
        LlmTtft = Latency(TelemetryNames.LlmTtft, "Start of the reply to the LLM's first token.");
        TtsTtfb = Latency(TelemetryNames.TtsTtfb, "LLM first token (or reply start for a spoken text) to the TTS's first audio.");
        PlayoutDelay = Latency(TelemetryNames.PlayoutDelay, "TTS first audio to the first audio frame sent to the room.");
        E2eLatency = Latency(TelemetryNames.E2eLatency, "End of the user's speech (or reply start for a proactive reply) to the first audio frame out.");
        Turns = Meter.CreateCounter<long>(TelemetryNames.Turns, "{turn}", "Replies by outcome (finished, interrupted, failed) and kind (user, proactive).");
    }

    public ActivitySource ActivitySource { get; }

    public Meter Meter { get; }

    public Histogram<double> TranscriptionDelay { get; }

    public Histogram<double> EndOfUtteranceDelay { get; }

    public Histogram<double> LlmTtft { get; }

    public Histogram<double> TtsTtfb { get; }

    public Histogram<double> PlayoutDelay { get; }

    public Histogram<double> E2eLatency { get; }

    public Counter<long> Turns { get; }

    public void Dispose()
    {
        ActivitySource.Dispose();
        if (_ownsMeter)
        {
            Meter.Dispose();
        }
    }

    private Histogram<double> Latency(string name, string description) =>
        Meter.CreateHistogram(name, "s", description, tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
}

/// <summary>Names of Parley's spans, instruments and attributes (documented in docs/architecture.md, "Observability").</summary>
public static class TelemetryNames
{
    public const string TurnSpan = "turn";
    public const string AsrFinalSpan = "asr_final";
    public const string LlmFirstTokenSpan = "llm_first_token";
    public const string TtsFirstAudioSpan = "tts_first_audio";
    public const string FirstFrameOutSpan = "first_frame_out";

    public const string TranscriptionDelay = "parley.agents.turn.transcription_delay";
    public const string EndOfUtteranceDelay = "parley.agents.turn.end_of_utterance_delay";
    public const string LlmTtft = "parley.agents.turn.llm_ttft";
    public const string TtsTtfb = "parley.agents.turn.tts_ttfb";
    public const string PlayoutDelay = "parley.agents.turn.playout_delay";
    public const string E2eLatency = "parley.agents.turn.e2e_latency";
    public const string Turns = "parley.agents.turns";

    public const string InstanceId = "parley.instance.id";
    public const string Round = "parley.turn.round";
    public const string Kind = "parley.turn.kind";
    public const string Outcome = "parley.turn.outcome";
    public const string InterruptReason = "parley.turn.interrupt_reason";
    public const string ErrorType = "error.type";
}
