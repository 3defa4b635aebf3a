using Microsoft.Extensions.Time.Testing;
using Parley.Core.Observability;
using Parley.Core.Sessions;
using Parley.Core.Tests.Voice;
using Parley.Core.Turns;
using static Parley.Core.Tests.Voice.ScriptAudio;

namespace Parley.Core.Tests.Observability;

public sealed class TurnLatencyObserverTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly ParleyTelemetry _telemetry = new();
    private readonly TelemetryRecorder _recorder;
    private readonly Sink _sink = new();

    public TurnLatencyObserverTests() => _recorder = new TelemetryRecorder(_telemetry);

    public void Dispose()
    {
        _recorder.Dispose();
        _telemetry.Dispose();
    }

    [Fact]
    public void UserTurn_ProducesATurnSpanWithOneChildPerStage_AtTheEventsTimes()
    {
        var observer = new TurnLatencyObserver("inst_1", _telemetry, _sink);
        Feed(observer,
            new UserSpeakingChangedEvent(7, true),
            new UserSpeakingChangedEvent(7, false),
            new UserTranscriptEvent(7, "m1", "hello", true),
            new StatusChangedEvent(7, AgentStatus.Thinking),
            new ReplyTextDeltaEvent(7, "Hi."),
            new AgentSpeakingChangedEvent(7, true),
            new ReplyFinishedEvent(7, "Hi."),
            new AgentSpeakingChangedEvent(7, false),
            UserTurn(7, ReplyOutcome.Finished));

        var root = _recorder.Root(7);
        Assert.Equal(At(1000), root.StartTimeUtc);
        Assert.Equal(TimeSpan.FromMilliseconds(720), root.Duration);
        Assert.Equal(default, root.ParentSpanId);
        Assert.Equal("inst_1", root.GetTagItem(TelemetryNames.InstanceId));
        Assert.Equal("user", root.GetTagItem(TelemetryNames.Kind));
        Assert.Equal("finished", root.GetTagItem(TelemetryNames.Outcome));
        Assert.Equal(
            [
                (TelemetryNames.AsrFinalSpan, At(1000), At(1150)),
                (TelemetryNames.LlmFirstTokenSpan, At(1160), At(1400)),
                (TelemetryNames.TtsFirstAudioSpan, At(1400), At(1700)),
                (TelemetryNames.FirstFrameOutSpan, At(1700), At(1720)),
            ],
            _recorder.Children(root).Select(s => (s.OperationName, s.StartTimeUtc, s.StartTimeUtc + s.Duration)));
        Assert.All(_recorder.Children(root), s => Assert.Equal(root.TraceId, s.TraceId));
    }

    [Fact]
    public void UserTurn_RecordsEachStageInSeconds()
    {
        var observer = new TurnLatencyObserver("inst_1", _telemetry, _sink);
        Feed(observer, UserTurn(7, ReplyOutcome.Finished));

        AssertSeconds(0.150, TelemetryNames.TranscriptionDelay);
        AssertSeconds(0.160, TelemetryNames.EndOfUtteranceDelay);
        AssertSeconds(0.240, TelemetryNames.LlmTtft);
        AssertSeconds(0.300, TelemetryNames.TtsTtfb);
        AssertSeconds(0.020, TelemetryNames.PlayoutDelay);
        AssertSeconds(0.720, TelemetryNames.E2eLatency);
        var turns = Assert.Single(_recorder.Measurements, m => m.Instrument == TelemetryNames.Turns);
        Assert.Equal((1d, "user", "finished"), (turns.Value, turns.Tags[TelemetryNames.Kind], turns.Tags[TelemetryNames.Outcome]));
        Assert.All(_recorder.Measurements.Where(m => m.Instrument != TelemetryNames.Turns), m => Assert.Equal("user", m.Tags[TelemetryNames.Kind]));
        Assert.Equal(TimeSpan.FromMilliseconds(300), Assert.Single(_sink.Turns).TtsTtfb);
        Assert.Equal(TimeSpan.FromMilliseconds(300), observer.AverageTtsFirstAudio);
    }

    [Fact]
    public void InterruptedProactiveTurn_HasOnlyTheStagesItReached_AndTheReason()
    {
        var observer = new TurnLatencyObserver("inst_1", _telemetry, _sink);
        Feed(observer,
            new InterruptedEvent(9, InterruptReason.UserSpeech),
            new TurnLatencyEvent(9, ReplyOutcome.Interrupted, false, null, null, T0.AddMilliseconds(100), T0.AddMilliseconds(350), null, null));

        var root = _recorder.Root(9);
        Assert.Equal((At(100), TimeSpan.FromMilliseconds(250)), (root.StartTimeUtc, root.Duration));
        Assert.Equal(("proactive", "interrupted", nameof(InterruptReason.UserSpeech)),
            (root.GetTagItem(TelemetryNames.Kind), root.GetTagItem(TelemetryNames.Outcome), root.GetTagItem(TelemetryNames.InterruptReason)));
        Assert.Equal([TelemetryNames.LlmFirstTokenSpan], _recorder.Children(root).Select(s => s.OperationName));
        Assert.Equal([0.25], _recorder.Values(TelemetryNames.LlmTtft));
        Assert.Empty(_recorder.Values(TelemetryNames.E2eLatency));
        Assert.Empty(_recorder.Values(TelemetryNames.TranscriptionDelay));
        Assert.Null(observer.AverageTtsFirstAudio);
    }

    [Fact]
    public void FailedTurn_MarksTheSpanAsAnErrorWithTheSessionsMessage()
    {
        var observer = new TurnLatencyObserver("inst_1", _telemetry);
        Feed(observer,
            new SessionErrorEvent(11, SessionErrorSource.Llm, LlmErrorKind.RateLimited, "too many requests"),
            new TurnLatencyEvent(11, ReplyOutcome.Failed, false, null, null, T0, null, null, null));

        var root = _recorder.Root(11);
        Assert.Equal(System.Diagnostics.ActivityStatusCode.Error, root.Status);
        Assert.Equal("too many requests", root.StatusDescription);
        Assert.Equal("Llm.RateLimited", root.GetTagItem(TelemetryNames.ErrorType));
        Assert.Empty(_recorder.Children(root));
    }

    [Fact]
    public void TheTurnSpanEndsAfterTheMetricsAndSinksHaveTheTurn()
    {
        var spansWhenSunk = -1;
        var measurementsWhenSunk = -1;
        var observer = new TurnLatencyObserver("inst_1", _telemetry, new CallbackSink(_ =>
        {
            spansWhenSunk = _recorder.Spans.Count;
            measurementsWhenSunk = _recorder.Measurements.Count;
        }));
        Feed(observer, UserTurn(4, ReplyOutcome.Finished));

        Assert.Equal((0, 7), (spansWhenSunk, measurementsWhenSunk));
        Assert.Equal(5, _recorder.Spans.Count);
    }

    [Fact]
    public void OutOfOrderMarks_AreNotRecorded()
    {
        var observer = new TurnLatencyObserver("inst_1", _telemetry);
        Feed(observer, new TurnLatencyEvent(3, ReplyOutcome.Finished, false, null, null, T0.AddMilliseconds(500), T0.AddMilliseconds(400), null, null));

        Assert.Empty(_recorder.Values(TelemetryNames.LlmTtft));
        Assert.Empty(_recorder.Children(_recorder.Root(3)));
    }

    [Fact]
    public void TurnSpan_IsARootEvenWhenTheConsumerRunsInsideAnotherActivity()
    {
        using var outer = new System.Diagnostics.Activity("outer").Start();
        var observer = new TurnLatencyObserver("inst_1", _telemetry);
        Feed(observer, UserTurn(5, ReplyOutcome.Finished));

        Assert.Equal(default, _recorder.Root(5).ParentSpanId);
        Assert.Same(outer, System.Diagnostics.Activity.Current);
    }

    [Fact]
    public async Task RealSession_OnAFakeClock_ItsEventsGiveTheSpanTreeAndHistograms()
    {
        var time = new FakeTimeProvider(T0);
        var model = new ScriptedChatModel();
        var output = new ManualSpeechOutput { AutoFinish = true };
        model.Reply("Sunny", " all day.");
        await using var session = new AgentSession(
            new AgentSessionOptions
            {
                Identity = new SessionIdentity("inst_2", "room_1", "agent_1", "user_1"),
                Llm = new LlmSettings("http://unused", "k", "m", "Be terse.", 0.7, 0.9, null, false),
            },
            model,
            time,
            output);
        var log = new EventLog(session.Events);
        await using var detector = Pipeline(TurnOptions(500), new LevelVad(), new ScriptedRecognizer("what is the weather"), time);
        _ = session.ListenAsync(detector.Events, null, CancellationToken.None);
        await FeedAsync(detector, time, Concat(Silence(300), Speech(1000), Silence(700)));
        var latency = await log.NextAsync<TurnLatencyEvent>();

        var observer = new TurnLatencyObserver("inst_2", _telemetry);
        Feed(observer, [.. log.Seen]);

        var root = _recorder.Root(latency.RoundId);
        Assert.Equal(latency.UserSpeechEndedAt!.Value.UtcDateTime, root.StartTimeUtc);
        Assert.Equal(latency.TotalCost, root.Duration);
        Assert.Equal(
            [TelemetryNames.AsrFinalSpan, TelemetryNames.LlmFirstTokenSpan, TelemetryNames.TtsFirstAudioSpan, TelemetryNames.FirstFrameOutSpan],
            _recorder.Children(root).Select(s => s.OperationName));
        Assert.Equal([latency.TotalCost!.Value.TotalSeconds], _recorder.Values(TelemetryNames.E2eLatency));
        Assert.Equal([(latency.FinalTranscriptAt - latency.UserSpeechEndedAt)!.Value.TotalSeconds], _recorder.Values(TelemetryNames.TranscriptionDelay));
    }

    private static void Feed(TurnLatencyObserver observer, params SessionEvent[] events)
    {
        foreach (var e in events)
        {
            observer.OnEvent(e);
        }
    }

    private static DateTime At(int ms) => T0.AddMilliseconds(ms).UtcDateTime;

    private static TurnLatencyEvent UserTurn(long round, ReplyOutcome outcome) => new(
        round, outcome, true,
        UserSpeechEndedAt: T0.AddMilliseconds(1000),
        FinalTranscriptAt: T0.AddMilliseconds(1150),
        ReplyStartedAt: T0.AddMilliseconds(1160),
        LlmFirstTokenAt: T0.AddMilliseconds(1400),
        TtsFirstAudioAt: T0.AddMilliseconds(1700),
        FirstAudioOutAt: T0.AddMilliseconds(1720));

    private void AssertSeconds(double expected, string instrument) =>
        Assert.Equal(expected, Assert.Single(_recorder.Values(instrument)), 6);

    private sealed class CallbackSink(Action<TurnLatency> onTurn) : ITurnLatencySink
    {
        public void OnTurn(TurnLatency turn) => onTurn(turn);
    }

    private sealed class Sink : ITurnLatencySink
    {
        public List<TurnLatency> Turns { get; } = [];

        public void OnTurn(TurnLatency turn) => Turns.Add(turn);
    }
}
