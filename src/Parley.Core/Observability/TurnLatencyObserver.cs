using System.Diagnostics;
using Parley.Core.Sessions;

namespace Parley.Core.Observability;

/// <summary>
/// Measures each turn of one session from its events, outside the stages: on every <see cref="TurnLatencyEvent"/> it
/// records the turn's histograms on <see cref="ParleyTelemetry.Meter"/>, a <c>turn</c> span with one child span per
/// stage on <see cref="ParleyTelemetry.ActivitySource"/> (start and end taken from the event's timestamps, not from when
/// the observer runs), and hands the <see cref="TurnLatency"/> to its sinks. The interruption or error of a round
/// (sent before its latency event) is noted on the span. One instance per session, fed by one consumer.
/// </summary>
public sealed class TurnLatencyObserver : ISessionEventObserver
{
    // Rounds with an interruption or error whose latency event has not come yet (a speech error may never get one).
    private const int MaxNotes = 16;

    private readonly string _instanceId;
    private readonly ParleyTelemetry _telemetry;
    private readonly ITurnLatencySink[] _sinks;
    private readonly KeyValuePair<string, object?>[] _userTag = [new(TelemetryNames.Kind, "user")];
    private readonly KeyValuePair<string, object?>[] _proactiveTag = [new(TelemetryNames.Kind, "proactive")];
    private readonly Dictionary<long, RoundNote> _notes = [];
    private readonly Lock _gate = new();
    private TimeSpan _ttsSum;
    private int _ttsCount;

    public TurnLatencyObserver(string instanceId, ParleyTelemetry telemetry, params ITurnLatencySink[] sinks)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        ArgumentNullException.ThrowIfNull(telemetry);
        _instanceId = instanceId;
        _telemetry = telemetry;
        _sinks = sinks ?? [];
    }

    /// <summary>Mean TTS first-audio delay (<see cref="TurnLatency.TtsTtfb"/>) over the turns measured so far; null before any.</summary>
    public TimeSpan? AverageTtsFirstAudio
    {
        get
        {
            lock (_gate)
            {
                return _ttsCount == 0 ? null : _ttsSum / _ttsCount;
            }
        }
    }

    public void OnEvent(SessionEvent sessionEvent)
    {
        switch (sessionEvent)
        {
            case InterruptedEvent interrupted:
                Note(interrupted.RoundId, new RoundNote(interrupted.Reason, null));
                break;
            case SessionErrorEvent error:
                Note(error.RoundId, new RoundNote(null, error));
                break;
            case TurnLatencyEvent turn:
                Measure(turn);
                break;
        }
    }

    private void Note(long round, RoundNote note)
    {
        _notes[round] = _notes.TryGetValue(round, out var earlier) ? new RoundNote(note.Interrupt ?? earlier.Interrupt, note.Error ?? earlier.Error) : note;
        if (_notes.Count > MaxNotes)
        {
            _notes.Remove(_notes.Keys.Min());
        }
    }

    private void Measure(TurnLatencyEvent turn)
    {
        var latency = TurnLatency.From(_instanceId, turn);
        _notes.Remove(turn.RoundId, out var note);
        var kind = turn.IsUserTurn ? _userTag : _proactiveTag;
        Record(_telemetry.TranscriptionDelay, latency.TranscriptionDelay, kind);
        Record(_telemetry.EndOfUtteranceDelay, latency.EndOfUtteranceDelay, kind);
        Record(_telemetry.LlmTtft, latency.LlmTtft, kind);
        Record(_telemetry.TtsTtfb, latency.TtsTtfb, kind);
        Record(_telemetry.PlayoutDelay, latency.PlayoutDelay, kind);
        Record(_telemetry.E2eLatency, latency.E2eLatency, kind);
        _telemetry.Turns.Add(1, kind[0], new KeyValuePair<string, object?>(TelemetryNames.Outcome, OutcomeName(turn.Outcome)));
        if (latency.TtsTtfb is { } tts)
        {
            lock (_gate)
            {
                _ttsSum += tts;
                _ttsCount++;
            }
        }

        foreach (var sink in _sinks)
        {
            sink.OnTurn(latency);
        }

        // Spans last: whoever sees the turn span end can rely on the metrics and sinks having the turn.
        Trace(turn, note);
    }

    private static void Record(System.Diagnostics.Metrics.Histogram<double> histogram, TimeSpan? value, KeyValuePair<string, object?>[] tags)
    {
        if (value is { } span)
        {
            histogram.Record(span.TotalSeconds, tags);
        }
    }

    private void Trace(TurnLatencyEvent turn, RoundNote? note)
    {
        var source = _telemetry.ActivitySource;
        if (!source.HasListeners())
        {
            return;
        }

        var start = turn.UserSpeechEndedAt ?? turn.ReplyStartedAt;
        var end = Latest(start, turn.FinalTranscriptAt, turn.ReplyStartedAt, turn.LlmFirstTokenAt, turn.TtsFirstAudioAt, turn.FirstAudioOutAt);

        // The turn is a root span: not a child of whatever activity the consumer happens to run under.
        var previous = Activity.Current;
        Activity.Current = null;
        try
        {
            KeyValuePair<string, object?>[] tags =
            [
                new(TelemetryNames.InstanceId, _instanceId),
                new(TelemetryNames.Round, turn.RoundId),
                new(TelemetryNames.Kind, turn.IsUserTurn ? "user" : "proactive"),
                new(TelemetryNames.Outcome, OutcomeName(turn.Outcome)),
            ];
            using var root = source.StartActivity(TelemetryNames.TurnSpan, ActivityKind.Internal, default(ActivityContext), tags, links: null, start);
            if (root is null)
            {
                return;
            }

            Stage(root, TelemetryNames.AsrFinalSpan, turn.UserSpeechEndedAt, turn.FinalTranscriptAt);
            Stage(root, TelemetryNames.LlmFirstTokenSpan, turn.ReplyStartedAt, turn.LlmFirstTokenAt);
            Stage(root, TelemetryNames.TtsFirstAudioSpan, TurnLatency.TtsRequestedAt(turn), turn.TtsFirstAudioAt);
            Stage(root, TelemetryNames.FirstFrameOutSpan, turn.TtsFirstAudioAt, turn.FirstAudioOutAt);
            if (note?.Interrupt is { } reason)
            {
                root.SetTag(TelemetryNames.InterruptReason, reason.ToString());
            }

            if (turn.Outcome == ReplyOutcome.Failed)
            {
                root.SetStatus(ActivityStatusCode.Error, note?.Error?.Message);
                root.SetTag(TelemetryNames.ErrorType, note?.Error is { } error ? $"{error.Source}.{error.Kind}" : "failed");
            }

            root.SetEndTime(end.UtcDateTime);
        }
        finally
        {
            Activity.Current = previous;
        }
    }

    private void Stage(Activity root, string name, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (TurnLatency.Between(from, to) is null)
        {
            return;
        }

        using var stage = _telemetry.ActivitySource.StartActivity(name, ActivityKind.Internal, root.Context, tags: null, links: null, from!.Value);
        stage?.SetEndTime(to!.Value.UtcDateTime);
    }

    private static DateTimeOffset Latest(DateTimeOffset start, params ReadOnlySpan<DateTimeOffset?> marks)
    {
        var latest = start;
        foreach (var mark in marks)
        {
            if (mark is { } at && at > latest)
            {
                latest = at;
            }
        }

        return latest;
    }

    private static string OutcomeName(ReplyOutcome outcome) => outcome switch
    {
        ReplyOutcome.Finished => "finished",
        ReplyOutcome.Interrupted => "interrupted",
        _ => "failed",
    };

    private readonly record struct RoundNote(InterruptReason? Interrupt, SessionErrorEvent? Error);
}
