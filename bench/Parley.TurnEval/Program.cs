using Parley.Providers.Local;
using Parley.TurnEval;

// Parley turn-taking evaluation (issue 14): `dotnet run -c Release --project bench/Parley.TurnEval [-- --quick] [--level low|medium|high] [--out FILE]`
// [--only TEXT] (scenarios whose name contains it) [--echo] (only the scenarios with the agent's echo) [--aec] (speexdsp
// echo cancellation with the played audio as its reference) [--echo-guard MS] (the interruption policy's echo guard)
// [--vad-batch-workers N] (0 = unbatched VAD, as before issue 15; default 1).
var quick = args.Contains("--quick");
var outIndex = Array.IndexOf(args, "--out");
var outFile = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : null;
var levelIndex = Array.IndexOf(args, "--level");
var level = levelIndex >= 0 && levelIndex + 1 < args.Length ? args[levelIndex + 1] : "medium";
int? levelNumber = level switch { "medium" => 0, "low" => 1, "high" => 2, _ => null };
if (levelNumber is null)
{
    Console.Error.WriteLine($"--level must be low, medium or high, got '{level}'");
    return 2;
}

// The contract's VAD object, mapped as an instance maps it (ZegoConfig.ToTurnOptions).
var vadObject = new System.Text.Json.Nodes.JsonObject
{
    ["VoiceDetectConfig"] = new System.Text.Json.Nodes.JsonObject { ["SensitiveConfig"] = new System.Text.Json.Nodes.JsonObject { ["Level"] = levelNumber } },
};
var turnOptions = Parley.Server.Zego.ZegoConfig.ToTurnOptions(null, vadObject);
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

Console.WriteLine("making the evaluation set (flite, espeak-ng, sox) …");
var onlyIndex = Array.IndexOf(args, "--only");
var echoOnly = args.Contains("--echo");
var scenarios = EvaluationSet.Build(quick)
    .Where(s => onlyIndex < 0 || s.Name.Contains(args[onlyIndex + 1], StringComparison.Ordinal))
    .Where(s => !echoOnly || s.Echo)
    .ToList();
var aec = args.Contains("--aec");
var guardIndex = Array.IndexOf(args, "--echo-guard");
var workersIndex = Array.IndexOf(args, "--vad-batch-workers"); // 0 = unbatched (before issue 15), default 1
var workers = workersIndex >= 0 && workersIndex + 1 < args.Length ? int.Parse(args[workersIndex + 1], System.Globalization.CultureInfo.InvariantCulture) : 1;
using var vad = new SileroVadFactory(options: new SileroVadOptions { BatchWorkers = workers });
var interruption = Parley.Server.Zego.ZegoConfig.ToInterruptionPolicy(0, null, vadObject);
if (guardIndex >= 0 && guardIndex + 1 < args.Length)
{
    interruption = interruption with { EchoGuard = TimeSpan.FromMilliseconds(int.Parse(args[guardIndex + 1], System.Globalization.CultureInfo.InvariantCulture)) };
}

var runner = new EvalRunner(vad, () => interruption, () => turnOptions, aec ? () => [new SpeexEchoCanceller()] : null);
// One untimed scenario first: the first one pays the model's load and the JIT, in real time the clock must wait for.
await runner.RunAsync(scenarios[0], cancel.Token);
var outcomes = new List<ScenarioOutcome>();
var clock = System.Diagnostics.Stopwatch.StartNew();
foreach (var scenario in scenarios)
{
    outcomes.Add(await runner.RunAsync(scenario, cancel.Token));
    Console.WriteLine($"  [{outcomes.Count}/{scenarios.Count}, {clock.Elapsed.TotalSeconds:0} s] {scenario.Category}: {scenario.Name}");
}

var report = EvalReport.Of(
    $"VAD level {level} ({turnOptions.Vad.ActivationThreshold:0.##} / {turnOptions.Vad.MinSpeechDuration.TotalMilliseconds:0} ms, "
    + $"interruption {interruption.MinSpeech.TotalMilliseconds:0} ms / {interruption.MinWords} word(s) / backchannels / echo guard {interruption.EchoGuard.TotalMilliseconds:0} ms, "
    + $"unfinished clause {turnOptions.UnfinishedClauseWait?.TotalMilliseconds:0} ms{(aec ? ", speexdsp AEC" : "")})",
    outcomes);
var table = report.ToTable();
Console.WriteLine();
Console.WriteLine(table);
if (outFile is not null)
{
    await File.WriteAllTextAsync(outFile, table, cancel.Token);
}

return 0;
