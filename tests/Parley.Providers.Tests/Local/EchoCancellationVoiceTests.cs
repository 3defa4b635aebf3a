using Microsoft.Extensions.Configuration;
using Parley.Core.Turns;
using Parley.Server.Rooms;
using Parley.TurnEval;
using Xunit;
using Xunit.Abstractions;

namespace Parley.Providers.Tests.Local;

/// <summary>
/// The agent's own voice leaking back into the microphone (bench/Parley.TurnEval's echo: what the sink played, 60 ms
/// later at −20 dB) through the whole voice loop with the real Silero VAD on a fake clock, with the server's echo
/// cancellation setting (<c>Parley:Turns:EchoCancellation</c>, bound as the server binds it) on and off. The policy is
/// the most permissive one (any confirmed speech interrupts, no words needed), so only the audio decides.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class EchoCancellationVoiceTests(SileroVadFixture vad, ITestOutputHelper output) : IClassFixture<SileroVadFixture>
{
    // The canceller starts from nothing each session: the guard's longer minimum covers its convergence (~1–1.5 s).
    private static readonly InterruptionPolicy AnySpeech = InterruptionPolicy.Default with
    {
        EchoGuard = TimeSpan.FromSeconds(1),
        EchoGuardMinSpeech = TimeSpan.FromMilliseconds(1500),
    };

    private static Scenario OwnVoice => EvaluationSet.Build().Single(s => s.Category == "echo");

    [Fact]
    public async Task OwnVoice_WithSpeex_NeverInterruptsNorPausesTheAgent()
    {
        var outcome = await RunAsync("Speex", AnySpeech, OwnVoice);

        Assert.Null(outcome.FirstInterruption);
        Assert.Null(outcome.FirstClear);
        Assert.Null(outcome.FirstPause);
    }

    [Fact]
    public async Task OwnVoice_WithoutEchoCancellation_InterruptsTheAgent()
    {
        // The echo outlasts the guard's minimum, or starts again after the guard (measured over 40 runs: 2.0–5.3 s into
        // the scenario, depending on where the VAD's echo utterances break between the reply's sentences). It once never
        // came when flite's first synthesis of a sentence (the clip cache starts cold in each process) let the fake
        // clock run on; the runner now holds the clock while flite runs.
        var outcome = await RunAsync("None", AnySpeech, OwnVoice);

        Assert.True(outcome.FalseBargeIn);
        Assert.NotNull(outcome.FirstInterruption);
    }

    [Fact]
    public async Task OwnVoice_WithSpeexButNoEchoGuard_InterruptsAtTheReplysOnset()
    {
        // The limit: before the filter has converged the echo is speech to the VAD, so the guard stays needed.
        var outcome = await RunAsync("Speex", InterruptionPolicy.Default, OwnVoice);

        Assert.True(outcome.FalseBargeIn);
        Assert.InRange(outcome.FirstInterruption ?? -1, 0, 1000);
    }

    [Fact]
    public async Task BargeInsOverTheEcho_WithSpeex_StillStopTheAgentPromptly()
    {
        var outcomes = new List<ScenarioOutcome>();
        foreach (var scenario in EvaluationSet.Build().Where(s => s.Echo && s.Expect == Expect.Interrupt))
        {
            outcomes.Add(await RunAsync("Speex", InterruptionPolicy.Parley, scenario));
        }

        var report = EvalReport.Of("speex", outcomes);
        output.WriteLine(report.SummaryRow());
        Assert.Equal(5, report.Scenarios);
        Assert.Equal(0, report.FalseBargeInRate);
        Assert.Equal(0, report.MissedBargeInRate);
        Assert.InRange(report.BargeInLatencyP95 ?? -1, 0, 300);
    }

    [Fact]
    public void Setting_BadValue_FailsNamingTheKey()
    {
        var settings = Bind("Loud");
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => settings.ProcessorFactory());
        Assert.Contains("Parley:Turns:EchoCancellation", error.Message, StringComparison.Ordinal);
        Assert.Contains("Loud", error.Message, StringComparison.Ordinal);
    }

    private async Task<ScenarioOutcome> RunAsync(string mode, InterruptionPolicy policy, Scenario scenario)
    {
        var runner = new EvalRunner(vad.Factory, () => policy, processors: Bind(mode).ProcessorFactory());
        var outcome = await runner.RunAsync(scenario, CancellationToken.None);
        output.WriteLine($"{mode}, {scenario.Name}: interrupted {outcome.FirstInterruption?.ToString() ?? "-"} ms, paused {outcome.FirstPause?.ToString() ?? "-"} ms");
        return outcome;
    }

    private static EchoCancellationSettings Bind(string mode) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [EchoCancellationSettings.ModeKey] = mode })
            .Build()
            .GetSection(EchoCancellationSettings.SectionName)
            .Get<EchoCancellationSettings>()!;
}
