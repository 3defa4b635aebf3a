using Microsoft.Extensions.Time.Testing;
using Parley.Core.Sessions;
using Parley.Core.Turns;
using static Parley.Core.Tests.Voice.ScriptAudio;

namespace Parley.Core.Tests.Voice;

public sealed class VoiceLoopTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);
    private readonly ScriptedChatModel _model = new();
    private readonly ManualSpeechOutput _output = new();

    private AgentSession NewSession(int interruptMode = 0, TimeSpan? speechStall = null, TimeSpan? llmStall = null) => new(
        new AgentSessionOptions
        {
            Identity = new SessionIdentity("1", "room_1", "agent_1", "user_1"),
            Llm = new LlmSettings("http://unused", "k", "m", "Be terse.", 0.7, 0.9, null, false),
            Interruption = interruptMode == 1 ? InterruptionPolicy.NoBargeIn : InterruptionPolicy.Default,
            SpeechStallTimeout = speechStall ?? TimeSpan.FromSeconds(20),
            LlmStallTimeout = llmStall ?? TimeSpan.FromSeconds(15),
        },
        _model,
        _time,
        _output);

    [Fact]
    public async Task FullTurn_SpeechSilenceTranscriptLlmSpeech_InOrderWithLatencyMarks()
    {
        _output.AutoFinish = true;
        _model.Reply("Sunny", " all day.");
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        await using var detector = Pipeline(TurnOptions(500), new LevelVad(), new ScriptedRecognizer("what is the weather"), _time);
        var listening = session.ListenAsync(detector.Events, null, CancellationToken.None);

        await FeedAsync(detector, _time, Concat(Silence(300), Speech(1000), Silence(700)));
        var finished = await log.NextAsync<ReplyFinishedEvent>();
        var latency = await log.NextAsync<TurnLatencyEvent>();
        await log.NextAsync<StatusChangedEvent>(s => s.Status == AgentStatus.Idle);

        Assert.Equal("Sunny all day.", finished.Text);
        var seen = log.Seen;
        int Index(Func<SessionEvent, bool> p) => seen.FindIndex(e => p(e));
        var order = new[]
        {
            Index(e => e is UserSpeakingChangedEvent { Speaking: true }),
            Index(e => e is StatusChangedEvent { Status: AgentStatus.Listening }),
            Index(e => e is UserSpeakingChangedEvent { Speaking: false }),
            Index(e => e is UserTranscriptEvent { IsFinal: true, Text: "what is the weather" }),
            Index(e => e is StatusChangedEvent { Status: AgentStatus.Thinking }),
            Index(e => e is AgentSpeakingChangedEvent { Speaking: true }),
            Index(e => e is ReplyFinishedEvent),
            Index(e => e is AgentSpeakingChangedEvent { Speaking: false }),
        };
        Assert.DoesNotContain(-1, order);
        Assert.Equal(order.Order(), order);
        Assert.Single(seen.OfType<UserSpeakingChangedEvent>().Select(e => e.RoundId).Append(finished.RoundId).Distinct());
        Assert.True(latency.IsUserTurn);
        Assert.Equal(ReplyOutcome.Finished, latency.Outcome);
        Assert.NotNull(latency.UserSpeechEndedAt);
        Assert.NotNull(latency.FinalTranscriptAt);
        Assert.NotNull(latency.LlmFirstTokenAt);
        Assert.NotNull(latency.TtsFirstAudioAt);
        Assert.NotNull(latency.FirstAudioOutAt);
        Assert.True(latency.TotalCost >= TimeSpan.Zero);
        Assert.Equal(
            [new ContextMessage(MessageRole.User, "what is the weather"), new ContextMessage(MessageRole.Assistant, "Sunny all day.")],
            session.GetMessages());
    }

    [Fact]
    public async Task NoiseTooShort_DuringSpeaking_DoesNotInterrupt()
    {
        _model.Reply("A long answer.");
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        await using var detector = Pipeline(new(), new LevelVad(), new ScriptedRecognizer("cough"), _time);
        session.SubmitUserTurn("Tell me");
        await log.NextAsync<AgentSpeakingChangedEvent>(e => e.Speaking);

        // The pipeline's VAD events are written before PushAsync returns, and the session applies each synchronously:
        // after this, everything the noise could cause has happened (no real-time window needed).
        await FeedAsync(detector, _time, Concat(Speech(80), Silence(800)));
        while (detector.Events.TryRead(out var heard))
        {
            UserTurnListening.Apply(session, heard);
        }

        log.TakeWritten();
        Assert.DoesNotContain(log.Seen, e => e is InterruptedEvent or UserSpeakingChangedEvent);
        Assert.Equal(AgentStatus.Speaking, session.Status);
        _output.Finish(0);
        await log.NextAsync<ReplyFinishedEvent>();
    }

    [Fact]
    public async Task SpeechDuringThinking_CancelsTheReplyWithReasonUserSpeech()
    {
        var gate = new TaskCompletionSource();
        _model.HeldReply(gate, "never");
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        var round = session.SubmitUserTurn("Hi");
        await log.NextAsync<StatusChangedEvent>(s => s.Status == AgentStatus.Thinking);

        var userRound = session.UserSpeechStarted();

        var interrupted = await log.NextAsync<InterruptedEvent>();
        Assert.Equal((round, InterruptReason.UserSpeech), (interrupted.RoundId, interrupted.Reason));
        Assert.True(userRound > round);
        Assert.Equal(AgentStatus.Listening, session.Status);
        await EventLog.UntilAsync(() => _model.Cancelled == 1);
        Assert.Equal([new ContextMessage(MessageRole.User, "Hi")], session.GetMessages());
        var latency = await log.NextAsync<TurnLatencyEvent>();
        Assert.Equal(ReplyOutcome.Interrupted, latency.Outcome);
    }

    [Fact]
    public async Task SpeechDuringSpeaking_CancelsAudio_ContextKeepsOnlyWhatWasPlayed()
    {
        _model.Reply("The first sentence is done. ", "The second one gets cut somewhere. ", "The third never starts.");
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        session.SubmitUserTurn("Talk");
        await EventLog.UntilAsync(() => _output.Segments.Count == 1);
        _output.Finish(0);
        await EventLog.UntilAsync(() => _output.Segments.Count == 2);
        Assert.Equal("The second one gets cut somewhere.", _output.Segments[1].Text);
        _output.Play(1, 0.5); // 17 of 34 characters: "The second one ge" → whole words only

        session.UserSpeechStarted();

        var interrupted = await log.NextAsync<InterruptedEvent>();
        Assert.Equal(InterruptReason.UserSpeech, interrupted.Reason);
        Assert.Equal("The first sentence is done. The second one", interrupted.PlayedText);
        await log.NextAsync<AgentSpeakingChangedEvent>(e => !e.Speaking);
        await EventLog.UntilAsync(() => _output.Cancelled == 1);
        Assert.Equal(
            [new ContextMessage(MessageRole.User, "Talk"), new ContextMessage(MessageRole.Assistant, "The first sentence is done. The second one")],
            session.GetMessages());
        Assert.Equal(2, _output.Segments.Count);
    }

    [Theory]
    [InlineData("Hello there world", 0.0, "")]
    [InlineData("Hello there world", 0.3, "Hello")]
    [InlineData("Hello there world", 0.36, "Hello")]
    [InlineData("Hello there world", 0.99, "Hello there")]
    [InlineData("Hello there world", 1.0, "Hello there world")]
    [InlineData("你好世界", 0.5, "你好")]
    public void PlayedPart_CutsAtWordBoundaries(string text, double fraction, string expected) =>
        Assert.Equal(expected, Parley.Core.Replies.ConversationContext.PlayedPart(text, fraction));

    [Fact]
    public async Task InterruptMode1_UserSpeechDuringReplyIsIgnored_ThenListensAgain()
    {
        _model.Reply("Let me finish.");
        await using var session = NewSession(interruptMode: 1);
        var log = new EventLog(session.Events);
        var round = session.SubmitUserTurn("Go");
        await EventLog.UntilAsync(() => _output.Segments.Count == 1);

        Assert.Null(session.UserSpeechStarted());
        session.UserSpeechEnded();
        session.UpdateUserTranscript("m1", "stop", true);
        Assert.Null(session.SubmitUserTurn("stop"));
        _output.Finish(0);

        Assert.Equal(round, (await log.NextAsync<ReplyFinishedEvent>()).RoundId);
        await log.NextAsync<StatusChangedEvent>(s => s.Status == AgentStatus.Idle);
        Assert.DoesNotContain(log.Seen, e => e is InterruptedEvent or UserSpeakingChangedEvent or UserTranscriptEvent);
        Assert.Single(_model.Requests);

        // After the reply, speech is heard again.
        _output.AutoFinish = true;
        Assert.NotNull(session.UserSpeechStarted());
        session.SubmitUserTurn("again");
        await log.NextAsync<ReplyFinishedEvent>();
        Assert.Equal(2, _model.Requests.Count);
    }

    [Fact]
    public async Task NonInterruptibleTts_IsNotCutByTheUser()
    {
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        var round = session.SubmitSpeech(new SpeechRequest("Please listen to this.", InterruptibleByUser: false));
        await EventLog.UntilAsync(() => _output.Segments.Count == 1);

        Assert.Null(session.UserSpeechStarted());
        _output.Finish(0);

        Assert.Equal(round, (await log.NextAsync<ReplyFinishedEvent>()).RoundId);
        Assert.DoesNotContain(log.Seen, e => e is InterruptedEvent);
    }

    [Fact]
    public async Task TtsTriggerWhileSpeaking_LowerPriorityWaits_HigherInterruptsWithReason3()
    {
        _model.Reply("A reply being spoken.");
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        var user = session.SubmitUserTurn("Talk");
        await EventLog.UntilAsync(() => _output.Segments.Count == 1);

        var low = session.SubmitSpeech(new SpeechRequest("Low news.", Priority: ReplyPriority.Low));
        await log.DrainAsync(100);
        Assert.DoesNotContain(log.Seen, e => e is InterruptedEvent);

        // Higher priority pre-empts; with Enqueue (not ClearAndInterrupt) the queued low one survives.
        var high = session.SubmitSpeech(new SpeechRequest("Urgent!", Priority: ReplyPriority.High, SamePriorityOption: SamePriorityOption.Enqueue));
        var interrupted = await log.NextAsync<InterruptedEvent>();
        Assert.Equal((user, InterruptReason.ProactiveSpeech), (interrupted.RoundId, interrupted.Reason));
        await EventLog.UntilAsync(() => _output.Segments.Count == 2);
        Assert.Equal(("Urgent!", high), (_output.Segments[1].Text, _output.Segments[1].RoundId));
        _output.Finish(1);
        await EventLog.UntilAsync(() => _output.Segments.Count == 3);
        Assert.Equal(("Low news.", low), (_output.Segments[2].Text, _output.Segments[2].RoundId));
        _output.Finish(2);
        await log.NextAsync<ReplyFinishedEvent>(f => f.RoundId == low);
    }

    [Fact]
    public async Task Stitching_Unset_SecondUtteranceInterruptsTheFirstReply_AndItsContextHoldsRoundOne()
    {
        var gate = new TaskCompletionSource();
        _model.HeldReply(gate, "late");
        _model.Reply("Answer to both.");
        _output.AutoFinish = true;
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        await using var detector = Pipeline(TurnOptions(200), new LevelVad(), new ScriptedRecognizer("the weather is great", "and you"), _time);
        var listening = session.ListenAsync(detector.Events, null, CancellationToken.None);

        await FeedAsync(detector, _time, Concat(Speech(800), Silence(300)));
        await log.NextAsync<StatusChangedEvent>(s => s.Status == AgentStatus.Thinking);
        await FeedAsync(detector, _time, Concat(Speech(600), Silence(400)));

        var interrupted = await log.NextAsync<InterruptedEvent>();
        Assert.Equal(InterruptReason.UserSpeech, interrupted.Reason);
        var finished = await log.NextAsync<ReplyFinishedEvent>();
        Assert.NotEqual(interrupted.RoundId, finished.RoundId);
        var second = _model.Requests.ToArray()[1];
        Assert.Equal("and you", second.UserText);
        Assert.Contains(new ContextMessage(MessageRole.User, "the weather is great"), second.History);
    }

    [Fact]
    public async Task Stitching_PauseInterval1000_OneRoundWithBothUtterances()
    {
        _output.AutoFinish = true;
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        await using var detector = Pipeline(TurnOptions(200, 1000), new LevelVad(), new ScriptedRecognizer("the weather is great", "and you"), _time);
        var listening = session.ListenAsync(detector.Events, null, CancellationToken.None);

        await FeedAsync(detector, _time, Concat(Speech(800), Silence(300), Speech(600), Silence(1200)));
        var finished = await log.NextAsync<ReplyFinishedEvent>();

        var request = Assert.Single(_model.Requests);
        Assert.Equal("the weather is great and you", request.UserText);
        Assert.DoesNotContain(log.Seen, e => e is InterruptedEvent);
        Assert.Single(log.Seen.OfType<UserTranscriptEvent>(), t => t.IsFinal);
        Assert.All(log.Seen.OfType<UserSpeakingChangedEvent>(), e => Assert.Equal(finished.RoundId, e.RoundId));
        Assert.Equal(4, log.Seen.OfType<UserSpeakingChangedEvent>().Count());
    }

    [Fact]
    public async Task LlmError_ReportsAndReturnsToIdle_NextTurnWorks()
    {
        _model.FailAfter("Half");
        _output.AutoFinish = true;
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        session.UserSpeechStarted();
        session.SubmitUserTurn("x");

        var error = await log.NextAsync<SessionErrorEvent>();
        Assert.Equal(SessionErrorSource.Llm, error.Source);
        Assert.Equal(ReplyOutcome.Failed, (await log.NextAsync<TurnLatencyEvent>()).Outcome);
        await EventLog.UntilAsync(() => session.Status == AgentStatus.Idle);

        session.UserSpeechStarted();
        session.SubmitUserTurn("y");
        Assert.Equal("OK.", (await log.NextAsync<ReplyFinishedEvent>()).Text);
    }

    [Fact]
    public async Task LlmStall_TimesOutToIdle_NextTurnWorks()
    {
        _model.StallAfter("Wait");
        _output.AutoFinish = true;
        await using var session = NewSession(llmStall: TimeSpan.FromSeconds(5));
        var log = new EventLog(session.Events);
        session.SubmitUserTurn("x");
        await log.NextAsync<ReplyTextDeltaEvent>();

        // The delta is published before the stage asks for the next one and arms the watchdog: advancing the clock
        // in between would leave the watchdog armed on a clock that no longer moves.
        await _model.Stalled.Task.WaitAsync(TimeSpan.FromSeconds(10));
        _time.Advance(TimeSpan.FromSeconds(6));

        Assert.Equal(SessionErrorSource.Llm, (await log.NextAsync<SessionErrorEvent>()).Source);
        await EventLog.UntilAsync(() => session.Status == AgentStatus.Idle);
        session.SubmitUserTurn("y");
        Assert.Equal("OK.", (await log.NextAsync<ReplyFinishedEvent>()).Text);
    }

    [Fact]
    public async Task SpeechOutputHang_TimesOutToIdle_NextTurnWorks()
    {
        _output.Hang = true;
        await using var session = NewSession(speechStall: TimeSpan.FromSeconds(3));
        var log = new EventLog(session.Events);
        session.SubmitUserTurn("x");
        await log.NextAsync<AgentSpeakingChangedEvent>(e => e.Speaking);
        Assert.Equal(AgentStatus.Speaking, session.Status);
        _time.Advance(TimeSpan.FromSeconds(2));
        await log.DrainAsync(100);
        Assert.Equal(AgentStatus.Speaking, session.Status);
        _time.Advance(TimeSpan.FromSeconds(2));

        var error = await log.NextAsync<SessionErrorEvent>();
        Assert.Equal(SessionErrorSource.Speech, error.Source);
        Assert.Contains("3 s", error.Message);
        await EventLog.UntilAsync(() => session.Status == AgentStatus.Idle);

        _output.Hang = false;
        _output.AutoFinish = true;
        session.SubmitUserTurn("y");
        Assert.Equal("OK.", (await log.NextAsync<ReplyFinishedEvent>()).Text);
    }

    [Fact]
    public async Task EmptyUtterance_ReportsAndGoesIdle()
    {
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        var round = session.UserSpeechStarted();
        session.UserSpeechEnded();
        session.UserUtteranceEmpty();

        Assert.Equal(round, (await log.NextAsync<UserUtteranceEmptyEvent>()).RoundId);
        await log.NextAsync<StatusChangedEvent>(s => s.Status == AgentStatus.Idle);
    }
}
