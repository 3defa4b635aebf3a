using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Client;
using Parley.Core.Turns;
using Parley.Media;
using Parley.Providers.Local;
using Parley.Rtc.Rooms;
using Parley.Rtc.Tokens;
using Parley.Server.Rooms;
using Parley.Testing;
using Parley.Testing.FakeLlm;
using Parley.Testing.Rooms;
using Parley.Testing.Speech;
using Xunit.Abstractions;

namespace Parley.Server.Tests.Latency;

/// <summary>
/// Where the time between the user's first speech frame and the VAD's speech start (Cmd 1) goes, for one utterance,
/// in process: the client's send of each frame, the room's delivery to a probe player of the same stream, the probe's
/// <see cref="GapFiller"/> output, the agent's real Silero windows (scored through a timing wrapper installed in
/// the server's DI), the segmenter's decision and the Cmd 1 arrival at the client. Prints the timeline and checks that
/// the path adds little to the audio-time decision.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class SpeechStartTimelineTests(ITestOutputHelper output)
{
    private const int Frame = 320;

    [Theory]
    [InlineData("What is the weather like today?")]
    [InlineData("Good morning, how are you?")]
    public async Task FliteUtterance_StageTimeline_PathAddsLittleToTheVadDecision(string text)
    {
        var vads = new TimingVadFactory(new SileroVadFactory());
        await using var llm = await FakeLlmServer.StartAsync();
        var app = new TestApp(4000101, "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1");
        await using var server = await ParleyTestServer.StartAsync(
            [app],
            new Dictionary<string, string?> { ["Parley:RateLimitPerSecond"] = "100" },
            builder => builder.Services.Replace(ServiceDescriptor.Singleton<IVoiceActivityDetectorFactory>(vads)));
        var api = server.CreateClient(app);
        Assert.Equal(0, (await api.RegisterAgentAsync(new RegisterAgentRequest
        {
            AgentId = "timeline",
            LLM = new LlmConfig { Url = llm.Url, Model = "fake", SystemPrompt = "x" },
            TTS = new TtsConfig { Vendor = "Local", Params = new JsonObject { ["engine"] = "flite", ["voice"] = "kal16" } },
            ASR = new AsrConfig { VADSilenceSegmentation = 500 },
        })).Code);

        await using var user = await RoomTestClient.ConnectAsync(server.BaseAddress);
        var token = Token04.Mint(app.AppId, "user_1", app.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
        Assert.Equal(0, (await user.LoginAsync(token, "room_t", "user_1")).GetProperty("Code").GetInt32());
        Assert.Equal(0, (await user.PublishAsync("user_s")).GetProperty("Code").GetInt32());

        // Probes beside the agent: one player of the user's stream raw, one through GapFiller.
        var rooms = server.Services.GetRequiredService<IRoomManager>();
        await using var probe = await rooms.JoinAsync(RoomIds.Scoped(app.AppId, "room_t"), "probe", isAgent: true, CancellationToken.None);
        await using var rawInput = await probe.PlayAsync("user_s", CancellationToken.None);
        await using var probe2 = await rooms.JoinAsync(RoomIds.Scoped(app.AppId, "room_t"), "probe2", isAgent: true, CancellationToken.None);
        await using var filledInput = await probe2.PlayAsync("user_s", CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var rawArrivals = new ConcurrentQueue<long>();
        var raw = Task.Run(() => FirstSoundAsync(rawInput.Audio, stop.Token, rawArrivals));
        var filled = Task.Run(() => FirstSoundAsync(GapFiller.Fill(filledInput.Audio, TimeProvider.System, stop.Token), stop.Token));

        var instance = (await api.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "timeline",
            UserId = "user_1",
            RTC = new RtcConfig { RoomId = "room_t", AgentStreamId = "agent_s", AgentUserId = "agent_1", UserStreamId = "user_s" },
        })).Data!.AgentInstanceId;
        Assert.False(string.IsNullOrEmpty(instance));
        await WaitUntilAsync(() => vads.Created.Count > 0, TimeSpan.FromSeconds(10));
        var agentVad = vads.Created.Single();

        // The microphone: 1 s of silence, the trimmed utterance, 1 s of silence; every frame's send time kept.
        var speech = SpeechTrim.QuietEnds(TestSpeech.Flite(text));
        var audio = Concat(TestSpeech.Silence(1000), speech, TestSpeech.Silence(1000));
        var sent = new long[audio.Length / Frame];
        var clock = Stopwatch.StartNew();
        for (var f = 0; f < sent.Length; f++)
        {
            sent[f] = Stopwatch.GetTimestamp();
            await user.SendAudioAsync(audio.AsMemory(f * Frame, Frame));
            var wait = TimeSpan.FromMilliseconds((f + 1) * 20) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }
        }

        var firstSpeechFrame = 1000 * 16 / Frame;
        var spoke = sent[firstSpeechFrame];
        var cmd1 = await user.WaitForAsync(
            m => m.GetProperty("Type").GetString() == "RoomMessage" && m.GetProperty("Message").GetProperty("Cmd").GetInt32() == 1
                && m.GetProperty("Message").GetProperty("Data").GetProperty("SpeakStatus").GetInt32() == 1,
            TimeSpan.FromSeconds(5));
        var cmd1At = user.ArrivalOf(cmd1.GetProperty("Message"));
        await stop.CancelAsync();
        var rawAt = await raw;
        var filledAt = await filled;

        // The agent's windows: where the utterance starts in its stream, which window decided, when each was scored.
        var windows = agentVad.Windows.ToArray();
        var onsetWindow = Array.FindIndex(windows, w => w.Loud);
        Assert.True(onsetWindow >= 0, "the agent's VAD never heard the utterance");
        var segmenter = new VadSegmenter(new VadSegmenterOptions());
        var decided = -1;
        for (var w = 0; w < windows.Length && decided < 0; w++)
        {
            if (segmenter.Process(windows[w].Probability, TimeSpan.FromTicks(w * 512 * 625L)).Kind == VadEventKind.SpeechStarted)
            {
                decided = w;
            }
        }

        Assert.True(decided >= 0, "the segmenter never started speech");
        var onsetSample = (onsetWindow * 512L) + windows[onsetWindow].FirstLoudSample; // the utterance's sample 0 in the agent's stream
        var decidedEndSample = (decided + 1) * 512L;
        var audioMs = (decidedEndSample - onsetSample) / 16.0;
        var lastSampleFrame = firstSpeechFrame + (int)((decidedEndSample - 1 - onsetSample) / Frame);
        var sendToScored = Stopwatch.GetElapsedTime(sent[lastSampleFrame], windows[decided].ScoredAt).TotalMilliseconds;
        var scoredToCmd1 = Stopwatch.GetElapsedTime(windows[decided].ScoredAt, cmd1At).TotalMilliseconds;
        var total = Stopwatch.GetElapsedTime(spoke, cmd1At).TotalMilliseconds;

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"'{text}' ({speech.Length / 16} ms trimmed)");
        report.AppendLine(CultureInfo.InvariantCulture, $"  first speech frame sent → room delivers it to a player: {Ms(spoke, rawAt)}");
        report.AppendLine(CultureInfo.InvariantCulture, $"  first speech frame sent → out of GapFiller:           {Ms(spoke, filledAt)}");
        report.AppendLine(CultureInfo.InvariantCulture, $"  window with the onset scored (agent VAD):          {Ms(spoke, windows[onsetWindow].ScoredAt)}");
        report.AppendLine(CultureInfo.InvariantCulture, $"  audio time onset → end of the deciding window:      {audioMs:F0} ms ({decided - onsetWindow + 1} windows)");
        report.AppendLine(CultureInfo.InvariantCulture, $"  deciding window's last frame sent → scored:         {sendToScored:F1} ms");
        report.AppendLine(CultureInfo.InvariantCulture, $"  deciding window scored → Cmd 1 at the client:       {scoredToCmd1:F1} ms");
        report.AppendLine(CultureInfo.InvariantCulture, $"  total first speech frame sent → Cmd 1:              {total:F0} ms");
        report.AppendLine(CultureInfo.InvariantCulture, $"  Silero Score() mean {windows.Average(w => w.ScoreMicros):F0} µs, max {windows.Max(w => w.ScoreMicros):F0} µs");
        var delivered = rawArrivals.ToArray();
        var lags = Enumerable.Range(0, Math.Min(delivered.Length, sent.Length)).Select(f => Stopwatch.GetElapsedTime(sent[f], delivered[f]).TotalMilliseconds).ToArray();
        report.AppendLine(CultureInfo.InvariantCulture, $"  per frame sent → delivered ({delivered.Length} of {sent.Length}): {string.Join(" ", lags.Where((_, i) => i % 10 == 0).Select(l => l.ToString("F0", CultureInfo.InvariantCulture)))}");
        var line = new StringBuilder("  probabilities from the onset window: ");
        for (var w = onsetWindow; w <= decided + 1 && w < windows.Length; w++)
        {
            line.Append(CultureInfo.InvariantCulture, $"{windows[w].Probability:F2}{(w == decided ? "*" : string.Empty)} ");
        }

        report.AppendLine(line.ToString());
        output.WriteLine(report.ToString());

        // The path (network, room, filling, VAD worker, session, Cmd 1) adds little to the audio-time decision.
        Assert.True(sendToScored < 60, report.ToString());
        Assert.True(scoredToCmd1 < 60, report.ToString());
    }

    private static string Ms(long from, long to) => to == 0 ? "n/a" : $"{Stopwatch.GetElapsedTime(from, to).TotalMilliseconds:F1} ms";

    private static async Task<long> FirstSoundAsync(System.Threading.Channels.ChannelReader<AudioChunk> frames, CancellationToken cancellationToken, ConcurrentQueue<long>? arrivals = null)
    {
        long first = 0;
        try
        {
            while (await frames.WaitToReadAsync(cancellationToken))
            {
                while (frames.TryRead(out var frame))
                {
                    using (frame)
                    {
                        var now = Stopwatch.GetTimestamp();
                        arrivals?.Enqueue(now);
                        if (first == 0 && frame.Samples.ContainsAnyExcept((short)0))
                        {
                            first = now;
                            if (arrivals is null)
                            {
                                return first;
                            }
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return first;
    }

    private static short[] Concat(params short[][] parts) => parts.SelectMany(p => p).ToArray();

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(20);
        }
    }

    private readonly record struct ScoredWindow(long ScoredAt, float Probability, bool Loud, int FirstLoudSample, double ScoreMicros);

    private sealed class TimingVadFactory(SileroVadFactory inner) : IVoiceActivityDetectorFactory
    {
        public ConcurrentBag<TimingVad> Created { get; } = [];

        public string Name => inner.Name;

        public IVoiceActivityDetector Create()
        {
            var vad = new TimingVad(inner.Create());
            Created.Add(vad);
            return vad;
        }
    }

    private sealed class TimingVad(IVoiceActivityDetector inner) : IVoiceActivityDetector
    {
        public ConcurrentQueue<ScoredWindow> Windows { get; } = new();

        public int WindowSamples => inner.WindowSamples;

        public float Score(ReadOnlySpan<short> window)
        {
            var before = Stopwatch.GetTimestamp();
            var p = inner.Score(window);
            var after = Stopwatch.GetTimestamp();
            var first = -1;
            for (var i = 0; i < window.Length; i++)
            {
                if (window[i] != 0)
                {
                    first = i;
                    break;
                }
            }

            Windows.Enqueue(new ScoredWindow(after, p, first >= 0, first, Stopwatch.GetElapsedTime(before, after).TotalMicroseconds));
            return p;
        }

        public void Reset() => inner.Reset();

        public void Dispose() => inner.Dispose();
    }
}
