using Parley.Providers.Local;
using Parley.TurnEval;

// Parley turn-taking evaluation (issue 14): `dotnet run -c Release --project bench/Parley.TurnEval [-- --quick] [--out FILE]`.
var quick = args.Contains("--quick");
var outIndex = Array.IndexOf(args, "--out");
var outFile = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : null;
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

Console.WriteLine("making the evaluation set (flite, espeak-ng, sox) …");
var scenarios = EvaluationSet.Build(quick);
using var vad = new SileroVadFactory();
var runner = new EvalRunner(vad);
var outcomes = new List<ScenarioOutcome>();
var clock = System.Diagnostics.Stopwatch.StartNew();
foreach (var scenario in scenarios)
{
    outcomes.Add(await runner.RunAsync(scenario, cancel.Token));
    Console.WriteLine($"  [{outcomes.Count}/{scenarios.Count}, {clock.Elapsed.TotalSeconds:0} s] {scenario.Category}: {scenario.Name}");
}

var report = EvalReport.Of("today's defaults (silence 500 ms, barge-in at the VAD's speech start)", outcomes);
var table = report.ToTable();
Console.WriteLine();
Console.WriteLine(table);
if (outFile is not null)
{
    await File.WriteAllTextAsync(outFile, table, cancel.Token);
}

return 0;
