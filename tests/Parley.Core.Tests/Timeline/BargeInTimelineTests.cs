using Parley.Core.Input;
using Parley.Core.Sessions;
using Parley.Core.Turns;

namespace Parley.Core.Tests.Timeline;

/// <summary>
/// Issue 14 on the whole voice loop (fake clock): a provisional start pauses the agent's audio and a false start resumes
/// it without Interrupted; each interruption rule (minimum speech, minimum words, backchannels, echo guard,
/// uninterruptible replies); the clause-aware end of turn.
/// </summary>
[Collection(nameof(TimelineCollection))]
public sealed class BargeInTimelineTests
{
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    private const string LongAnswer = "Once upon a time there was a story so long that it takes many seconds to tell. It goes on and on and on, sentence after sentence.";

    /// <summary>The user asks, the agent answers at length; returns once the answer has played for more than the echo guard.</summary>
    private static async Task<VoiceTimeline> SpeakingAgentAsync(InterruptionPolicy policy, UserInputOptions? turns = null)
    {
        var t = new VoiceTimeline(interruption: policy, turns: turns);
        t.UserSays(Ms(200), Ms(600), "tell me a long story");
        t.Llm.Add(LlmScript.Words(LongAnswer));
        await t.RunUntilAsync(() => t.Sink.Played.Count > 0, TimeSpan.FromSeconds(5));
        await t.RunForAsync(Ms(1200));
        return t;
    }

    private static InterruptionPolicy NoGuard => InterruptionPolicy.Parley with { EchoGuard = TimeSpan.Zero };

    [Fact]
    public async Task FalseStart_PausesTheAudio_AndResumesWhereItStopped_WithoutInterrupted()
    {
        await using var t = await SpeakingAgentAsync(NoGuard);
        var playedBefore = t.Sink.PlayedSamples;
        var at = t.Now + Ms(100);
        t.UserSpeaksUnheard(at, Ms(60)); // a click: speech-like for two windows, never confirmed
        await t.RunForAsync(Ms(1000));

        var pause = Assert.Single(t.Sink.Pauses);
        var resume = Assert.Single(t.Sink.Resumes);
        Assert.InRange(pause, at, at + Ms(80));
        Assert.True(resume > pause);
        Assert.DoesNotContain(t.Sink.Played, f => f.At > pause + Ms(20) && f.At < resume);
        Assert.Contains(t.Sink.Played, f => f.At > resume);
        Assert.Equal(0, t.Sink.Clears);
        Assert.Empty(t.All<InterruptedEvent>());
        Assert.True(t.Sink.PlayedSamples > playedBefore);
        Assert.False(t.Agent.Session.AgentAudioPaused);
    }

    [Fact]
    public async Task ConfirmedStart_PausesFirst_ThenInterruptsAndClears()
    {
        await using var t = await SpeakingAgentAsync(NoGuard);
        var at = t.Now + Ms(100);
        t.UserSays(at, Ms(900), "stop talking please");
        t.Llm.Add(LlmScript.Words("Sure."));
        await t.RunForAsync(Ms(2500));

        var interrupted = t.TimeOf<InterruptedEvent>();
        var pause = t.Sink.Pauses[0];
        Assert.InRange(pause, at, at + Ms(80));
        Assert.True(interrupted >= pause + Ms(250)); // the 300 ms minimum speech
        Assert.True(t.Sink.Clears >= 1);
        Assert.Equal(InterruptReason.UserSpeech, t.First<InterruptedEvent>().Reason);
        Assert.Equal("stop talking please", t.Llm.Requests.Last().UserText);
    }

    [Fact]
    public async Task MinSpeech_ShortSpeechWithWordsDoesNotInterrupt()
    {
        await using var t = await SpeakingAgentAsync(new InterruptionPolicy(true, Ms(700), 1));
        t.UserSays(t.Now + Ms(100), Ms(400), "hang on");
        await t.RunForAsync(Ms(2000));
        Assert.Empty(t.All<InterruptedEvent>());
        Assert.NotEmpty(t.Sink.Pauses);
        Assert.Equal(t.Sink.Pauses.Count, t.Sink.Resumes.Count);
        Assert.Single(t.Llm.Requests);
    }

    [Fact]
    public async Task MinWords_OneWordDoesNotInterruptWhenTwoAreNeeded()
    {
        await using var t = await SpeakingAgentAsync(new InterruptionPolicy(true, Ms(200), 2));
        t.UserSays(t.Now + Ms(100), Ms(600), "stop");
        await t.RunForAsync(Ms(2000));
        Assert.Empty(t.All<InterruptedEvent>());
        Assert.Equal(t.Sink.Pauses.Count, t.Sink.Resumes.Count);
        Assert.False(t.Agent.Session.AgentAudioPaused);
    }

    [Theory]
    [InlineData("mm-hmm")]
    [InlineData("yeah yeah")]
    [InlineData("嗯嗯")]
    public async Task Backchannel_DoesNotInterrupt_AndTheAudioResumes(string backchannel)
    {
        await using var t = await SpeakingAgentAsync(NoGuard);
        t.UserSays(t.Now + Ms(100), Ms(500), backchannel);
        await t.RunForAsync(Ms(2000));
        Assert.Empty(t.All<InterruptedEvent>());
        Assert.NotEmpty(t.Sink.Pauses);
        Assert.Equal(t.Sink.Pauses.Count, t.Sink.Resumes.Count);
        Assert.Single(t.Llm.Requests);
        Assert.Contains(t.Sink.Played, f => f.At > t.Sink.Resumes[^1]);
    }

    [Fact]
    public async Task EchoGuard_SpeechJustAfterTheAgentsOnset_NeitherPausesNorInterruptsUntilItIsLongEnough()
    {
        var policy = new InterruptionPolicy(true, Ms(200), 1) { EchoGuard = Ms(1500), EchoGuardMinSpeech = Ms(900) };
        await using var t = new VoiceTimeline(interruption: policy);
        t.UserSays(Ms(200), Ms(600), "tell me a long story");
        t.Llm.Add(LlmScript.Words(LongAnswer));
        await t.RunUntilAsync(() => t.Sink.Played.Count > 0, TimeSpan.FromSeconds(5));

        // 500 ms of speech 100 ms after the agent's onset: inside the guard, shorter than its 900 ms → nothing happens.
        t.UserSays(t.Now + Ms(100), Ms(500), "some words");
        await t.RunForAsync(Ms(1500));
        Assert.Empty(t.Sink.Pauses);
        Assert.Empty(t.All<InterruptedEvent>());

        // After the guard, the same speech interrupts (200 ms, a word).
        t.UserSays(t.Now + Ms(100), Ms(500), "stop now");
        t.Llm.Add(LlmScript.Words("Sure."));
        await t.RunForAsync(Ms(1500));
        Assert.NotEmpty(t.Sink.Pauses);
        Assert.Equal(InterruptReason.UserSpeech, t.First<InterruptedEvent>().Reason);
    }

    [Fact]
    public async Task Uninterruptible_InterruptModeOne_NeitherPausesNorInterrupts()
    {
        await using var t = await SpeakingAgentAsync(InterruptionPolicy.NoBargeIn);
        t.UserSays(t.Now + Ms(100), Ms(900), "stop talking please");
        await t.RunForAsync(Ms(2000));
        Assert.Empty(t.Sink.Pauses);
        Assert.Empty(t.All<InterruptedEvent>());
    }

    [Fact]
    public async Task Uninterruptible_HighPriorityReply_NeitherPausesNorInterrupts()
    {
        await using var t = new VoiceTimeline(interruption: NoGuard);
        t.Agent.Session.SubmitSpeech(new SpeechRequest(LongAnswer, InterruptibleByUser: false, Priority: ReplyPriority.High));
        await t.RunUntilAsync(() => t.Sink.Played.Count > 0, TimeSpan.FromSeconds(5));
        t.UserSays(t.Now + Ms(100), Ms(900), "stop talking please");
        await t.RunForAsync(Ms(2000));
        Assert.Empty(t.Sink.Pauses);
        Assert.Empty(t.All<InterruptedEvent>());
    }

    [Fact]
    public async Task EndOfTurn_AnUnfinishedClauseWaitsThroughAPause_ACompleteSentenceEndsAtTheVadSilence()
    {
        var turns = new UserInputOptions
        {
            Vad = new VadSegmenterOptions { SilenceDuration = Ms(500) },
            UnfinishedClauseWait = Ms(1200),
        };
        await using var t = new VoiceTimeline(turns: turns);
        t.UserSays(Ms(200), Ms(600), "book a flight to");
        t.UserSays(Ms(1600), Ms(500), "Boston on Friday.");
        t.Llm.Add(LlmScript.Words("Sure."));
        await t.RunUntilAsync(Ms(4000));

        var request = Assert.Single(t.Llm.Requests);
        Assert.Equal("book a flight to Boston on Friday.", request.UserText);
        var final = t.TimeOf<UserTranscriptEvent>(e => e.IsFinal);
        Assert.InRange(final, Ms(2100 + 500), Ms(2100 + 700)); // the VAD's silence after the sentence, not the 1200 ms wait
    }
}
