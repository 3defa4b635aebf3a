using Parley.Core.Agents;
using Parley.Core.Input;
using Parley.Core.Output;
using Parley.Core.Sessions;
using Parley.Core.Turns;

namespace Parley.Core.Tests.Timeline;

/// <summary>The voice loop's timing rules, on a fake clock (see <see cref="VoiceTimeline"/>).</summary>
[Collection(nameof(TimelineCollection))]
public sealed class VoiceTimelineTests
{
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    /// <summary>The time of the interruption decision (the session's Interrupted event is emitted in the same call).</summary>
    private static TimeSpan Decision(VoiceTimeline t) => t.TimeOf<InterruptedEvent>();

    [Fact]
    public async Task UserTurn_IsAnswered_AndTheAnswerIsPlayed()
    {
        await using var t = new VoiceTimeline();
        t.UserSays(Ms(200), Ms(800), "what is the weather");
        t.Llm.Add(LlmScript.Words("It is sunny today."));
        await t.RunUntilAsync(Ms(5000));

        Assert.Equal("It is sunny today.", t.First<ReplyFinishedEvent>().Text);
        Assert.True(t.FramesPlayedAfter(TimeSpan.Zero) > 20);
        Assert.Equal(
            [new ContextMessage(MessageRole.User, "what is the weather"), new ContextMessage(MessageRole.Assistant, "It is sunny today.")],
            t.Session.GetMessages());
        var latency = t.Session.GetLatency();
        Assert.InRange(latency.SpeechFirstAudioMs, 90, 130);
    }

    [Fact]
    public async Task BargeIn_MidSentence_StopsTheAudioWithinOneFrame_AndKeepsThePlayedPart()
    {
        await using var t = new VoiceTimeline();
        t.UserSays(Ms(200), Ms(600), "tell me a story");
        t.Llm.Add(LlmScript.Words("Once upon a time there was a very long sentence that takes seconds to say."));
        t.UserSays(Ms(3000), Ms(600), "stop");
        await t.RunUntilAsync(Ms(4500));

        var decision = Decision(t);
        Assert.InRange(decision, Ms(3000), Ms(3200));
        Assert.True(t.FramesPlayedAfter(Ms(1500)) > 0);
        Assert.True(t.Sink.Played.Where(f => f.At > decision + Ms(20)).All(f => f.Marker != 1), "old audio kept playing after the interruption");
        Assert.Equal(InterruptReason.UserSpeech, t.First<InterruptedEvent>().Reason);
        var kept = t.Session.GetMessages()[1].Content;
        Assert.StartsWith("Once upon", kept);
        Assert.NotEqual("Once upon a time there was a very long sentence that takes seconds to say.", kept);
    }

    [Fact]
    public async Task BargeIn_BetweenSentences_WhileTheNextIsNotSynthesised_LeavesAtMostOneFrame()
    {
        // The first sentence plays; the LLM is slow to produce the second, so the session waits for it while the end
        // of the first (the lookahead) still plays. A barge-in there must stop that tail at once.
        await using var t = new VoiceTimeline(lookahead: TimeSpan.FromMilliseconds(1000));
        t.UserSays(Ms(200), Ms(600), "hello");
        t.Llm.Add(new LlmScript(Ms(100), Ms(5000), ["Hi there, how are you doing today.", " And then a second sentence."]));
        await t.RunUntilAsync(() => t.Sink.Played.Any(f => f.Marker == 1), TimeSpan.FromSeconds(5));
        var firstFrame = t.Now;

        // The sentence is 34 characters = 2,040 ms of audio; its last 1,000 ms are the lookahead window.
        t.UserSays(firstFrame + Ms(1300), Ms(600), "wait");
        await t.RunUntilAsync(firstFrame + Ms(4000));

        var decision = Decision(t);
        var round = t.First<InterruptedEvent>().RoundId;
        Assert.InRange(decision, firstFrame + Ms(1050), firstFrame + Ms(1950));
        Assert.Single(t.All<ReplySentenceEvent>(), s => s.RoundId == round);
        Assert.True(t.Sink.Played.Count(f => f.At > decision && f.Marker == 1) <= 1, $"old audio after the decision at {decision.TotalMilliseconds} ms: {string.Join(", ", t.Sink.Played.Where(f => f.At > decision && f.Marker == 1).Select(f => f.At.TotalMilliseconds))}");
    }

    [Fact]
    public async Task BargeIn_WhileThinking_NoAudioOfThatReplyIsPlayed()
    {
        await using var t = new VoiceTimeline();
        t.UserSays(Ms(200), Ms(600), "question");
        t.Llm.Add(LlmScript.Words("A late answer.", firstTokenMs: 2000));
        t.UserSays(Ms(1800), Ms(600), "never mind");
        t.Llm.Add(LlmScript.Words("Okay."));
        await t.RunUntilAsync(Ms(5000));

        var interrupted = t.First<InterruptedEvent>();
        Assert.Equal(InterruptReason.UserSpeech, interrupted.Reason);
        Assert.Contains(t.All<StatusChangedEvent>(), s => s.RoundId == interrupted.RoundId && s.Status == AgentStatus.Thinking);
        Assert.DoesNotContain(t.Tts.Texts, text => text.Contains("late", StringComparison.Ordinal));
        Assert.Equal("Okay.", t.First<ReplyFinishedEvent>().Text);
    }

    [Fact]
    public async Task NoiseTooShort_DoesNotInterrupt()
    {
        await using var t = new VoiceTimeline();
        t.UserSays(Ms(200), Ms(600), "tell me");
        t.Llm.Add(LlmScript.Words("A reply that plays for quite a while, long enough."));
        t.UserSays(Ms(2500), Ms(60), "cough");
        await t.RunUntilAsync(Ms(7000));

        Assert.Empty(t.All<InterruptedEvent>());
        Assert.Single(t.All<ReplyFinishedEvent>());
    }

    [Fact]
    public async Task PauseInterval_StitchesTwoUtterancesIntoOneTurn()
    {
        var turns = new UserInputOptions
        {
            Vad = new VadSegmenterOptions { SilenceDuration = TimeSpan.FromMilliseconds(300) },
            PauseInterval = TimeSpan.FromMilliseconds(1200),
        };
        await using var t = new VoiceTimeline(turns: turns);
        t.UserSays(Ms(200), Ms(600), "book a table");
        t.UserSays(Ms(1500), Ms(600), "for two");
        await t.RunUntilAsync(Ms(5000));

        var request = Assert.Single(t.Llm.Requests);
        Assert.Equal("book a table for two", request.UserText);
    }

    [Theory]
    [InlineData(ReplyPriority.High, SamePriorityOption.Enqueue, true)]
    [InlineData(ReplyPriority.Medium, SamePriorityOption.ClearAndInterrupt, true)]
    [InlineData(ReplyPriority.Medium, SamePriorityOption.Enqueue, false)]
    [InlineData(ReplyPriority.Low, SamePriorityOption.ClearAndInterrupt, false)]
    public async Task TtsTrigger_WhileSpeaking_FollowsPriority(ReplyPriority priority, SamePriorityOption option, bool interrupts)
    {
        await using var t = new VoiceTimeline();
        t.Session.SubmitSpeech(new SpeechRequest("The first announcement is rather long to say.", Priority: ReplyPriority.Medium));
        await t.RunUntilAsync(Ms(800));
        t.Session.SubmitSpeech(new SpeechRequest("Second.", Priority: priority, SamePriorityOption: option));
        var decisionAt = t.Now;
        await t.RunUntilAsync(Ms(8000));

        if (interrupts)
        {
            Assert.Equal(InterruptReason.ProactiveSpeech, t.First<InterruptedEvent>().Reason);
            Assert.True(t.Sink.Played.Count(f => f.At > decisionAt && f.Marker == 1) <= 1);
        }
        else
        {
            Assert.Empty(t.All<InterruptedEvent>());
            Assert.Equal(2, t.All<ReplyFinishedEvent>().Count());
            var lastOfFirst = t.Sink.Played.Last(f => f.Marker == 1).At;
            var firstOfSecond = t.Sink.Played.First(f => f.Marker == 2).At;
            Assert.True(firstOfSecond > lastOfFirst);
        }
    }

    [Fact]
    public async Task LlmError_MidReply_ReportsIt_AndStopsTheAudio()
    {
        await using var t = new VoiceTimeline();
        t.UserSays(Ms(200), Ms(600), "hi");
        t.Llm.Add(new LlmScript(Ms(100), Ms(50), ["First sentence here.", " Half of"], FailAtEnd: true));
        await t.RunUntilAsync(Ms(4000));

        var error = t.First<SessionErrorEvent>();
        Assert.Equal(SessionErrorSource.Llm, error.Source);
        Assert.True(t.Sink.Clears > 0, string.Join("\n", t.Events.Select(e => $"{e.At.TotalMilliseconds} {e.Event}")) + $"\nplayed {t.Sink.Played.Count}");
        Assert.True(t.FramesPlayedAfter(t.TimeOf<SessionErrorEvent>() + Ms(20)) == 0);
    }

    [Fact]
    public async Task LlmStall_CountsOnlyTimeWaitingForTheModel()
    {
        // Many sentences at once: the session spends long stretches waiting on its own speech queue, which must not
        // count as the LLM stalling; then the model really stalls and the reply fails after the stall timeout.
        await using var t = new VoiceTimeline(llmStall: TimeSpan.FromSeconds(2));
        t.UserSays(Ms(200), Ms(600), "talk");
        var tokens = Enumerable.Range(1, 80).Select(i => $"Sentence {i} is here. ").ToArray();
        t.Llm.Add(new LlmScript(Ms(100), TimeSpan.Zero, tokens, StallAtEnd: true));
        await t.RunUntilAsync(TimeSpan.FromSeconds(12));
        Assert.Empty(t.All<SessionErrorEvent>());

        await t.RunUntilAsync(TimeSpan.FromSeconds(150));
        var error = t.First<SessionErrorEvent>();
        Assert.Equal(SessionErrorSource.Llm, error.Source);
        Assert.Equal(80, t.All<ReplySentenceEvent>().Count());
    }

    [Fact]
    public async Task TtsFailure_MidReply_ReportsASpeechError_AndClears()
    {
        await using var t = new VoiceTimeline();
        t.Tts.FailOnSentence = 2;
        t.UserSays(Ms(200), Ms(600), "hi");
        t.Llm.Add(LlmScript.Words("One short. Two is where the vendor breaks. Three never comes."));
        await t.RunUntilAsync(Ms(6000));

        var error = t.First<SessionErrorEvent>();
        Assert.Equal(SessionErrorSource.Speech, error.Source);
        Assert.DoesNotContain(t.Sink.Played, f => f.Marker == 3);
        Assert.Equal(0, t.FramesPlayedAfter(t.TimeOf<SessionErrorEvent>() + Ms(20)));
    }

    [Fact]
    public async Task TtsDuringTheJoin_WaitsForTheMedia_AndIsPlayed()
    {
        await using var t = new VoiceTimeline(attachMedia: false);
        t.Session.SubmitSpeech(new SpeechRequest("Welcome aboard."));
        await t.RunUntilAsync(Ms(1000));
        Assert.Empty(t.Sink.Played);
        Assert.Empty(t.All<ReplyFinishedEvent>());

        t.AttachMedia();
        await t.RunUntilAsync(Ms(4000));
        Assert.Equal("Welcome aboard.", t.First<ReplyFinishedEvent>().Text);
        Assert.Contains(t.Sink.Played, f => f.Marker == 1);
    }

    [Fact]
    public async Task TtsUpdate_DuringTheJoin_AndWhileRunning_ReachesTheOutput()
    {
        await using var t = new VoiceTimeline(attachMedia: false);
        var second = new ScriptedTts(t.Time, "Second");
        t.Agent.UpdateVoice(new TtsVoice(second, null, [], null));
        t.AttachMedia();
        t.Session.SubmitSpeech(new SpeechRequest("Spoken by the second voice."));
        await t.RunUntilAsync(Ms(4000));
        Assert.Single(second.Texts);
        Assert.Empty(t.Tts.Texts);

        var third = new ScriptedTts(t.Time, "Third");
        t.Agent.UpdateVoice(new TtsVoice(third, null, [], null));
        t.Session.SubmitSpeech(new SpeechRequest("And now the third."));
        await t.RunUntilAsync(Ms(8000));
        Assert.Single(third.Texts);
        Assert.Single(second.Texts);
    }

    [Fact]
    public async Task AsrUpdate_WhileRunning_TheNewRecogniserHearsTheNextTurn()
    {
        await using var t = new VoiceTimeline();
        t.UserSays(Ms(200), Ms(600), "first");
        await t.RunUntilAsync(Ms(3000));
        var replacement = new TimelineRecognizer();
        replacement.Expect("heard by the new one");
        t.Agent.UpdateListening(() => new ListeningSetup(t.Turns, () => new TimelineVad(), () => replacement));
        t.UserSays(Ms(3500), Ms(600), "ignored by the old one");
        await t.RunUntilAsync(Ms(6000));

        Assert.Contains(t.Llm.Requests, r => r.UserText == "heard by the new one");
    }

    [Fact]
    public async Task AsrVendorSessionFails_TheFailureIsReported_AndTheNextTurnIsStillHeard()
    {
        var opened = 0;
        await using var t = new VoiceTimeline(openRecognition: good => Interlocked.Increment(ref opened) == 1 ? new FailingRecognizer() : good);
        t.Recognizer.Expect("heard after the failure");
        t.UserSays(Ms(200), Ms(600), "lost with the failed session");
        await t.RunUntilAsync(Ms(3000));
        Assert.Single(t.RecognitionFailures);
        Assert.Empty(t.Llm.Requests);

        t.UserSays(Ms(3500), Ms(600), "unused");
        await t.RunUntilAsync(Ms(7000));
        Assert.True(opened >= 2);
        var request = Assert.Single(t.Llm.Requests);
        Assert.Equal("heard after the failure", request.UserText);
        Assert.Single(t.All<ReplyFinishedEvent>());
    }

    [Fact]
    public async Task MinWords_ABackchannelDoesNotInterrupt_ARealSentenceDoes()
    {
        await using var t = new VoiceTimeline(interruption: new InterruptionPolicy(bargeIn: true, TimeSpan.FromMilliseconds(200), minWords: 2));
        t.UserSays(Ms(200), Ms(600), "tell me a long story");
        t.Llm.Add(LlmScript.Words("Once upon a time there was a story so long that it takes many seconds to tell. It goes on and on."));
        await t.RunUntilAsync(() => t.Sink.Played.Count > 0, TimeSpan.FromSeconds(5));

        t.UserSays(t.Now + Ms(300), Ms(400), "yeah");
        await t.RunForAsync(Ms(2000));
        Assert.Empty(t.All<InterruptedEvent>());
        Assert.Single(t.Llm.Requests);

        var stopAt = t.Now + Ms(300);
        t.UserSays(stopAt, Ms(800), "stop talking please");
        t.Llm.Add(LlmScript.Words("Sure."));
        await t.RunForAsync(Ms(4000));
        var interrupted = t.First<InterruptedEvent>();
        Assert.Equal(InterruptReason.UserSpeech, interrupted.Reason);
        Assert.True(t.TimeOf<InterruptedEvent>() > stopAt);
        Assert.Equal("stop talking please", t.Llm.Requests.Last().UserText);
    }
}

[CollectionDefinition(nameof(TimelineCollection), DisableParallelization = true)]
public sealed class TimelineCollection;
