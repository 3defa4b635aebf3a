using Parley.Core.Input;
using Parley.Core.Tests.Timeline;
using Parley.Core.Turns;

namespace Parley.Core.Tests.Turns;

/// <summary>The end-of-turn model policy's bounds, one by one (the model's answer arrives through the reconsider call).</summary>
public sealed class ModelEndOfTurnTests
{
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    private static TurnSnapshot Turn(int silenceMs, int utterances = 1, string id = "m", VadPhase phase = VadPhase.Quiet) =>
        new(id, Ms(2_000), Ms(2_000 - silenceMs), phase, utterances, 0, "") { TurnStart = Ms(1_000) };

    private static (ModelEndOfTurn Policy, TaskCompletionSource Answered) Policy(IEndOfTurnModel model)
    {
        var policy = new ModelEndOfTurn(model, 0.5f, Ms(500), Ms(1200), new ClauseAwareEndOfTurn(Ms(500), Ms(1200)));
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.Attach(() => answered.TrySetResult());
        policy.OnAudio(new short[32_000]); // 2 s of audio heard, the turn's second
        return (policy, answered);
    }

    [Fact]
    public async Task BelowTheMinimumSilence_NotConsulted_AtItConsultedOnce_ThenActsOnTheAnswer()
    {
        var model = new ScriptedTurnModel(0.8f);
        var (policy, answered) = Policy(model);
        Assert.Equal(EndOfTurn.Wait, policy.OnAudioAdvanced(Turn(400)));
        Assert.Equal(0, policy.Consultations);

        var id = "m";
        Assert.Equal(EndOfTurn.Wait, policy.OnSpeechEnded(Turn(500, id: id)));
        await answered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(EndOfTurn.End, policy.OnAudioAdvanced(Turn(520, id: id)));
        Assert.Equal(1, policy.Consultations);
        Assert.Equal(16_000, Assert.Single(model.Calls).Samples); // the turn began 1 s ago: that second, not the audio before it

        // Speech-like audio the VAD has not confirmed: no decision meanwhile.
        Assert.Equal(EndOfTurn.Wait, policy.OnAudioAdvanced(Turn(540, id: id, phase: VadPhase.Starting)));
    }

    [Fact]
    public async Task Incomplete_HoldsToTheMaximum_ANewUtteranceAsksAgain()
    {
        var model = new ScriptedTurnModel(0.2f);
        var (policy, answered) = Policy(model);
        var id = "m";
        Assert.Equal(EndOfTurn.Wait, policy.OnSpeechEnded(Turn(500, id: id)));
        await answered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(EndOfTurn.Wait, policy.OnAudioAdvanced(Turn(1100, id: id)));
        Assert.Equal(EndOfTurn.End, policy.OnAudioAdvanced(Turn(1200, id: id)));

        Assert.Equal(EndOfTurn.Wait, policy.OnSpeechEnded(Turn(500, utterances: 2, id: id)));
        Assert.Equal(2, policy.Consultations);
    }

    [Fact]
    public void Options_TheModelWrapsTheClausePolicy_BetweenTheVadSilenceAndTheLongestWait()
    {
        var model = new ScriptedTurnModel(0.5f);
        var vad = new VadSegmenterOptions { SilenceDuration = Ms(500) };
        var clause = Assert.IsType<ModelEndOfTurn>(new UserInputOptions
        {
            Vad = vad, UnfinishedClauseWait = Ms(1200), EndOfTurnModel = new(model),
        }.CreateEndOfTurnPolicy());
        Assert.Equal((Ms(500), Ms(1200)), (clause.MinSilence, clause.MaxWait));
        Assert.IsType<ClauseAwareEndOfTurn>(clause.Fallback);

        var stitched = Assert.IsType<ModelEndOfTurn>(new UserInputOptions
        {
            Vad = vad, PauseInterval = Ms(900), UnfinishedClauseWait = Ms(1200), EndOfTurnModel = new(model, 0.7f),
        }.CreateEndOfTurnPolicy());
        Assert.Equal((Ms(500), Ms(900), 0.7f), (stitched.MinSilence, stitched.MaxWait, stitched.Threshold));

        var bad = new UserInputOptions { Vad = vad, EndOfTurnModel = new(model, 1.5f) };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new UserInputPipeline(bad, new TimelineVad(), () => new TimelineRecognizer(), TimeProvider.System));
        Assert.Equal("Threshold", error.ParamName);
    }
}
