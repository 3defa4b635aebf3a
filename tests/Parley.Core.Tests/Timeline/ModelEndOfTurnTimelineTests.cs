using Parley.Core.Input;
using Parley.Core.Sessions;
using Parley.Core.Turns;

namespace Parley.Core.Tests.Timeline;

/// <summary>
/// Issue 14 item 4, the optional end-of-turn model, on the whole voice loop (fake clock): the model is consulted once
/// the VAD's silence ends the utterance, with the turn's audio; "complete" ends the turn there (even after an
/// unfinished clause), "incomplete" holds it to the longest wait (even after a complete sentence), and a failing model
/// leaves the decision to the clause-aware policy.
/// </summary>
[Collection(nameof(TimelineCollection))]
public sealed class ModelEndOfTurnTimelineTests
{
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    private static UserInputOptions Turns(IEndOfTurnModel model) => new()
    {
        Vad = new VadSegmenterOptions { SilenceDuration = Ms(500) },
        UnfinishedClauseWait = Ms(1200),
        EndOfTurnModel = new EndOfTurnModelOptions(model, 0.5f),
    };

    [Fact]
    public async Task ModelSaysComplete_AnUnfinishedClauseEndsAtTheVadSilence()
    {
        var model = new ScriptedTurnModel(0.9f);
        await using var t = new VoiceTimeline(turns: Turns(model));
        t.UserSays(Ms(200), Ms(600), "book a flight to");
        t.Llm.Add(LlmScript.Words("Where to?"));
        await t.RunUntilAsync(Ms(3000));

        Assert.Equal("book a flight to", Assert.Single(t.Llm.Requests).UserText);
        var final = t.TimeOf<UserTranscriptEvent>(e => e.IsFinal);
        Assert.InRange(final, Ms(800 + 500), Ms(800 + 700)); // not the 1200 ms an unfinished clause waits without the model

        // Consulted once, with the turn's audio from its start (the 300 ms pre-roll before the speech) to the silence.
        var call = Assert.Single(model.Calls);
        Assert.InRange(call.Samples, 16 * (600 + 500), 16 * (300 + 600 + 600));
        Assert.InRange(call.SpeechSamples, 16 * 560, 16 * 640);
    }

    [Fact]
    public async Task ModelSaysIncomplete_ACompleteSentenceWaitsToTheLongestWait_AndTheNextWordsJoinTheTurn()
    {
        var model = new ScriptedTurnModel(0.1f);
        await using var t = new VoiceTimeline(turns: Turns(model));
        t.UserSays(Ms(200), Ms(600), "I want to fly.");
        await t.RunUntilAsync(Ms(1800));
        Assert.Empty(t.Llm.Requests); // the clause-aware policy alone would have ended it at 1300 ms
        Assert.Single(model.Calls);

        t.UserSays(Ms(1900), Ms(500), "To Boston.");
        t.Llm.Add(LlmScript.Words("Sure."));
        await t.RunUntilAsync(Ms(4500));
        Assert.Equal("I want to fly. To Boston.", Assert.Single(t.Llm.Requests).UserText);
        var final = t.TimeOf<UserTranscriptEvent>(e => e.IsFinal);
        Assert.InRange(final, Ms(2400 + 1150), Ms(2400 + 1400)); // held to the 1200 ms bound, then ended
        Assert.Equal(2, model.Calls.Count);
    }

    [Fact]
    public async Task ModelFails_TheClauseAwarePolicyDecides()
    {
        var model = new ScriptedTurnModel(0.9f) { Throws = true };
        await using var t = new VoiceTimeline(turns: Turns(model));
        t.UserSays(Ms(200), Ms(600), "What time is it?");
        t.Llm.Add(LlmScript.Words("Noon."));
        await t.RunUntilAsync(Ms(3000));
        var final = t.TimeOf<UserTranscriptEvent>(e => e.IsFinal);
        Assert.InRange(final, Ms(800 + 500), Ms(800 + 700));
        Assert.Single(model.Calls);
    }
}

/// <summary>An end-of-turn model that answers a fixed probability and records what it was given.</summary>
internal sealed class ScriptedTurnModel(float probability) : IEndOfTurnModel
{
    public List<(int Samples, int SpeechSamples)> Calls { get; } = [];

    public bool Throws { get; init; }

    public TimeSpan MaxAudio => TimeSpan.FromSeconds(8);

    public float Predict(ReadOnlySpan<short> turnAudio)
    {
        var speech = 0;
        foreach (var s in turnAudio)
        {
            speech += s != 0 ? 1 : 0;
        }

        lock (Calls)
        {
            Calls.Add((turnAudio.Length, speech));
        }

        return Throws ? throw new InvalidOperationException("model broke") : probability;
    }
}
