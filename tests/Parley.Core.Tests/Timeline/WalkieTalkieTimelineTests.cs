using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Speech;
using Parley.Core.Sessions;

namespace Parley.Core.Tests.Timeline;

/// <summary>Walkie-talkie mode (CommunicationMode 2): the agent hears the user only between StartListening and StopListening.</summary>
[Collection(nameof(TimelineCollection))]
public sealed class WalkieTalkieTimelineTests
{
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    private static bool UserFinal(VoiceTimeline t) => t.All<UserTranscriptEvent>().Any(e => e.IsFinal);

    [Fact]
    public async Task SpeechOutsideTheWindow_IsNotHeard_NorAnswered()
    {
        await using var t = new VoiceTimeline(walkieTalkie: true);
        t.UserSpeaksUnheard(Ms(200), Ms(800));
        await t.RunUntilAsync(Ms(2000));
        Assert.True(t.Agent.StartListening());
        await t.RunUntilAsync(Ms(2500));
        Assert.True(t.Agent.StopListening());
        t.UserSpeaksUnheard(Ms(3000), Ms(800));
        await t.RunUntilAsync(Ms(5000));

        Assert.Empty(t.All<UserSpeakingChangedEvent>());
        Assert.Empty(t.All<UserTranscriptEvent>());
        Assert.Empty(t.Llm.Requests);
        Assert.Equal(AgentStatus.Idle, t.Session.Status);
    }

    [Fact]
    public async Task SpeechInsideTheWindow_IsAnsweredAtStop_AndAPauseDoesNotEndTheTurn()
    {
        await using var t = new VoiceTimeline(walkieTalkie: true);
        await t.RunUntilAsync(Ms(100));
        Assert.True(t.Agent.StartListening());

        // Two utterances with a 700 ms pause (longer than the VAD's 500 ms silence): one turn, ended by the stop only.
        t.UserSays(Ms(200), Ms(600), "hello");
        t.UserSays(Ms(1500), Ms(600), "there");
        t.Llm.Add(LlmScript.Words("Hi."));
        await t.RunUntilAsync(Ms(3000));
        Assert.Empty(t.Llm.Requests);
        Assert.False(UserFinal(t));

        Assert.True(t.Agent.StopListening());
        var stopAt = t.Now;
        await t.RunUntilAsync(() => !t.Llm.Requests.IsEmpty, TimeSpan.FromSeconds(3));

        Assert.InRange(t.TimeOf<UserTranscriptEvent>(e => e.IsFinal), stopAt, stopAt + Ms(1000));
        Assert.Equal("hello there", Assert.Single(t.Llm.Requests).UserText);
        await t.RunUntilAsync(() => t.All<ReplyFinishedEvent>().Any(), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task StopWhileTheUserSpeaks_EndsTheTurnAtOnce_WithoutTheSilenceWait()
    {
        await using var t = new VoiceTimeline(walkieTalkie: true);
        await t.RunUntilAsync(Ms(100));
        t.Agent.StartListening();
        t.UserSays(Ms(200), Ms(3000), "a long question");
        await t.RunUntilAsync(Ms(1500));
        t.Agent.StopListening();
        var stopAt = t.Now;
        await t.RunUntilAsync(() => !t.Llm.Requests.IsEmpty, TimeSpan.FromSeconds(3));

        // Answered before the speech even ended (3,200 ms; the silence wait would end it at 3,700 ms at the earliest).
        Assert.Equal("a long question", Assert.Single(t.Llm.Requests).UserText);
        Assert.InRange(t.TimeOf<UserTranscriptEvent>(e => e.IsFinal), stopAt, Ms(3200));

        // The rest of the speech (after the stop) is not heard: no second turn.
        await t.RunUntilAsync(Ms(5000));
        Assert.Single(t.Llm.Requests);
        Assert.Single(t.All<UserSpeakingChangedEvent>(), e => e.Speaking);
    }

    [Fact]
    public async Task StopWithNothingSaid_GivesNoReply()
    {
        await using var t = new VoiceTimeline(walkieTalkie: true);
        await t.RunUntilAsync(Ms(100));
        t.Agent.StartListening();
        await t.RunUntilAsync(Ms(1000));
        t.Agent.StopListening();
        await t.RunUntilAsync(Ms(2000));

        Assert.Empty(t.Llm.Requests);
        Assert.Empty(t.All<ReplyFinishedEvent>());
    }

    [Fact]
    public async Task StopBeforeTheFinal_WaitsForTheFinal_RatherThanLosingWords()
    {
        FakeTimeProvider? clock = null;
        await using var t = new VoiceTimeline(walkieTalkie: true, openRecognition: _ => new SlowRecognizer(() => clock!, "every word counts", Ms(400)));
        clock = t.Time;
        await t.RunUntilAsync(Ms(100));
        t.Agent.StartListening();
        t.UserSpeaksUnheard(Ms(200), Ms(2000));
        await t.RunUntilAsync(Ms(1500));
        t.Agent.StopListening();
        var stopAt = t.Now;
        await t.RunUntilAsync(() => !t.Llm.Requests.IsEmpty, TimeSpan.FromSeconds(3));

        Assert.Equal("every word counts", Assert.Single(t.Llm.Requests).UserText);
        Assert.InRange(t.TimeOf<UserTranscriptEvent>(e => e.IsFinal), stopAt + Ms(390), stopAt + Ms(1500));
    }

    [Fact]
    public async Task StopWhenTheFinalNeverComes_CompletesWithThePartialAfterTheBound()
    {
        FakeTimeProvider? clock = null;
        await using var t = new VoiceTimeline(walkieTalkie: true, openRecognition: _ => new SlowRecognizer(() => clock!, "only partial", null));
        clock = t.Time;
        await t.RunUntilAsync(Ms(100));
        t.Agent.StartListening();
        t.UserSpeaksUnheard(Ms(200), Ms(2000));
        await t.RunUntilAsync(Ms(1500));
        t.Agent.StopListening();
        var stopAt = t.Now;
        await t.RunUntilAsync(() => !t.Llm.Requests.IsEmpty, TimeSpan.FromSeconds(4));

        Assert.Equal("only partial", Assert.Single(t.Llm.Requests).UserText);
        var wait = t.Turns.StopFinalWait;
        Assert.InRange(t.TimeOf<UserTranscriptEvent>(e => e.IsFinal), stopAt + wait - Ms(10), stopAt + wait + Ms(1000));
    }

    [Fact]
    public async Task StartListening_WhileTheAgentSpeaks_DoesNotInterruptByItself()
    {
        await using var t = new VoiceTimeline(walkieTalkie: true);
        t.Session.SubmitSpeech(new SpeechRequest("A rather long announcement that takes a while to say."));
        await t.RunUntilAsync(() => t.Session.Status == AgentStatus.Speaking, TimeSpan.FromSeconds(2));
        t.Agent.StartListening();
        await t.RunForAsync(Ms(500));

        Assert.Empty(t.All<InterruptedEvent>());
        Assert.Equal(AgentStatus.Speaking, t.Session.Status);
    }

    [Fact]
    public async Task FullDuplexAgent_RefusesListeningControl()
    {
        await using var t = new VoiceTimeline();
        Assert.False(t.Agent.StartListening());
        Assert.False(t.Agent.StopListening());
    }

    [Fact]
    public async Task WithoutUserAudio_StartListeningFails()
    {
        await using var t = new VoiceTimeline(walkieTalkie: true, attachMedia: false);
        Assert.False(t.Agent.StartListening());
        Assert.True(t.Agent.StopListening());
    }

    /// <summary>A recogniser that sends a partial at once and its final <c>finalAfter</c> after the utterance ends (never when null).</summary>
    private sealed class SlowRecognizer(Func<FakeTimeProvider> time, string text, TimeSpan? finalAfter) : ISpeechRecognitionStream
    {
        private readonly Channel<SpeechRecognitionResult> _results = Channel.CreateUnbounded<SpeechRecognitionResult>();
        private bool _partialSent;

        public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
        {
            if (!_partialSent)
            {
                _partialSent = true;
                _results.Writer.TryWrite(new SpeechRecognitionResult(text, false));
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask EndUtteranceAsync(CancellationToken cancellationToken)
        {
            if (finalAfter is { } after)
            {
                _ = Task.Delay(after, time(), CancellationToken.None)
                    .ContinueWith(_ => _results.Writer.TryWrite(new SpeechRecognitionResult(text, true)), TaskScheduler.Default);
            }

            return ValueTask.CompletedTask;
        }

        public IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken) => _results.Reader.ReadAllAsync(cancellationToken);

        public ValueTask DisposeAsync()
        {
            _results.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }
    }
}
