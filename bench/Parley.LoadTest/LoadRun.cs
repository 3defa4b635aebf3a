using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Rtc.Tokens;
using Parley.Testing.FakeLlm;
using Parley.Testing.Speech;

namespace Parley.LoadTest;

/// <summary>
/// The load generator's core: starts (or targets) a server and a fake LLM, runs N simulated users concurrently, and
/// measures voice-to-voice, barge-in, frame gaps and the server process's CPU and memory.
/// </summary>
public static class LoadRun
{
    public const string Question = "What is the weather like today?";
    public const string Interruption = "Stop please. What time is it?";
    /// <summary>
    /// The fake LLM's answer. Its first sentence is one token, so the LLM's time to the first speakable sentence is its
    /// first-token latency; the next sentences are short enough to be synthesised before the audio before them ends,
    /// so a gap in the agent's audio is Parley's pacing, never a vendor slower than speech.
    /// </summary>
    public const string Answer = "Sure. It is sunny. It is warm today, with a light breeze from the west. A few clouds come later in the afternoon.";

    /// <summary>A silence between two frames longer than this inside one agent utterance counts as a late/missing frame.</summary>
    public static readonly TimeSpan LateGap = TimeSpan.FromMilliseconds(60);

    /// <summary>A silence this long ends an agent utterance.</summary>
    private static readonly TimeSpan UtteranceEnd = TimeSpan.FromMilliseconds(300);

    /// <summary>Silence after an answer's last frame before the user asks again.</summary>
    private static readonly TimeSpan AnswerOver = TimeSpan.FromMilliseconds(700);

    public static async Task<LoadReport> RunAsync(LoadOptions options, TextWriter? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        log ??= TextWriter.Null;
        // Synthesised once, reused by every user, cut to the voice so "speech start/end sent" is the voice's.
        var questionSamples = SpeechTrim.ToVoice(TestSpeech.Flite(Question));
        var question = Microphone.ToPcm(questionSamples);
        var interruption = Microphone.ToPcm(SpeechTrim.ToVoice(TestSpeech.Flite(Interruption)));

        await using var llm = await FakeLlmServer.StartAsync(cancellationToken);
        var tokens = Answer.Split(' ').Select((w, i) => i == 0 ? w : " " + w).ToArray();
        llm.DefaultResponse = FakeLlmResponse.Timed(options.LlmFirstToken, options.LlmTokenInterval, tokens);
        await using var vendors = await SpeechVendors.StartAsync(options, Question, cancellationToken);

        ServerHost? host = null;
        try
        {
            Uri baseAddress;
            int? pid = options.ServerPid;
            if (options.ServerUrl is null)
            {
                log.WriteLine("starting the server process …");
                host = await ServerHost.StartAsync(options, cancellationToken, vendors.ServerArguments);
                baseAddress = host.BaseAddress;
                pid = host.Pid;
            }
            else
            {
                baseAddress = options.ServerUrl;
            }

            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
            var api = new ParleyClient(http, baseAddress, options.AppId, options.ServerSecret);
            var agentId = "load_" + Guid.NewGuid().ToString("N")[..8];
            var registered = await api.RegisterAgentAsync(
                new RegisterAgentRequest
                {
                    AgentId = agentId,
                    LLM = new LlmConfig { Url = llm.Url, Model = "fake", SystemPrompt = "You are a weather bot." },
                    TTS = vendors.Tts,
                    ASR = vendors.Asr,
                },
                cancellationToken);
            if (registered.Code != 0)
            {
                throw new InvalidOperationException($"RegisterAgent failed: {registered.Code} {registered.Message}");
            }

            if (options.WarmUp && !options.IdleOnly)
            {
                // One untimed question first: the server's first conversation pays one-time costs (JIT of the LLM and
                // TTS clients, first connections) that a running server has long paid.
                log.WriteLine("warm-up question …");
                var warmClock = new MicrophoneClock();
                using var stopWarm = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var warmTask = warmClock.RunAsync(stopWarm.Token);
                await using (var warm = new SimulatedUser(options.Sessions, options with { Turns = 1, BargeInShare = 0, TalkStartSpread = TimeSpan.Zero }, api, baseAddress, agentId, warmClock, new Random(options.Seed)))
                {
                    await warm.JoinAsync(cancellationToken);
                    await warm.TalkAsync(question, interruption, cancellationToken);
                    if (warm.Error is not null)
                    {
                        log.WriteLine("warm-up failed: " + warm.Error);
                    }

                    await stopWarm.CancelAsync();
                    await warmTask;
                }
            }

            var metricsBefore = await ReadMetricsAsync(http, cancellationToken);
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            var baseline = Sample(pid);
            await Task.Delay(options.IdleSample, cancellationToken);
            var baselineEnd = Sample(pid);

            // Join every user (instance created, agent stream in the room), then sample the idle server with N sessions.
            log.WriteLine($"joining {options.Sessions} sessions …");
            var random = new Random(options.Seed);
            var clock = new MicrophoneClock();
            using var stopMicrophones = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var clockTask = clock.RunAsync(stopMicrophones.Token);
            var users = Enumerable.Range(0, options.Sessions).Select(i => new SimulatedUser(i, options, api, baseAddress, agentId, clock, new Random(random.Next()))).ToArray();
            try
            {
                await Task.WhenAll(users.Select(u => u.JoinAsync(stopMicrophones.Token)));
                await Task.Delay(options.IdleSettle, cancellationToken);
                var idleLateTicks = clock.LateTicks;
                var idleTicks = clock.Ticks;
                var idleQueued = users.Sum(u => u.QueuedSends);
                clock.ResetMaxLag();
                var idle = Sample(pid);
                await Task.Delay(options.IdleSample, cancellationToken);
                var idleEnd = Sample(pid);

                if (options.IdleOnly)
                {
                    var idleMetrics = await ReadMetricsAsync(http, cancellationToken);
                    return LoadReport.Build(
                        options,
                        vendors,
                        [],
                        users.Where(u => u.Error is not null).Select(u => $"session {u.Index}: {u.Error}").ToList(),
                        users.Where(u => u.JoinMs is not null).Select(u => u.JoinMs!.Value).ToList(),
                        StageMeans(metricsBefore, idleMetrics),
                        Delta(metricsBefore, idleMetrics, "parley_rtc_dropped_frames_total"),
                        // Over the idle sample only: the joins before it load engines and may delay the generator.
                        new LoadGeneratorHealth(clock.LateTicks - idleLateTicks, users.Sum(u => u.QueuedSends) - idleQueued, clock.Ticks - idleTicks, Math.Round(clock.MaxLagMs, 1)),
                        new ServerUsage(pid, baseline, baselineEnd, idle, idleEnd, null, null, idleEnd?.RssBytes ?? 0),
                        TestSpeechMs(questionSamples));
                }

                log.WriteLine($"{users.Count(u => u.Error is null)} joined; talking ({options.Turns} turns each) …");
                var loadStart = Sample(pid);
                var lateTicksBefore = clock.LateTicks;
                var ticksBefore = clock.Ticks;
                var stallsBefore = clock.Stalls;
                var gcPauseBefore = MicrophoneClock.GcPauseMs;
                clock.ResetMaxLag();
                var clientCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var clientWall = Stopwatch.StartNew();
                var peakRss = loadStart?.RssBytes ?? 0;
                using var sampling = new CancellationTokenSource();
                var sampler = Task.Run(
                    async () =>
                    {
                        while (!sampling.IsCancellationRequested)
                        {
                            peakRss = Math.Max(peakRss, Sample(pid)?.RssBytes ?? 0);
                            await Task.Delay(250, CancellationToken.None);
                        }
                    },
                    CancellationToken.None);
                await Task.WhenAll(users.Select(u => u.TalkAsync(question, interruption, cancellationToken)));
                var loadEnd = Sample(pid);
                var clientCores = clientWall.Elapsed > TimeSpan.Zero
                    ? Math.Round((Process.GetCurrentProcess().TotalProcessorTime - clientCpuBefore) / clientWall.Elapsed, 3)
                    : (double?)null;
                await sampling.CancelAsync();
                await sampler;

                var metricsAfter = await ReadMetricsAsync(http, cancellationToken);
                return LoadReport.Build(
                    options,
                    vendors,
                    users.SelectMany(u => u.Turns).ToList(),
                    users.Where(u => u.Error is not null).Select(u => $"session {u.Index}: {u.Error}").ToList(),
                    users.Where(u => u.JoinMs is not null).Select(u => u.JoinMs!.Value).ToList(),
                    StageMeans(metricsBefore, metricsAfter),
                    Delta(metricsBefore, metricsAfter, "parley_rtc_dropped_frames_total"),
                    new LoadGeneratorHealth(clock.LateTicks - lateTicksBefore, users.Sum(u => u.QueuedSends), clock.Ticks - ticksBefore, Math.Round(clock.MaxLagMs, 1), clientCores)
                    {
                        Stalls = clock.Stalls - stallsBefore,
                        GcPauseMs = Math.Round(MicrophoneClock.GcPauseMs - gcPauseBefore, 1),
                    },
                    new ServerUsage(pid, baseline, baselineEnd, idle, idleEnd, loadStart, loadEnd, peakRss),
                    TestSpeechMs(questionSamples));
            }
            finally
            {
                await stopMicrophones.CancelAsync();
                await clockTask;
                foreach (var user in users)
                {
                    await user.DisposeAsync();
                }
            }
        }
        finally
        {
            if (host is not null)
            {
                if (options.ServerLogLevel is not null)
                {
                    log.WriteLine("— server output —");
                    log.WriteLine(host.Output);
                }

                await host.DisposeAsync();
            }
        }
    }

    private static double TestSpeechMs(short[] samples) => samples.Length / 16.0;

    private static ProcessSample? Sample(int? pid) => pid is { } p && OperatingSystem.IsLinux() ? ProcessSample.Read(p) : null;

    /// <summary>Every sample line of the server's /metrics (name with labels → value); empty when unreachable.</summary>
    private static async Task<Dictionary<string, double>> ReadMetricsAsync(HttpClient http, CancellationToken cancellationToken)
    {
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        string text;
        try
        {
            text = await http.GetStringAsync("metrics", cancellationToken);
        }
        catch (HttpRequestException)
        {
            return metrics;
        }

        foreach (var line in text.Split('\n'))
        {
            var space = line.LastIndexOf(' ');
            if (line.Length == 0 || line[0] == '#' || space < 0)
            {
                continue;
            }

            if (double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                metrics[line[..space]] = value;
            }
        }

        return metrics;
    }

    /// <summary>Growth of every series of <paramref name="name"/> (summed over labels) between two readings.</summary>
    private static double Delta(Dictionary<string, double> before, Dictionary<string, double> after, string name)
    {
        double Sum(Dictionary<string, double> m) => m.Where(kv => kv.Key == name || kv.Key.StartsWith(name + "{", StringComparison.Ordinal)).Sum(kv => kv.Value);
        return Sum(after) - Sum(before);
    }

    /// <summary>Mean of each stage of <c>parley_turn_stage_seconds</c> over the run (ms), from the sum/count deltas.</summary>
    private static Dictionary<string, double> StageMeans(Dictionary<string, double> before, Dictionary<string, double> after)
    {
        var means = new Dictionary<string, double>();
        foreach (var (key, sum) in after)
        {
            const string prefix = "parley_turn_stage_seconds_sum{";
            if (!key.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var labels = key[(prefix.Length - 1)..];
            var stageStart = labels.IndexOf("stage=\"", StringComparison.Ordinal) + 7;
            var stage = labels[stageStart..labels.IndexOf('"', stageStart)];
            var countKey = "parley_turn_stage_seconds_count" + labels;
            var n = after.GetValueOrDefault(countKey) - before.GetValueOrDefault(countKey);
            if (n > 0)
            {
                means[stage] = (sum - before.GetValueOrDefault(key)) / n * 1000;
            }
        }

        return means;
    }

    /// <summary>One simulated user: its own room, instance and microphone.</summary>
    private sealed class SimulatedUser(int index, LoadOptions options, ParleyClient api, Uri baseAddress, string agentId, MicrophoneClock clock, Random random) : IAsyncDisposable
    {
        private LoadRoomClient? _client;
        private Microphone? _microphone;
        private string? _instanceId;

        public int Index { get; } = index;

        public string? Error { get; private set; }

        public double? JoinMs { get; private set; }

        public List<TurnResult> Turns { get; } = [];

        public int QueuedSends => _microphone?.QueuedSends ?? 0;

        private string AgentStream => $"agent_s{Index}";

        public async Task JoinAsync(CancellationToken cancellationToken)
        {
            try
            {
                await Task.Delay(random.Next(0, Math.Max(500, options.Sessions * 10)), cancellationToken);
                var userId = $"user_{Index}";
                var roomId = $"load_{agentId}_{Index}";
                _client = await LoadRoomClient.ConnectAsync(baseAddress, cancellationToken, clock);
                var token = Token04.Mint(options.AppId, userId, options.ServerSecret, TimeSpan.FromHours(2), "", TimeProvider.System);
                Check("Login", await _client.RequestAsync(new { Type = "Login", AppId = options.AppId, RoomId = roomId, UserId = userId, Token = token }, "LoginResult", cancellationToken));
                Check("Play", await _client.RequestAsync(new { Type = "Play", StreamId = AgentStream, Codec = "pcm16", SampleRate = 16000 }, "PlayResult", cancellationToken));
                Check("Publish", await _client.RequestAsync(new { Type = "Publish", StreamId = $"user_s{Index}", Codec = "pcm16", SampleRate = 16000 }, "PublishResult", cancellationToken));
                _microphone = new Microphone(_client);
                clock.Add(_microphone);

                var created = Stopwatch.GetTimestamp();
                var response = await api.CreateAgentInstanceAsync(
                    new CreateAgentInstanceRequest
                    {
                        AgentId = agentId,
                        UserId = userId,
                        RTC = new RtcConfig { RoomId = roomId, AgentStreamId = AgentStream, AgentUserId = $"agent_{Index}", UserStreamId = $"user_s{Index}" },
                    },
                    cancellationToken);
                if (response.Code != 0 || response.Data is null)
                {
                    throw new InvalidOperationException($"CreateAgentInstance failed: {response.Code} {response.Message}");
                }

                _instanceId = response.Data.AgentInstanceId;
                await _client.WaitForMessageAsync(
                    m => m.GetProperty("Type").GetString() == "StreamAdded" && m.GetProperty("StreamId").GetString() == AgentStream,
                    0,
                    TimeSpan.FromSeconds(30),
                    cancellationToken);
                JoinMs = Stopwatch.GetElapsedTime(created).TotalMilliseconds;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Error = "join: " + ex.Message;
            }
        }

        public async Task TalkAsync(byte[] question, byte[] interruption, CancellationToken cancellationToken)
        {
            if (Error is not null || _client is null || _microphone is null)
            {
                return;
            }

            try
            {
                // Users do not all speak at the same instant: spread the first questions over the talk-start window.
                await Task.Delay(random.Next(0, (int)options.TalkStartSpread.TotalMilliseconds + 1), cancellationToken);
                for (var turn = 0; turn < options.Turns; turn++)
                {
                    // Exactly the configured share of turns, spread evenly and shifted per session.
                    var bargeIn = Math.Floor((turn + 1 + Index) * options.BargeInShare) > Math.Floor((turn + Index) * options.BargeInShare);
                    Turns.AddRange(await TurnAsync(turn, question, interruption, bargeIn, cancellationToken));
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Error = "talk: " + ex.Message;
            }
        }

        private async Task<List<TurnResult>> TurnAsync(int turn, byte[] question, byte[] interruption, bool bargeIn, CancellationToken cancellationToken)
        {
            var results = new List<TurnResult>();
            var client = _client!;
            var asked = _microphone!.Say(question);
            var spokeStart = await asked.Started.Task.WaitAsync(cancellationToken);
            var spokeEnd = await asked.Ended.Task.WaitAsync(cancellationToken);
            var first = await client.WaitForFrameAfterAsync(spokeEnd, TimeSpan.FromSeconds(20), cancellationToken);
            if (first is null)
            {
                results.Add(new TurnResult(Index, turn, "question", null, null, null, 0, 0, 0, "no agent audio within 20 s of the end of speech"));
                return results;
            }

            var v2v = Stopwatch.GetElapsedTime(spokeEnd, first.Value).TotalMilliseconds;
            if (!bargeIn)
            {
                var reply = await client.WaitForUtteranceEndAsync(first.Value, AnswerOver, TimeSpan.FromSeconds(30), cancellationToken);
                results.Add(TurnResult.Of(Index, turn, "question", v2v, null, null, reply, first.Value) with { VadStartMs = VadStartMs(spokeStart), VadEndMs = VadEndMs(spokeEnd, first.Value) });
                return results;
            }

            // Talk over the answer once about 0.8 s of it has arrived.
            await client.WaitForFramesAsync(first.Value, 40, TimeSpan.FromSeconds(10), cancellationToken);
            var cut = _microphone.Say(interruption);
            var cutStart = await cut.Started.Task.WaitAsync(cancellationToken);
            var cutEnd = await cut.Ended.Task.WaitAsync(cancellationToken);
            var interrupted = client.Utterance(first.Value, lateUntilTicks: cutStart);
            double? bargeMs = null;
            double? afterVadMs = null;
            if (interrupted.LastTicks > cutStart)
            {
                bargeMs = Stopwatch.GetElapsedTime(cutStart, interrupted.LastTicks).TotalMilliseconds;
                var vadStart = client.MessageArrival(IsSpeechStart, cutStart);
                if (vadStart != 0)
                {
                    afterVadMs = Stopwatch.GetElapsedTime(vadStart, interrupted.LastTicks).TotalMilliseconds;
                }
            }

            results.Add(TurnResult.Of(Index, turn, "barge-in", v2v, bargeMs, afterVadMs, interrupted, first.Value) with
            {
                VadStartMs = VadStartMs(spokeStart),
                VadEndMs = VadEndMs(spokeEnd, first.Value),
                InterruptionVadStartMs = VadStartMs(cutStart),
                Error = bargeMs is null ? "the answer ended before the user talked over it" : null,
            });

            // The interruption is itself a question: its answer gives one more voice-to-voice sample.
            var next = await client.WaitForFrameAfterAsync(Math.Max(cutEnd, interrupted.LastTicks + 1), TimeSpan.FromSeconds(20), cancellationToken);
            if (next is null)
            {
                results.Add(new TurnResult(Index, turn, "after-barge-in", null, null, null, 0, 0, 0, "no answer to the interruption within 20 s"));
                return results;
            }

            var answer = await client.WaitForUtteranceEndAsync(next.Value, AnswerOver, TimeSpan.FromSeconds(30), cancellationToken);
            results.Add(TurnResult.Of(Index, turn, "after-barge-in", Stopwatch.GetElapsedTime(cutEnd, next.Value).TotalMilliseconds, null, null, answer, next.Value) with { VadEndMs = VadEndMs(cutEnd, next.Value) });
            return results;
        }

        /// <summary>Cmd 1 SpeakStatus=1: the VAD's speech start.</summary>
        private static bool IsSpeechStart(JsonElement m) =>
            m.GetProperty("Type").GetString() == "RoomMessage"
            && m.GetProperty("Message").GetProperty("Cmd").GetInt32() == 1
            && m.GetProperty("Message").GetProperty("Data").GetProperty("SpeakStatus").GetInt32() == 1;

        /// <summary>Cmd 1 SpeakStatus=2: the VAD's end of the user's speech (after the hang-over).</summary>
        private static bool IsSpeechEnd(JsonElement m) =>
            m.GetProperty("Type").GetString() == "RoomMessage"
            && m.GetProperty("Message").GetProperty("Cmd").GetInt32() == 1
            && m.GetProperty("Message").GetProperty("Data").GetProperty("SpeakStatus").GetInt32() == 2;

        /// <summary>End of speech sent → the VAD's speech end (Cmd 1 SpeakStatus=2) received, if it came before the answer.</summary>
        private double? VadEndMs(long spokeEnd, long answerTicks)
        {
            var at = _client!.MessageArrival(IsSpeechEnd, spokeEnd);
            return at == 0 || at > answerTicks ? null : Stopwatch.GetElapsedTime(spokeEnd, at).TotalMilliseconds;
        }

        private double? VadStartMs(long spokeStart)
        {
            var at = _client!.MessageArrival(IsSpeechStart, spokeStart);
            return at == 0 ? null : Stopwatch.GetElapsedTime(spokeStart, at).TotalMilliseconds;
        }

        private static void Check(string what, JsonElement result)
        {
            var code = result.GetProperty("Code").GetInt32();
            if (code != 0)
            {
                throw new InvalidOperationException($"{what} failed: {result.GetRawText()}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_microphone is not null)
            {
                clock.Remove(_microphone);
            }

            if (_instanceId is not null)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await api.DeleteAgentInstanceAsync(_instanceId, timeout.Token);
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                {
                }
            }

            if (_client is not null)
            {
                await _client.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The run of frames starting at <paramref name="firstTicks"/> up to the first silence of <see cref="UtteranceEnd"/>.
    /// A gap over <see cref="LateGap"/> is late only when it starts before <paramref name="lateUntilTicks"/>: on a
    /// barge-in turn, the user's onset, after which the agent pausing (issue 14's provisional pause, resumed or
    /// stopped by the interruption policy) is the policy at work, measured as barge-in latency, not a pacing fault.
    /// </summary>
    internal static UtteranceStats Utterance(IReadOnlyList<long> frames, long firstTicks, long lateUntilTicks = long.MaxValue, MicrophoneClock? generator = null)
    {
        var start = 0;
        while (start < frames.Count && frames[start] < firstTicks)
        {
            start++;
        }

        if (start == frames.Count)
        {
            return new UtteranceStats(0, 0, 0, firstTicks);
        }

        var count = 1;
        var late = 0;
        var generatorLate = 0;
        var maxGap = 0.0;
        var maxGapStart = 0L;
        var firstLateStart = 0L;
        var end = start;
        while (end + 1 < frames.Count)
        {
            var gap = Stopwatch.GetElapsedTime(frames[end], frames[end + 1]);
            if (gap >= UtteranceEnd)
            {
                break;
            }

            if (gap > LateGap && frames[end] < lateUntilTicks)
            {
                if (generator?.StalledDuring(frames[end], frames[end + 1]) == true)
                {
                    generatorLate++;
                }
                else
                {
                    late++;
                    if (firstLateStart == 0)
                    {
                        firstLateStart = frames[end];
                    }
                }
            }

            if (gap.TotalMilliseconds > maxGap)
            {
                maxGap = gap.TotalMilliseconds;
                maxGapStart = frames[end];
            }

            count++;
            end++;
        }

        return new UtteranceStats(count, late, maxGap, frames[end], maxGapStart, generatorLate, firstLateStart);
    }
}

/// <summary>An agent utterance as received; <c>MaxGapStartTicks</c>: the arrival (Stopwatch ticks) of the frame before its longest gap;
/// <c>GeneratorLateGaps</c>: late gaps that fell in a stall of the generator itself (not counted in <c>LateGaps</c>);
/// <c>FirstLateGapStartTicks</c>: the arrival of the frame before the first counted late gap (0: none).</summary>
internal readonly record struct UtteranceStats(int Frames, int LateGaps, double MaxGapMs, long LastTicks, long MaxGapStartTicks = 0, int GeneratorLateGaps = 0, long FirstLateGapStartTicks = 0);

/// <summary>One measured exchange. Kind: "question", "barge-in" (the user talked over the answer), "after-barge-in" (the answer to the interruption).</summary>
public sealed record TurnResult(
    int Session,
    int Turn,
    string Kind,
    double? VoiceToVoiceMs,
    double? BargeInMs,
    double? BargeInAfterVadMs,
    int AgentFrames,
    int LateGaps,
    double MaxGapMs,
    string? Error)
{
    /// <summary>Speech start sent → the VAD's speech start (Cmd 1) received.</summary>
    public double? VadStartMs { get; init; }

    /// <summary>End of the user's speech sent → the VAD's end of speech (Cmd 1 SpeakStatus=2) received: hang-over + the VAD's own lag.</summary>
    public double? VadEndMs { get; init; }

    /// <summary>On a barge-in turn: interruption start sent → Cmd 1 received (the VAD's detection while the agent talks).</summary>
    public double? InterruptionVadStartMs { get; init; }

    /// <summary>When the reply's longest gap began, in ms since the first frame of the reply (where in the answer it falls).</summary>
    public double? MaxGapAtMs { get; init; }

    /// <summary>Gaps over 60 ms that fell in a stall of the load generator itself (not in <see cref="LateGaps"/>).</summary>
    public int GeneratorLateGaps { get; init; }

    /// <summary>When the reply's longest gap began, in ms of the generator's clock (gaps of many sessions at one moment: a stall of the whole server).</summary>
    public double? MaxGapClockMs { get; init; }

    /// <summary>When the reply's first late gap (counted against the server) began, in ms of the generator's clock: late gaps of many sessions at one moment are a stall of the whole server.</summary>
    public double? FirstLateGapClockMs { get; init; }

    internal static TurnResult Of(int session, int turn, string kind, double? v2v, double? barge, double? afterVad, UtteranceStats reply, long firstTicks = 0) =>
        new(session, turn, kind, v2v, barge, afterVad, reply.Frames, reply.LateGaps, reply.MaxGapMs, null)
        {
            MaxGapAtMs = reply.MaxGapStartTicks == 0 || firstTicks == 0 ? null : Math.Round(Stopwatch.GetElapsedTime(firstTicks, reply.MaxGapStartTicks).TotalMilliseconds, 1),
            MaxGapClockMs = ClockMs(reply.MaxGapStartTicks),
            GeneratorLateGaps = reply.GeneratorLateGaps,
            FirstLateGapClockMs = ClockMs(reply.FirstLateGapStartTicks),
        };

    /// <summary>A Stopwatch timestamp in ms of the generator's clock (0: none).</summary>
    private static double? ClockMs(long ticks) => ticks == 0 ? null : Math.Round(ticks * 1000.0 / Stopwatch.Frequency, 1);
}
