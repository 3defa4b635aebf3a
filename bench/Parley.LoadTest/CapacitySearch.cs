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
    public sealed record Step(int Sessions, bool Passed, string Verdict, LoadReport Report);

    public sealed record Result(double OverheadP95TargetMs, string Measure, int? LargestPassingSessions, IReadOnlyList<Step> Steps)
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
            s.AppendLine(inv, $"Capacity search — {Measure} p95 ≤ {OverheadP95TargetMs:0} ms, no frame dropped by the server, no failed session");
            s.AppendLine("  sessions | overhead p50/p95 | after VAD end p50/p95 | VAD end p50/p95 | v2v p95 | barge-in after VAD p95 | late gaps | dropped | CPU cores | RSS/session idle | verdict");
            foreach (var step in Steps.OrderBy(x => x.Sessions))
            {
                var r = step.Report;
                var o = r.PipelineOverheadMs;
                var a = r.OverheadAfterVadEndMs;
                s.AppendLine(inv, $"  {step.Sessions,8} | {o.P50,5:0} / {o.P95,5:0}    | {a.P50,6:0} / {a.P95,6:0}       | {r.VadEndMs.P50,5:0} / {r.VadEndMs.P95,5:0}   | {r.VoiceToVoiceMs.P95,7:0} | {r.BargeInAfterVadMs.P95,22:0} | {r.LateFrameGaps,9} | {r.ServerDroppedFrames,7:0} | {r.Resources.LoadCores,9:0.00} | {r.Resources.IdleRssPerSessionMb,13:0.00} MB | {step.Verdict}");
            }

            s.AppendLine(LargestPassingSessions is { } n
                ? $"  largest N within target: {n}"
                : "  no N within target");
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

        async Task<bool> Try(int n)
        {
            log.WriteLine($"— capacity step: {n} sessions");
            var report = await LoadRun.RunAsync(template with { Sessions = n, OutFile = null }, log, cancellationToken);
            var measured = afterVadEnd ? report.OverheadAfterVadEndMs.P95 : report.PipelineOverheadMs.P95;
            var (ok, verdict) = Judge(measured, report.ServerDroppedFrames, report.FailedSessions + report.Failures.Count, targetP95Ms);
            log.WriteLine($"  {n} sessions: overhead p95 {report.PipelineOverheadMs.P95:0} ms (after VAD end {report.OverheadAfterVadEndMs.P95:0} ms), dropped {report.ServerDroppedFrames:0}, failed {report.FailedSessions} → {verdict}");
            results.Add(new Step(n, ok, verdict, report));
            return ok;
        }

        foreach (var n in steps.Order())
        {
            if (await Try(n))
            {
                pass = n;
            }
            else
            {
                fail = n;
                break;
            }
        }

        // Bisect between the last pass (or 0) and the first failure.
        var low = pass ?? 0;
        while (fail is { } high && high - low > resolution)
        {
            var mid = (low + high) / 2;
            if (await Try(mid))
            {
                low = mid;
                pass = mid;
            }
            else
            {
                fail = mid;
            }
        }

        return new Result(targetP95Ms, afterVadEnd ? "overhead after the VAD's end of speech" : "pipeline overhead", pass, results);
    }

    internal static (bool Passed, string Verdict) Judge(double? overheadP95Ms, double droppedFrames, int failures, double targetP95Ms)
    {
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

        return reasons.Count == 0 ? (true, "pass") : (false, "fail: " + string.Join(", ", reasons));
    }
}
