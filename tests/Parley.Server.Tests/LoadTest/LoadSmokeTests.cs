using Parley.LoadTest;

namespace Parley.Server.Tests.LoadTest;

/// <summary>
/// The load generator's core, run small so it cannot rot: a server process, a fake LLM, two users each asking one
/// question by voice, once with the fake DashScope vendors (the capacity runs' setup) and once with the real local
/// engines.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class LoadSmokeTests
{
    [Fact]
    public async Task FakeVendors_TwoSessionsOneTurn_EveryUserIsAnsweredInAudio_OverheadExcludesTheConfiguredLatencies()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var options = new LoadOptions
        {
            Sessions = 2,
            Turns = 1,
            BargeInShare = 0,
            LlmFirstToken = TimeSpan.FromMilliseconds(100),
            AsrFinalDelay = TimeSpan.FromMilliseconds(70),
            TtsFirstAudio = TimeSpan.FromMilliseconds(90),
            TalkStartSpread = TimeSpan.Zero,
            IdleSample = TimeSpan.FromSeconds(1),
            IdleSettle = TimeSpan.FromSeconds(1),
        };
        var report = await LoadRun.RunAsync(options, cancellationToken: timeout.Token);

        Assert.True(report.FailedSessions == 0 && report.Failures.Count == 0, string.Join("; ", report.Failures));
        Assert.Equal("fake", report.Vendors);
        Assert.Equal(2, report.VoiceToVoiceMs.Count);
        // Voice-to-voice cannot beat the VAD hang-over plus every configured vendor latency, and must answer within 10 s.
        Assert.InRange(report.VoiceToVoiceMs.P50!.Value, 500 + 100 + 70 + 90, 10_000);
        Assert.Equal(report.VoiceToVoiceMs.P50!.Value - 760, report.PipelineOverheadMs.P50!.Value, 0.2);
        Assert.True(report.AgentFramesReceived > 2 * 50, $"only {report.AgentFramesReceived} agent frames");
        Assert.Equal(0, report.ServerDroppedFrames);
        Assert.Equal(2, report.JoinMs.Count);
        Assert.Contains("asr_final", report.ServerStageMeansMs.Keys);
        Assert.Contains("fake DashScope", report.ToTable(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LocalEngines_TwoSessionsOneTurn_EveryUserIsAnsweredInAudio_WithPlausibleLatencyAndServerFigures()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var report = await LoadRun.RunAsync(
            new LoadOptions
            {
                Vendors = VendorMode.Local,
                WarmUp = false,
                Sessions = 2,
                Turns = 1,
                BargeInShare = 0,
                LlmFirstToken = TimeSpan.FromMilliseconds(100),
                TalkStartSpread = TimeSpan.Zero,
                IdleSample = TimeSpan.FromSeconds(1),
                IdleSettle = TimeSpan.FromSeconds(1),
            },
            cancellationToken: timeout.Token);

        Assert.True(report.FailedSessions == 0 && report.Failures.Count == 0, string.Join("; ", report.Failures));
        Assert.Equal(2, report.VoiceToVoiceMs.Count);
        // Voice-to-voice cannot beat the VAD hang-over plus the LLM's first token, and must answer within 10 s.
        Assert.InRange(report.VoiceToVoiceMs.P50!.Value, 500 + 100, 10_000);
        Assert.InRange(report.VoiceToVoiceMs.Max!.Value, 500 + 100, 10_000);
        Assert.Equal(report.VoiceToVoiceMs.P50!.Value - 600, report.PipelineOverheadMs.P50!.Value, 0.2);
        Assert.True(report.AgentFramesReceived > 2 * 50, $"only {report.AgentFramesReceived} agent frames");
        Assert.Equal(2, report.JoinMs.Count);
        Assert.Contains("tts_first_audio", report.ServerStageMeansMs.Keys);

        // The server ran as its own process and its memory and CPU were read from /proc.
        Assert.NotNull(report.Resources.ServerPid);
        Assert.InRange(report.Resources.IdleRssMb!.Value, 20, 8192);
        Assert.InRange(report.Resources.LoadCores!.Value, 0.001, 64);
        Assert.Contains("\"voiceToVoiceMs\"", report.ToJson(), StringComparison.Ordinal);
        Assert.Contains("REAL local engines", report.ToTable(), StringComparison.Ordinal);
    }
}
