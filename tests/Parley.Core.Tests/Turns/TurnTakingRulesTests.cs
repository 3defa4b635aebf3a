using Parley.Core.Input;
using Parley.Core.Turns;

namespace Parley.Core.Tests.Turns;

/// <summary>Issue 14's rules one by one: VAD onset and end, backchannels, words, the clause-aware end of turn.</summary>
public sealed class TurnTakingRulesTests
{
    private static readonly TimeSpan W = TimeSpan.FromMilliseconds(32);

    private static List<VadEvent> Feed(VadSegmenter vad, params float[] probabilities)
    {
        var events = new List<VadEvent>();
        for (var i = 0; i < probabilities.Length; i++)
        {
            var e = vad.Process(probabilities[i], W * i);
            if (!e.IsNone)
            {
                events.Add(e);
            }
        }

        return events;
    }

    private static VadSegmenter Segmenter(int minSpeechMs = 150, int dipMs = 96) => new(new VadSegmenterOptions
    {
        MinSpeechDuration = TimeSpan.FromMilliseconds(minSpeechMs),
        OnsetDipTolerance = TimeSpan.FromMilliseconds(dipMs),
        SilenceDuration = TimeSpan.FromMilliseconds(320),
    });

    [Fact]
    public void Onset_ReportsAProvisionalStartAtTheFirstWindow_ThenTheConfirmedStart()
    {
        var events = Feed(Segmenter(), 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f);
        Assert.Equal(VadEventKind.SpeechProvisional, events[0].Kind);
        Assert.Equal(W, events[0].At);
        Assert.Equal(VadEventKind.SpeechStarted, events[1].Kind);
        Assert.Equal(TimeSpan.Zero, events[1].SpeechBoundary);
        Assert.Equal(2, events.Count);
    }

    [Fact]
    public void Onset_AShortDipDoesNotDropTheStart_ALongOneReleasesIt()
    {
        // "Stop please": a 64 ms dip (two windows) inside the onset is tolerated (96 ms).
        var tolerated = Feed(Segmenter(), 0.9f, 0.1f, 0.1f, 0.9f, 0.9f, 0.9f, 0.9f);
        Assert.Contains(tolerated, e => e.Kind == VadEventKind.SpeechStarted && e.SpeechBoundary == TimeSpan.Zero);
        Assert.DoesNotContain(tolerated, e => e.Kind == VadEventKind.SpeechReleased);

        // Without the tolerance the same audio restarts later (the onset is lost).
        var strict = Feed(Segmenter(dipMs: 0), 0.9f, 0.1f, 0.1f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f);
        Assert.Contains(strict, e => e.Kind == VadEventKind.SpeechReleased);
        Assert.Contains(strict, e => e.Kind == VadEventKind.SpeechStarted && e.SpeechBoundary == W * 3);

        // A click: one window, then quiet for longer than the tolerance → released, never started.
        var click = Feed(Segmenter(), 0.9f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f);
        Assert.Equal([VadEventKind.SpeechProvisional, VadEventKind.SpeechReleased], click.Select(e => e.Kind));
    }

    [Fact]
    public void End_SilenceCountsFromTheLastConfidentWindow()
    {
        // Speech, then two windows of Silero's lag between the thresholds, then silence.
        var events = Feed(Segmenter(), [0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.4f, 0.4f, .. Enumerable.Repeat(0.05f, 12)]);
        var end = Assert.Single(events, e => e.Kind == VadEventKind.SpeechEnded);
        Assert.Equal(W * 6, end.SpeechBoundary); // the end of the last window at or above 0.5
        Assert.Equal(W * 6 + TimeSpan.FromMilliseconds(320), end.At);
    }

    [Fact]
    public void Backchannels_MatchWholeTranscriptsOnly()
    {
        var b = Backchannels.Default;
        Assert.True(b.Matches("Mm-hmm."));
        Assert.True(b.Matches("yeah yeah"));
        Assert.True(b.Matches("Oh, okay!"));
        Assert.True(b.Matches("I see"));
        Assert.True(b.Matches("嗯嗯"));
        Assert.True(b.Matches("对，是的"));
        Assert.False(b.Matches("yeah but wait"));
        Assert.False(b.Matches("right now please"));
        Assert.False(b.Matches("不对"));
        Assert.False(b.Matches(""));
        Assert.False(Backchannels.None.Matches("yeah"));
    }

    [Fact]
    public void InterruptionPolicy_WordsQualify_NeedsWordsThatAreNotBackchannels()
    {
        var policy = InterruptionPolicy.Parley;
        Assert.False(policy.WordsQualify(""));
        Assert.False(policy.WordsQualify("uh-huh"));
        Assert.True(policy.WordsQualify("wait"));
        Assert.Equal(TimeSpan.FromMilliseconds(600), policy.RequiredSpeech(inEchoGuard: true));
        Assert.Equal(TimeSpan.FromMilliseconds(300), policy.RequiredSpeech(inEchoGuard: false));
        Assert.True(policy.Judged);
        Assert.False(InterruptionPolicy.Default.Judged);
        Assert.Throws<ArgumentOutOfRangeException>(() => InterruptionPolicy.Default with { EchoGuard = TimeSpan.FromSeconds(-1) });
    }

    [Theory]
    [InlineData("I'd like to book a flight to", ClauseEnding.Unfinished)]
    [InlineData("Can you tell me about the", ClauseEnding.Unfinished)]
    [InlineData("My account number is", ClauseEnding.Unfinished)]
    [InlineData("I was wondering if", ClauseEnding.Unfinished)]
    [InlineData("so um,", ClauseEnding.Unfinished)]
    [InlineData("我想订一张到上海的", ClauseEnding.Unfinished)]
    [InlineData("然后", ClauseEnding.Unfinished)]
    [InlineData("What is the weather like today?", ClauseEnding.Complete)]
    [InlineData("Boston on Friday.", ClauseEnding.Complete)]
    [InlineData("今天天气怎么样？", ClauseEnding.Complete)]
    [InlineData("你能帮我吗", ClauseEnding.Complete)]
    [InlineData("four five six seven", ClauseEnding.Neutral)]
    [InlineData("", ClauseEnding.Neutral)]
    public void Clause_Classify(string text, ClauseEnding expected) => Assert.Equal(expected, ClauseAwareEndOfTurn.Classify(text));

    private static TurnSnapshot Turn(int silenceMs, string text, int pending = 0, VadPhase phase = VadPhase.Quiet) =>
        new("m", TimeSpan.FromMilliseconds(10_000), TimeSpan.FromMilliseconds(10_000 - silenceMs), phase, 1, pending, text);

    [Fact]
    public async Task Clause_WaitsLongerAfterAnUnfinishedClause_EndsAtTheVadSilenceAfterASentence()
    {
        var policy = new ClauseAwareEndOfTurn(TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(1200));
        Assert.Equal(EndOfTurn.End, policy.OnSpeechEnded(Turn(500, "What time is it?")));
        Assert.Equal(EndOfTurn.End, policy.OnAudioAdvanced(Turn(500, "four five six seven")));
        Assert.Equal(EndOfTurn.Wait, policy.OnAudioAdvanced(Turn(1100, "a flight to")));
        Assert.Equal(EndOfTurn.End, policy.OnAudioAdvanced(Turn(1200, "a flight to")));
        Assert.Equal(EndOfTurn.Wait, policy.OnAudioAdvanced(Turn(1300, "a flight to", phase: VadPhase.Starting)));

        // A final not yet in: only the long wait ends the turn (it completes once the final arrives).
        Assert.Equal(EndOfTurn.Wait, policy.OnSpeechEnded(Turn(500, "", pending: 1)));
        Assert.Equal(EndOfTurn.End, policy.OnAudioAdvanced(Turn(1200, "", pending: 1)));
        Assert.Equal(EndOfTurn.End, await policy.OnFinalTranscriptAsync(Turn(500, "Boston on Friday."), EmptyConversation.Instance, default));
        Assert.Equal(EndOfTurn.Wait, await policy.OnFinalTranscriptAsync(Turn(500, "Boston on"), EmptyConversation.Instance, default));
    }

    [Fact]
    public void Clause_Options_StayWithinTheSilenceAndPauseIntervalBounds()
    {
        var vad = new VadSegmenterOptions { SilenceDuration = TimeSpan.FromMilliseconds(500) };
        var clause = Assert.IsType<ClauseAwareEndOfTurn>(new UserInputOptions { Vad = vad, UnfinishedClauseWait = TimeSpan.FromMilliseconds(1200) }.CreateEndOfTurnPolicy());
        Assert.Equal(TimeSpan.FromMilliseconds(500), clause.NeutralWait);
        Assert.Equal(TimeSpan.FromMilliseconds(1200), clause.UnfinishedWait);

        // Stitching on: the PauseInterval is the upper bound (and what a neutral ending waits, as before).
        var stitched = Assert.IsType<ClauseAwareEndOfTurn>(new UserInputOptions
        {
            Vad = vad, PauseInterval = TimeSpan.FromMilliseconds(800), UnfinishedClauseWait = TimeSpan.FromMilliseconds(1200),
        }.CreateEndOfTurnPolicy());
        Assert.Equal(TimeSpan.FromMilliseconds(800), stitched.UnfinishedWait);
        Assert.Equal(TimeSpan.FromMilliseconds(800), stitched.NeutralWait);

        Assert.IsType<SilenceEndOfTurn>(new UserInputOptions { Vad = vad }.CreateEndOfTurnPolicy());
        var bad = new UserInputOptions { Vad = vad, UnfinishedClauseWait = TimeSpan.FromMilliseconds(100) };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new UserInputPipeline(bad, new Timeline.TimelineVad(), () => new Timeline.TimelineRecognizer(), TimeProvider.System));
        Assert.Equal("UnfinishedClauseWait", error.ParamName);
    }
}
