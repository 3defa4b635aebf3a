using System.Diagnostics;
using System.Net.Http.Json;
using Parley.LoadTest;
using Parley.Testing.FakeLlm;
using Parley.Testing.Speech;

namespace Parley.Server.Tests.LoadTest;

/// <summary>The load generator's parts: options, utterance/gap analysis, percentiles, the fake LLM's fixed latency.</summary>
public sealed class LoadGeneratorPartsTests
{
    [Fact]
    public void Parse_DocumentedCommand_SetsEveryOption()
    {
        var options = LoadOptions.Parse(["--sessions", "4", "--turns", "3", "--barge-in", "0.3", "--llm-first-token-ms", "200", "--out", "r.json"]);
        Assert.Equal(VendorMode.Fake, options.Vendors);
        Assert.Equal(4, options.Sessions);
        Assert.Equal(3, options.Turns);
        Assert.Equal(0.3, options.BargeInShare);
        Assert.Equal(TimeSpan.FromMilliseconds(200), options.LlmFirstToken);
        Assert.Equal("r.json", options.OutFile);
    }

    [Fact]
    public void Parse_VendorOptions()
    {
        var options = LoadOptions.Parse(["--vendors", "local", "--asr-final-ms", "80", "--tts-first-audio-ms", "120", "--talk-spread-ms", "0"]);
        Assert.Equal(VendorMode.Local, options.Vendors);
        Assert.Equal(TimeSpan.FromMilliseconds(80), options.AsrFinalDelay);
        Assert.Equal(TimeSpan.FromMilliseconds(120), options.TtsFirstAudio);
        Assert.Equal(TimeSpan.Zero, options.TalkStartSpread);
    }

    [Fact]
    public void Parse_ServerEnvironment_IsRepeatable_AndKeepsAnEqualsInTheValue()
    {
        var options = LoadOptions.Parse(["--server-env", "DOTNET_GCgen0size=0x4000000", "--server-env", "X=a=b"]);
        Assert.Equal([new("DOTNET_GCgen0size", "0x4000000"), new("X", "a=b")], options.ServerEnvironment);
    }

    [Theory]
    [InlineData("--vendors", "cloud", "--vendors")]
    [InlineData("--sessions", "0", "--sessions")]
    [InlineData("--barge-in", "1.5", "--barge-in")]
    [InlineData("--bogus", "1", "--bogus")]
    [InlineData("--server-env", "=1", "--server-env")]
    public void Parse_BadValue_NamesTheOption(string name, string value, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => LoadOptions.Parse([name, value]));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Utterance_CountsGapsOver60Ms_AndEndsAtALongSilence()
    {
        long Ms(double ms) => (long)(ms * Stopwatch.Frequency / 1000);
        var arrivals = new[] { 0.0, 20, 40, 130, 150, 170, 600, 620 };
        var frames = arrivals.Select(a => Ms(1000 + a)).ToList();

        var stats = LoadRun.Utterance(frames, Ms(1000));

        Assert.Equal(6, stats.Frames);
        Assert.Equal(1, stats.LateGaps);
        Assert.Equal(90, stats.MaxGapMs, 0.5);
        Assert.Equal(Ms(1170), stats.LastTicks);
    }

    [Fact]
    public void Utterance_OnABargeInTurn_CountsOnlyTheGapsBeforeTheUsersOnset()
    {
        long Ms(double ms) => (long)(ms * Stopwatch.Frequency / 1000);
        // A 90 ms gap before the user talks over the answer (at 1100 ms), a 250 ms pause after it, then a stop.
        var arrivals = new[] { 0.0, 20, 110, 130, 380, 400, 900 };
        var frames = arrivals.Select(a => Ms(1000 + a)).ToList();

        var stats = LoadRun.Utterance(frames, Ms(1000), lateUntilTicks: Ms(1100));

        Assert.Equal(6, stats.Frames);
        Assert.Equal(1, stats.LateGaps);
        Assert.Equal(250, stats.MaxGapMs, 0.5);
        Assert.Equal(2, LoadRun.Utterance(frames, Ms(1000)).LateGaps);
    }

    [Fact]
    public void Utterance_LaysAGapInTheGeneratorsOwnStall_ToTheGenerator()
    {
        long Ms(double ms) => (long)(ms * Stopwatch.Frequency / 1000);
        // Two 90 ms gaps: the first while the generator itself was stalled (its GC), the second 100+ ms after it.
        var arrivals = new[] { 0.0, 20, 110, 130, 150, 170, 190, 210, 230, 250, 270, 360, 380 };
        var frames = arrivals.Select(a => Ms(1000 + a)).ToList();
        var generator = new MicrophoneClock();
        generator.AddStall(Ms(1030), Ms(1050));
        generator.AddStall(Ms(1040), Ms(1070));

        var stats = LoadRun.Utterance(frames, Ms(1000), generator: generator);

        Assert.Equal(1, stats.GeneratorLateGaps);
        Assert.Equal(1, stats.LateGaps);
        Assert.Equal(Ms(1270), stats.FirstLateGapStartTicks); // the one counted against the server
        var unattributed = LoadRun.Utterance(frames, Ms(1000));
        Assert.Equal(2, unattributed.LateGaps);
        Assert.Equal(Ms(1020), unattributed.FirstLateGapStartTicks);
        Assert.True(generator.StalledDuring(Ms(1160), Ms(1180)), "within the stall's shadow (100 ms after it)");
        Assert.False(generator.StalledDuring(Ms(1171), Ms(1260)));
        Assert.Equal(1, generator.Stalls);
    }

    [Theory]
    [InlineData(55.0, 0, 0, true, "pass")]
    [InlineData(61.0, 0, 0, false, "overhead p95 61 ms > 60 ms")]
    [InlineData(20.0, 3, 0, false, "3 frames dropped")]
    [InlineData(20.0, 0, 1, false, "1 failure(s)")]
    [InlineData(null, 0, 0, false, "no voice-to-voice sample")]
    public void CapacityJudge_PassesOnlyWithinTheTarget_WithoutDropsOrFailures(double? p95, double dropped, int failures, bool passed, string reason)
    {
        var (outcome, verdict) = CapacitySearch.Judge(p95, dropped, failures, 60);
        Assert.Equal(passed, outcome == CapacitySearch.Outcome.Pass);
        Assert.Contains(reason, verdict, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 1000, true)]
    [InlineData(2, 1000, false)]
    [InlineData(0, 0, true)]
    public void CapacityJudge_AllowsAtMostATenthOfAPercentOfLateGaps(int lateGaps, int frames, bool passed)
    {
        var (outcome, verdict) = CapacitySearch.Judge(20, 0, 0, 60, lateGaps, frames);
        Assert.Equal(passed, outcome == CapacitySearch.Outcome.Pass);
        Assert.Equal(passed, !verdict.Contains("late gaps", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(6, 1000, 0, 0, "6 of 1000 microphone ticks late")]
    [InlineData(0, 1000, 150, 0, "a microphone tick 150 ms late")]
    [InlineData(0, 1000, 10, 3, "3 frames waited")]
    public void CapacityJudge_GivesNoVerdict_WhenTheLoadGeneratorFellBehind(long late, long ticks, double maxLagMs, int queued, string reason)
    {
        var generator = new LoadGeneratorHealth(late, queued, ticks, maxLagMs, 0.4);
        var (outcome, verdict) = CapacitySearch.Judge(20, 0, 0, 60, 0, 1000, generator);
        Assert.Equal(CapacitySearch.Outcome.NoVerdict, outcome);
        Assert.StartsWith("no verdict: the load generator did not keep real time", verdict, StringComparison.Ordinal);
        Assert.Contains(reason, verdict, StringComparison.Ordinal);

        // Within the limits the same generator is no bottleneck, and the server's figures decide.
        var kept = new LoadGeneratorHealth(5, 0, 1000, 60, 0.4);
        Assert.Null(kept.Bottleneck);
        Assert.Equal(CapacitySearch.Outcome.Pass, CapacitySearch.Judge(20, 0, 0, 60, 0, 1000, kept).Outcome);
    }

    [Fact]
    public void Percentiles_NearestRank()
    {
        var p = Percentiles.Of(Enumerable.Range(1, 100).Select(i => (double)i));
        Assert.Equal((100, 50.0, 95.0, 99.0, 100.0), (p.Count, p.P50!.Value, p.P95!.Value, p.P99!.Value, p.Max!.Value));
        Assert.Equal(0, Percentiles.Of([]).Count);
    }

    [Fact]
    public void TrimSilence_StartsAtTheFirstLoudBlock_NotAtAClick_AndEndsAfterTheLastAudibleSample()
    {
        // 40 ms of silence with a click (peak above −40 dBFS, block RMS far below −35 dBFS), 20 ms of voice at about
        // −20 dBFS, a quiet decay above −40 dBFS peak, then silence.
        var samples = new short[320 * 2 + 320 + 100 + 200];
        samples[100] = 5000;
        for (var i = 640; i < 960; i++)
        {
            samples[i] = (short)(i % 2 == 0 ? 3300 : -3300);
        }

        for (var i = 960; i < 1060; i++)
        {
            samples[i] = 400;
        }

        var trimmed = SpeechTrim.ToVoice(samples);

        Assert.Equal(320 + 100, trimmed.Length);
        Assert.Equal(3300, trimmed[0]);
        Assert.Equal(400, trimmed[^1]);
    }

    [Fact]
    public async Task FakeLlmTimed_FirstTokenAfterTheConfiguredLatency()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Timed(TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(10), "a", " b"));
        using var http = new HttpClient();
        var started = Stopwatch.GetTimestamp();
        using var response = await http.PostAsJsonAsync(llm.Url, new { model = "m", stream = true });
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var firstLine = await reader.ReadLineAsync();
        var firstAt = Stopwatch.GetElapsedTime(started);
        var rest = await reader.ReadToEndAsync();

        Assert.NotNull(firstLine);
        Assert.True(firstAt >= TimeSpan.FromMilliseconds(290), $"first chunk after {firstAt.TotalMilliseconds:0} ms");
        Assert.Contains("\"content\":\"a\"", firstLine + rest, StringComparison.Ordinal);
        Assert.Contains("[DONE]", rest, StringComparison.Ordinal);
    }
}
