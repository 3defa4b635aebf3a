using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Parley.LoadTest;

/// <summary>
/// Finds the largest number of concurrent sessions at which Parley's pipeline overhead p95 stays within the target
/// and the server drops no frame: runs the load at rising N (a fresh server each time), then bisects between the
/// last passing and the first failing N.
/// </summary>
public static class CapacitySearch
{
    /// <summary>Largest share of the agent's frames that may arrive after a gap of more than 60 ms (0.1 %).</summary>
    public const double MaxLateGapShare = 0.001;

    /// <summary>How a step ended: within the targets, outside them, or no verdict (the load generator was the bottleneck).</summary>
    public enum Outcome
    {
        Pass,
        Fail,
        NoVerdict,
    }

    /// <param name="ServerCoresPerSession">Server CPU (cores, over its idle baseline) per session while they talked.</param>
    public sealed record Step(int Sessions, bool Passed, Outcome Outcome, string Verdict, double? ServerCoresPerSession, LoadReport Report);

    /// <param name="SessionsPerServerCore">
    /// At the largest passing N: sessions per core of server CPU while they talked (N ÷ the server's cores over its
    /// idle baseline), the figure that carries over to a machine with more cores.
    /// </param>
    /// <param name="NoVerdictAt">The N at which the search stopped because the load generator could not keep real time.</param>
    public sealed record Result(double OverheadP95TargetMs, string Measure, int? LargestPassingSessions, double? SessionsPerServerCore, int? NoVerdictAt, IReadOnlyList<Step> Steps)
    {
        private static readonly JsonSerializerOptions Json = new()
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        };

        public string ToJson() => JsonSerializer.Serialize(this, Json);

        public string ToTable()
        {
            var inv = CultureInfo.InvariantCulture;
            var s = new StringBuilder();
            s.AppendLine();
            s.AppendLine(inv, $"Capacity search — {Measure} p95 ≤ {OverheadP95TargetMs:0} ms, no frame dropped by the server, late gaps ≤ {MaxLateGapShare:P1} of frames, no failed session, the load generator in real time");
            s.AppendLine("  sessions | overhead p50/p95 | after VAD end p50/p95 | VAD end p50/p95 | v2v p95 | barge-in after VAD p95 | late gaps (gen.) | dropped | CPU cores | cores/session | gen. CPU | RSS/session idle | verdict");
            foreach (var step in Steps.OrderBy(x => x.Sessions))
            {
                var r = step.Report;
                var o = r.PipelineOverheadMs;
                var a = r.OverheadAfterVadEndMs;
                s.AppendLine(inv, $"  {step.Sessions,8} | {o.P50,5:0} / {o.P95,5:0}    | {a.P50,6:0} / {a.P95,6:0}       | {r.VadEndMs.P50,5:0} / {r.VadEndMs.P95,5:0}   | {r.VoiceToVoiceMs.P95,7:0} | {r.BargeInAfterVadMs.P95,22:0} | {r.LateFrameGaps,9} ({r.GeneratorLateFrameGaps,4}) | {r.ServerDroppedFrames,7:0} | {r.Resources.LoadCores,9:0.00} | {step.ServerCoresPerSession,13:0.0000} | {r.LoadGenerator.ClientCores,8:0.00} | {r.Resources.IdleRssPerSessionMb,13:0.00} MB | {step.Verdict}");
            }

            s.AppendLine(LargestPassingSessions is { } n
                ? string.Create(inv, $"  largest N within target: {n}{(SessionsPerServerCore is { } perCore ? $" ({perCore:0} sessions per core of server CPU)" : "")}")
                : "  no N within target");
            if (NoVerdictAt is { } stopped)
            {
                s.AppendLine(inv, $"  search stopped at {stopped} sessions: the load generator could not keep real time there, so the server was not measured (run the generator on other cores or another machine)");
            }
            return s.ToString();
        }
    }

    /// <param name="afterVadEnd">
    /// Judge Parley's own share (voice-to-voice after the VAD's end-of-speech decision, minus the configured vendor
    /// latencies) instead of the whole pipeline overhead, which also holds the VAD model's end-of-speech lag.
    /// </param>
    public static async Task<Result> RunAsync(LoadOptions template, IReadOnlyList<int> steps, int resolution, double targetP95Ms, bool afterVadEnd, TextWriter log, CancellationToken cancellationToken)
    {
        var results = new List<Step>();
        int? pass = null;
        int? fail = null;
        int? noVerdict = null;

        async Task<Outcome> Try(int n)
        {
            log.WriteLine($"— capacity step: {n} sessions");
            var report = await LoadRun.RunAsync(template with { Sessions = n, OutFile = null }, log, cancellationToken);
            var measured = afterVadEnd ? report.OverheadAfterVadEndMs.P95 : report.PipelineOverheadMs.P95;
            var (outcome, verdict) = Judge(measured, report.ServerDroppedFrames, report.FailedSessions + report.Failures.Count, targetP95Ms, report.LateFrameGaps, report.AgentFramesReceived, report.LoadGenerator);
            log.WriteLine($"  {n} sessions: overhead p95 {report.PipelineOverheadMs.P95:0} ms (after VAD end {report.OverheadAfterVadEndMs.P95:0} ms), dropped {report.ServerDroppedFrames:0}, failed {report.FailedSessions} → {verdict}");
            results.Add(new Step(n, outcome == Outcome.Pass, outcome, verdict, report.Resources.LoadCoresPerSession, report));
            return outcome;
        }

        foreach (var n in steps.Order())
        {
            var outcome = await Try(n);
            if (outcome == Outcome.Pass)
            {
                pass = n;
                continue;
            }

            if (outcome == Outcome.NoVerdict)
            {
                noVerdict = n;
            }
            else
            {
                fail = n;
            }

            break;
        }

        // Bisect between the last pass (or 0) and the first failure (or the first step without a verdict).
        var low = pass ?? 0;
        var high = fail ?? noVerdict;
        while (high is { } h && h - low > resolution)
        {
            var mid = (low + h) / 2;
            switch (await Try(mid))
            {
                case Outcome.Pass:
                    low = mid;
                    pass = mid;
                    break;
                case Outcome.NoVerdict:
                    noVerdict = mid;
                    high = mid;
                    break;
                default:
                    high = mid;
                    break;
            }
        }

        var best = results.FirstOrDefault(x => x.Sessions == pass && x.Passed);
        var perCore = best?.ServerCoresPerSession is { } cores && cores > 0 ? Math.Round(1 / cores, 1) : (double?)null;
        return new Result(targetP95Ms, afterVadEnd ? "overhead after the VAD's end of speech" : "pipeline overhead", pass, perCore, noVerdict, results);
    }

    /// <summary>
    /// The verdict of one step: no verdict when the load generator fell behind (it measured itself, not the server);
    /// else a pass when the measured p95 is within the target, no frame was dropped, at most
    /// <see cref="MaxLateGapShare"/> of the agent's frames came after a late gap, and nothing failed.
    /// </summary>
    internal static (Outcome Outcome, string Verdict) Judge(
        double? overheadP95Ms, double droppedFrames, int failures, double targetP95Ms, int lateGaps = 0, int framesReceived = 0, LoadGeneratorHealth? generator = null)
    {
        if (generator?.Bottleneck is { } bottleneck)
        {
            return (Outcome.NoVerdict, "no verdict: " + bottleneck);
        }

        var reasons = new List<string>();
        if (failures > 0)
        {
            reasons.Add($"{failures} failure(s)");
        }

        if (overheadP95Ms is not { } p95)
        {
            reasons.Add("no voice-to-voice sample");
        }
        else if (p95 > targetP95Ms)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"overhead p95 {p95:0} ms > {targetP95Ms:0} ms"));
        }

        if (droppedFrames > 0)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"{droppedFrames:0} frames dropped"));
        }

        if (lateGaps > 0 && lateGaps > framesReceived * MaxLateGapShare)
        {
            reasons.Add(string.Create(CultureInfo.InvariantCulture, $"{lateGaps} late gaps in {framesReceived} frames (> {MaxLateGapShare:P1})"));
        }

        return reasons.Count == 0 ? (Outcome.Pass, "pass") : (Outcome.Fail, "fail: " + string.Join(", ", reasons));
    }
}
