using System.Globalization;
using System.Text;

namespace Parley.TurnEval;

/// <summary>The evaluation's figures over all scenarios (issue 14's measures), and a table per scenario.</summary>
internal sealed record EvalReport(
    string Label,
    int Scenarios,
    double FalseCutOffRate,
    int PausedTurns,
    double? EndOfTurnP50,
    double? EndOfTurnP95,
    int TurnsNeverEnded,
    double FalseBargeInRate,
    int KeepSpeakingScenarios,
    double MissedBargeInRate,
    int BargeInScenarios,
    double? BargeInLatencyP50,
    double? BargeInLatencyP95,
    double? SpeechStartP50,
    double? SpeechStartP95,
    IReadOnlyList<ScenarioOutcome> Outcomes)
{
    /// <summary>Scenarios where the agent paused (and resumed) for something that was not a real barge-in.</summary>
    public double FalsePauseRate => Rate(Outcomes.Count(o => o.FalsePause), KeepSpeakingScenarios);

    /// <summary>Median length of those false pauses.</summary>
    public double? FalsePauseP50 => Percentile([.. Outcomes.Where(o => o.FalsePause).Select(o => o.PausedMs)], 0.50);

    /// <summary>A real barge-in counts as missed when the agent has not stopped this long after its onset.</summary>
    public const double MissedAfterMs = 2000;

    public static EvalReport Of(string label, IReadOnlyList<ScenarioOutcome> outcomes)
    {
        var paused = outcomes.Where(o => o.Scenario.Category == "pause").ToList();
        var keep = outcomes.Where(o => o.Scenario.AgentSpeaks).ToList();
        var bargeIns = outcomes.Where(o => o.BargeInJudged).ToList();
        var latencies = bargeIns.Where(o => o.BargeInLatency is not null).Select(o => o.BargeInLatency!.Value).ToList();
        var eot = outcomes.Select(o => o.EndOfTurnDelay).Where(d => d is not null).Select(d => d!.Value).ToList();
        // Speech start over scenarios without the echo: with it, the VAD is already in (echo) speech when the user begins.
        var starts = outcomes.Where(o => !o.Scenario.Echo).Select(o => o.SpeechStartLatency).Where(d => d is not null).Select(d => d!.Value).ToList();
        return new EvalReport(
            label,
            outcomes.Count,
            Rate(paused.Count(o => o.CutOff), paused.Count),
            paused.Count,
            Percentile(eot, 0.50),
            Percentile(eot, 0.95),
            outcomes.Count(o => o.TurnNeverEnded),
            Rate(keep.Count(o => o.FalseBargeIn), keep.Count),
            keep.Count,
            Rate(bargeIns.Count - latencies.Count, bargeIns.Count),
            bargeIns.Count,
            Percentile(latencies, 0.50),
            Percentile(latencies, 0.95),
            Percentile(starts, 0.50),
            Percentile(starts, 0.95),
            outcomes);
    }

    /// <summary>The one-row summary in the shape of docs/benchmarks.md's table.</summary>
    public string SummaryRow() => string.Create(
        CultureInfo.InvariantCulture,
        $"| {Label} | {FalseCutOffRate:P0} ({PausedTurns}) | {Ms(EndOfTurnP50)} / {Ms(EndOfTurnP95)} | {TurnsNeverEnded} | {FalseBargeInRate:P0} ({KeepSpeakingScenarios}) | {MissedBargeInRate:P0} ({BargeInScenarios}) | {Ms(BargeInLatencyP50)} / {Ms(BargeInLatencyP95)} | {Ms(SpeechStartP50)} / {Ms(SpeechStartP95)} | {FalsePauseRate:P0} ({Ms(FalsePauseP50)}) |");

    public const string SummaryHeader =
        "| policy | false cut-off (paused turns) | end-of-turn delay p50 / p95 | turns never ended | false barge-in (scenarios with the agent speaking) | missed barge-in (judged) | barge-in latency p50 / p95 (onset → audio stops) | speech start p50 / p95 (after audible onset, no echo) | false pause, resumed (median length) |\n|---|---|---|---|---|---|---|---|---|";

    public string ToTable()
    {
        var s = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        s.AppendLine(inv, $"Turn-taking evaluation — {Label}, {Scenarios} scenarios");
        foreach (var o in Outcomes)
        {
            var verdict = o.Scenario.Expect switch
            {
                Expect.OneTurn => o.CutOff ? "CUT OFF in the pause" : o.TurnNeverEnded ? "TURN NEVER ENDED" : $"turn end +{Ms(o.EndOfTurnDelay)}",
                _ when o.FalseBargeIn => $"FALSE BARGE-IN at {o.Stopped:0} ms",
                _ when o.FalsePause => $"kept speaking, paused at {o.FirstPause:0} ms for {o.PausedMs:0} ms",
                Expect.KeepSpeaking => "kept speaking",
                _ => o.BargeInLatency is { } l ? $"stopped +{l:0} ms" : "MISSED",
            };
            s.AppendLine(inv, $"  {o.Scenario.Category,-11} {o.Scenario.Name,-62} speech start +{Ms(o.SpeechStartLatency),-7} {verdict}");
        }

        s.AppendLine();
        s.AppendLine(SummaryHeader);
        s.AppendLine(SummaryRow());
        return s.ToString();
    }

    private static string Ms(double? value) => value is { } v ? string.Create(CultureInfo.InvariantCulture, $"{v:0} ms") : "n/a";

    private static double Rate(int count, int of) => of == 0 ? 0 : (double)count / of;

    private static double? Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return null;
        }

        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
