using Parley.Providers.Local;
using Parley.TurnEval;
using Xunit;

namespace Parley.Providers.Tests.Local;

/// <summary>
/// The turn-taking evaluation (bench/Parley.TurnEval) on one scenario of each kind, with the real Silero VAD and flite
/// speech: the harness measures what the voice loop does (these are today's behaviours; the figures of the whole set
/// are in docs/benchmarks.md).
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class TurnEvalSmokeTests(SileroVadFixture fixture) : IClassFixture<SileroVadFixture>
{
    [Fact]
    public async Task QuickSet_MeasuresTurnEnds_BargeIns_AndSpeechStarts()
    {
        var runner = new EvalRunner(fixture.Factory);
        var outcomes = new List<ScenarioOutcome>();
        foreach (var scenario in EvaluationSet.Build(quick: true))
        {
            outcomes.Add(await runner.RunAsync(scenario, CancellationToken.None));
        }

        var report = EvalReport.Of("smoke", outcomes);

        // A plain question ends its turn after the 500 ms hang-over (plus the VAD's end lag), not before, not seconds later.
        var question = outcomes.Single(o => o.Scenario.Category == "question");
        Assert.InRange(question.EndOfTurnDelay ?? -1, 300, 1200);
        Assert.False(question.CutOff);

        // A real barge-in stops the agent's audio within a few hundred milliseconds of its audible onset.
        Assert.Equal(0, report.MissedBargeInRate);
        Assert.InRange(report.BargeInLatencyP50 ?? -1, 0, 600);

        // Speech starts are decided within ~7 VAD windows of the audible onset.
        Assert.InRange(report.SpeechStartP50 ?? -1, 0, 7 * 32);
        Assert.Equal(5, report.Scenarios);
        Assert.Contains("| smoke |", report.SummaryRow(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task QuickSet_WithParleysPolicies_KeepsSpeakingThroughABackchannel_AndStillStopsForABargeIn()
    {
        var turns = new Parley.Core.Input.UserInputOptions
        {
            Vad = new Parley.Core.Turns.VadSegmenterOptions { MinSpeechDuration = TimeSpan.FromMilliseconds(96) },
            UnfinishedClauseWait = TimeSpan.FromMilliseconds(1200),
        };
        var runner = new EvalRunner(fixture.Factory, () => Parley.Core.Turns.InterruptionPolicy.Parley, () => turns);
        var outcomes = new List<ScenarioOutcome>();
        foreach (var scenario in EvaluationSet.Build(quick: true))
        {
            outcomes.Add(await runner.RunAsync(scenario, CancellationToken.None));
        }

        var report = EvalReport.Of("smoke, Parley policies", outcomes);
        var backchannel = outcomes.Single(o => o.Scenario.Category == "backchannel");
        Assert.False(backchannel.FalseBargeIn); // paused at most, never stopped
        Assert.Equal(0, report.MissedBargeInRate);
        Assert.InRange(report.BargeInLatencyP95 ?? -1, 0, 250);
        Assert.False(outcomes.Single(o => o.Scenario.Category == "pause").CutOff); // the 900 ms pause after "…a flight to"
    }
}
