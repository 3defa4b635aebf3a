using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Parley.LoadTest;

/// <summary>The server process's CPU and memory samples around a run.</summary>
internal sealed record ServerUsage(
    int? Pid,
    ProcessSample? Baseline,
    ProcessSample? BaselineEnd,
    ProcessSample? Idle,
    ProcessSample? IdleEnd,
    ProcessSample? LoadStart,
    ProcessSample? LoadEnd,
    long PeakRssBytes);

/// <summary>
/// Whether the load generator kept up: its microphone clock's late ticks (of <paramref name="ClockTicks"/>, one per
/// 20 ms), the largest lateness of a tick, frames that waited for the previous send, and the generator's own CPU
/// (cores) while the users talked. A generator that fell behind measured itself, not the server: see
/// <see cref="Bottleneck"/>.
/// </summary>
public sealed record LoadGeneratorHealth(long LateClockTicks, int QueuedSends, long ClockTicks = 0, double MaxClockLagMs = 0, double? ClientCores = null)
{
    /// <summary>Share of late ticks above which the generator did not keep real time (0.5 %).</summary>
    public const double MaxLateShare = 0.005;

    /// <summary>A single tick later than this (ms) means the generator stalled (a whole VAD window of user audio late).</summary>
    public const double MaxLagMsAllowed = 100;

    /// <summary>Stalls of the generator itself (a tick ≥ 20 ms late, or a GC pause of ≥ 20 ms between two ticks).</summary>
    public int Stalls { get; init; }

    /// <summary>The generator's own GC pauses during the run, in all (ms).</summary>
    public double GcPauseMs { get; init; }

    /// <summary>Why the load generator, not the server, limited this run; null when it kept real time.</summary>
    public string? Bottleneck
    {
        get
        {
            var reasons = new List<string>();
            if (ClockTicks > 0 && LateClockTicks > ClockTicks * MaxLateShare)
            {
                reasons.Add(string.Create(CultureInfo.InvariantCulture, $"{LateClockTicks} of {ClockTicks} microphone ticks late (> {MaxLateShare:P1})"));
            }

            if (MaxClockLagMs > MaxLagMsAllowed)
            {
                reasons.Add(string.Create(CultureInfo.InvariantCulture, $"a microphone tick {MaxClockLagMs:0} ms late (> {MaxLagMsAllowed:0} ms)"));
            }

            if (QueuedSends > 0)
            {
                reasons.Add(string.Create(CultureInfo.InvariantCulture, $"{QueuedSends} frames waited for the previous send"));
            }

            return reasons.Count == 0 ? null : "the load generator did not keep real time: " + string.Join(", ", reasons);
        }
    }
}

/// <summary>Percentiles of one measure (milliseconds). Null fields when there were no samples.</summary>
public sealed record Percentiles(int Count, double? P50, double? P95, double? P99, double? Max)
{
    public static Percentiles Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return new Percentiles(0, null, null, null, null);
        }

        double At(double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new Percentiles(sorted.Length, Math.Round(At(0.50), 1), Math.Round(At(0.95), 1), Math.Round(At(0.99), 1), Math.Round(sorted[^1], 1));
    }

    public override string ToString() => Count == 0
        ? "n/a (no samples)"
        : string.Create(CultureInfo.InvariantCulture, $"p50 {P50:0} ms, p95 {P95:0} ms, p99 {P99:0} ms, max {Max:0} ms (n={Count})");
}

/// <summary>CPU (share of one core) and resident memory of the server process.</summary>
public sealed record ResourceFigures(
    int? ServerPid,
    double? BaselineRssMb,
    double? BaselineCores,
    double? IdleRssMb,
    double? IdleCores,
    double? IdleRssPerSessionMb,
    double? IdleCoresPerSession,
    double? LoadCores,
    double? LoadCoresPerSession,
    double? PeakRssMb,
    double? LoadRssPerSessionMb);

/// <summary>What a load run measured. Serialised as the JSON report.</summary>
public sealed record LoadReport
{
    public required string Engines { get; init; }

    public required string Machine { get; init; }

    public required DateTimeOffset FinishedAt { get; init; }

    public required int Sessions { get; init; }

    public required int TurnsPerSession { get; init; }

    public required double BargeInShare { get; init; }

    public required double LlmFirstTokenMs { get; init; }

    public required double LlmTokenIntervalMs { get; init; }

    public required int VadSilenceMs { get; init; }

    public required double QuestionSpeechMs { get; init; }

    public required int FailedSessions { get; init; }

    public required IReadOnlyList<string> Failures { get; init; }

    /// <summary>End of the user's speech audio sent → first agent audio frame received.</summary>
    public required Percentiles VoiceToVoiceMs { get; init; }

    public required string Vendors { get; init; }

    public required double AsrFinalDelayMs { get; init; }

    public required double TtsFirstAudioMs { get; init; }

    /// <summary>
    /// Voice-to-voice minus the VAD hang-over, the LLM's first-token latency and (fake vendors) the configured ASR final
    /// and TTS first-audio latencies: what Parley itself adds. With the local engines ASR and TTS stay inside it.
    /// </summary>
    public required Percentiles PipelineOverheadMs { get; init; }

    /// <summary>Local engines only: overhead minus the server-reported mean flite first-audio time (an estimate: a mean subtracted from each turn).</summary>
    public required Percentiles OverheadWithoutTtsMs { get; init; }

    /// <summary>End of speech sent → the VAD's end of speech (Cmd 1 SpeakStatus=2) received: the hang-over plus the VAD's lag.</summary>
    public required Percentiles VadEndMs { get; init; }

    /// <summary>Voice-to-voice minus <see cref="VadEndMs"/> per turn: from the end-of-turn decision to the first agent frame, minus the configured vendor latencies.</summary>
    public required Percentiles OverheadAfterVadEndMs { get; init; }

    /// <summary>User speech start sent → last agent audio frame received.</summary>
    public required Percentiles BargeInMs { get; init; }

    /// <summary>Cmd 1 (VAD speech start) received → last agent audio frame received (negative: audio stopped before the message arrived).</summary>
    public required Percentiles BargeInAfterVadMs { get; init; }

    /// <summary>User speech start sent → Cmd 1 (VAD speech start) received, questions asked while the agent is silent.</summary>
    public required Percentiles VadStartMs { get; init; }

    /// <summary>Interruption start sent → Cmd 1 received, while the agent talks.</summary>
    public required Percentiles InterruptionVadStartMs { get; init; }

    /// <summary>CreateAgentInstance sent → the agent's stream announced in the room.</summary>
    public required Percentiles JoinMs { get; init; }

    public required int AgentFramesReceived { get; init; }

    /// <summary>Gaps of more than 60 ms between two frames inside one agent utterance, but for those in <see cref="GeneratorLateFrameGaps"/>.</summary>
    public required int LateFrameGaps { get; init; }

    /// <summary>Gaps of more than 60 ms that fell in (or just after) a stall of the load generator itself: not the server's.</summary>
    public int GeneratorLateFrameGaps { get; init; }

    public required double MaxFrameGapMs { get; init; }

    /// <summary>Audio frames the server's room dropped during the run (bounded queues, drop-oldest), from its /metrics.</summary>
    public required double ServerDroppedFrames { get; init; }

    public required LoadGeneratorHealth LoadGenerator { get; init; }

    /// <summary>Server-reported mean of each <c>parley_turn_stage_seconds</c> stage during the run (ms).</summary>
    public required IReadOnlyDictionary<string, double> ServerStageMeansMs { get; init; }

    public required ResourceFigures Resources { get; init; }

    public required IReadOnlyList<TurnResult> Turns { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    internal static LoadReport Build(
        LoadOptions options,
        SpeechVendors vendors,
        IReadOnlyList<TurnResult> turns,
        IReadOnlyList<string> sessionErrors,
        IReadOnlyList<double> joins,
        Dictionary<string, double> stages,
        double droppedFrames,
        LoadGeneratorHealth health,
        ServerUsage usage,
        double questionMs)
    {
        var llm = options.LlmFirstToken.TotalMilliseconds;
        var v2v = turns.Where(t => t.VoiceToVoiceMs is not null).Select(t => t.VoiceToVoiceMs!.Value).ToList();
        var overhead = v2v.Select(v => v - options.VadSilenceMs - llm - vendors.FixedVendorLatencyMs).ToList();
        var tts = vendors.Mode == VendorMode.Local && stages.TryGetValue("tts_first_audio", out var t) ? t : (double?)null;
        var n = options.Sessions;
        static double Mb(long bytes) => Math.Round(bytes / 1048576.0, 1);
        double? Cores(ProcessSample? from, ProcessSample? to) => from is { } f && to is { } e ? Math.Round(e.CoresSince(f), 3) : null;
        var baselineCores = Cores(usage.Baseline, usage.BaselineEnd);
        var idleCores = Cores(usage.Idle, usage.IdleEnd);
        var loadCores = Cores(usage.LoadStart, usage.LoadEnd);
        var resources = new ResourceFigures(
            usage.Pid,
            usage.Baseline is { } b ? Mb(b.RssBytes) : null,
            baselineCores,
            usage.IdleEnd is { } i ? Mb(i.RssBytes) : null,
            idleCores,
            usage.IdleEnd is { } i2 && usage.Baseline is { } b2 ? Math.Round((i2.RssBytes - b2.RssBytes) / 1048576.0 / n, 2) : null,
            idleCores is { } ic && baselineCores is { } bc ? Math.Round((ic - bc) / n, 4) : null,
            loadCores,
            loadCores is { } lc && baselineCores is { } bc2 ? Math.Round((lc - bc2) / n, 4) : null,
            usage.PeakRssBytes > 0 ? Mb(usage.PeakRssBytes) : null,
            usage.PeakRssBytes > 0 && usage.Baseline is { } b3 ? Math.Round((usage.PeakRssBytes - b3.RssBytes) / 1048576.0 / n, 2) : null);
        var failures = sessionErrors.Concat(turns.Where(x => x.Error is not null).Select(x => $"session {x.Session} turn {x.Turn} ({x.Kind}): {x.Error}")).ToList();
        return new LoadReport
        {
            Engines = vendors.Description,
            Vendors = vendors.Mode == VendorMode.Fake ? (vendors.Family == "dashscope" ? "fake" : "fake " + vendors.Family) : "local",
            AsrFinalDelayMs = vendors.Mode == VendorMode.Fake ? options.AsrFinalDelay.TotalMilliseconds : 0,
            TtsFirstAudioMs = vendors.Mode == VendorMode.Fake ? options.TtsFirstAudio.TotalMilliseconds : 0,
            Machine = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}",
            FinishedAt = DateTimeOffset.UtcNow,
            Sessions = n,
            TurnsPerSession = options.Turns,
            BargeInShare = options.BargeInShare,
            LlmFirstTokenMs = llm,
            LlmTokenIntervalMs = options.LlmTokenInterval.TotalMilliseconds,
            VadSilenceMs = options.VadSilenceMs,
            QuestionSpeechMs = Math.Round(questionMs),
            FailedSessions = sessionErrors.Count,
            Failures = failures,
            VoiceToVoiceMs = Percentiles.Of(v2v),
            PipelineOverheadMs = Percentiles.Of(overhead),
            OverheadWithoutTtsMs = tts is { } tm ? Percentiles.Of(overhead.Select(o => o - tm)) : Percentiles.Of([]),
            BargeInMs = Percentiles.Of(turns.Where(x => x.BargeInMs is not null).Select(x => x.BargeInMs!.Value)),
            BargeInAfterVadMs = Percentiles.Of(turns.Where(x => x.BargeInAfterVadMs is not null).Select(x => x.BargeInAfterVadMs!.Value)),
            JoinMs = Percentiles.Of(joins),
            VadStartMs = Percentiles.Of(turns.Where(x => x.VadStartMs is not null).Select(x => x.VadStartMs!.Value)),
            VadEndMs = Percentiles.Of(turns.Where(x => x.VadEndMs is not null).Select(x => x.VadEndMs!.Value)),
            OverheadAfterVadEndMs = Percentiles.Of(turns.Where(x => x.VadEndMs is not null && x.VoiceToVoiceMs is not null)
                .Select(x => x.VoiceToVoiceMs!.Value - x.VadEndMs!.Value - llm - vendors.FixedVendorLatencyMs)),
            InterruptionVadStartMs = Percentiles.Of(turns.Where(x => x.InterruptionVadStartMs is not null).Select(x => x.InterruptionVadStartMs!.Value)),
            AgentFramesReceived = turns.Sum(x => x.AgentFrames),
            LateFrameGaps = turns.Sum(x => x.LateGaps),
            GeneratorLateFrameGaps = turns.Sum(x => x.GeneratorLateGaps),
            MaxFrameGapMs = Math.Round(turns.Select(x => x.MaxGapMs).DefaultIfEmpty(0).Max(), 1),
            ServerDroppedFrames = droppedFrames,
            LoadGenerator = health,
            ServerStageMeansMs = stages.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 1)),
            Resources = resources,
            Turns = turns,
        };
    }

    /// <summary>The <c>idle</c> mode's table: what N connected, silent sessions cost the server.</summary>
    public string ToIdleTable()
    {
        var s = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        var r = Resources;
        s.AppendLine();
        s.AppendLine("Parley idle sessions — " + Engines);
        s.AppendLine(inv, $"{Sessions} session(s) connected and silent; {Machine}");
        s.AppendLine(inv, $"  failed sessions          {FailedSessions}");
        s.AppendLine(inv, $"  instance join            {JoinMs}");
        s.AppendLine(inv, $"  server CPU (cores)       baseline {r.BaselineCores}, with the sessions {r.IdleCores}: {r.IdleCoresPerSession} per idle session");
        s.AppendLine(inv, $"  server RSS               baseline {r.BaselineRssMb} MB, with the sessions {r.IdleRssMb} MB: {r.IdleRssPerSessionMb} MB per idle session");
        s.AppendLine(inv, $"  load generator           {LoadGenerator.LateClockTicks} of {LoadGenerator.ClockTicks} microphone ticks late (max {LoadGenerator.MaxClockLagMs:0} ms){(LoadGenerator.Bottleneck is { } b ? " — " + b : "")}");
        foreach (var failure in Failures)
        {
            s.AppendLine("  ! " + failure);
        }

        return s.ToString();
    }

    public string ToTable()
    {
        var s = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        s.AppendLine();
        s.AppendLine("Parley load run — " + Engines);
        s.AppendLine(inv, $"{Sessions} session(s) × {TurnsPerSession} turn(s), barge-in share {BargeInShare:0.##}, LLM first token {LlmFirstTokenMs:0} ms (+{LlmTokenIntervalMs:0} ms/token), VAD hang-over {VadSilenceMs} ms; {Machine}");
        s.AppendLine(inv, $"  failed sessions          {FailedSessions}");
        s.AppendLine(inv, $"  voice-to-voice           {VoiceToVoiceMs}");
        if (Vendors.StartsWith("fake", StringComparison.Ordinal))
        {
            s.AppendLine(inv, $"  pipeline overhead        {PipelineOverheadMs}   (v2v − {VadSilenceMs} ms VAD − {LlmFirstTokenMs:0} ms LLM − {AsrFinalDelayMs:0} ms ASR − {TtsFirstAudioMs:0} ms TTS)");
        }
        else
        {
            s.AppendLine(inv, $"  pipeline overhead        {PipelineOverheadMs}   (v2v − {VadSilenceMs} ms VAD − {LlmFirstTokenMs:0} ms LLM; includes ASR final + flite TTS)");
            s.AppendLine(inv, $"  overhead without TTS     {OverheadWithoutTtsMs}   (minus the server's mean tts_first_audio)");
        }

        s.AppendLine(inv, $"  VAD end of speech        {VadEndMs}   (speech end sent → Cmd 1 SpeakStatus 2: {VadSilenceMs} ms hang-over + VAD lag)");
        s.AppendLine(inv, $"  overhead after VAD end   {OverheadAfterVadEndMs}   (v2v − VAD end − configured LLM/ASR/TTS latencies: the server's own share)");
        s.AppendLine(inv, $"  barge-in                 {BargeInMs}   (speech start sent → agent audio stops)");
        s.AppendLine(inv, $"  barge-in after VAD start {BargeInAfterVadMs}");
        s.AppendLine(inv, $"  VAD speech start         {VadStartMs}   (speech start sent → Cmd 1, agent silent)");
        s.AppendLine(inv, $"  VAD start over agent     {InterruptionVadStartMs}   (interruption start sent → Cmd 1)");
        s.AppendLine(inv, $"  instance join           {JoinMs}   (CreateAgentInstance → agent stream in room)");
        s.AppendLine(inv, $"  agent frames             {AgentFramesReceived} received, {LateFrameGaps} gaps > 60 ms (+{GeneratorLateFrameGaps} in the generator's own stalls, not counted), max gap {MaxFrameGapMs:0} ms; server dropped {ServerDroppedFrames:0}");
        s.AppendLine(inv, $"  load generator           {LoadGenerator.LateClockTicks} of {LoadGenerator.ClockTicks} microphone ticks late (max {LoadGenerator.MaxClockLagMs:0} ms), {LoadGenerator.Stalls} stalls (GC pauses {LoadGenerator.GcPauseMs:0} ms in all), {LoadGenerator.QueuedSends} queued sends, own CPU {LoadGenerator.ClientCores?.ToString("0.00", inv) ?? "n/a"} cores{(LoadGenerator.Bottleneck is { } b ? " — " + b : " — kept real time")}");
        s.AppendLine("  server stage means (ms)  " + string.Join(", ", ServerStageMeansMs.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => string.Create(inv, $"{kv.Key} {kv.Value:0.#}"))));
        var r = Resources;
        s.AppendLine(inv, $"  server RSS               baseline {r.BaselineRssMb} MB, idle with {Sessions} session(s) {r.IdleRssMb} MB ({r.IdleRssPerSessionMb} MB/session), peak under load {r.PeakRssMb} MB ({r.LoadRssPerSessionMb} MB/session)");
        s.AppendLine(inv, $"  server CPU (cores)       baseline {r.BaselineCores}, idle {r.IdleCores} ({r.IdleCoresPerSession}/session), load {r.LoadCores} ({r.LoadCoresPerSession}/session)");
        foreach (var failure in Failures)
        {
            s.AppendLine("  ! " + failure);
        }

        return s.ToString();
    }
}
