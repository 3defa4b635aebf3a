using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Parley.Client;
using Parley.Rtc.Tokens;
using Parley.Testing.FakeLlm;
using Parley.Testing.Rooms;

namespace Parley.LoadTest;

/// <summary>
/// The control-plane benchmark: how fast CreateAgentInstance puts an agent into its room (one at a time and in
/// concurrent bursts), and how many signed QueryAgentInstanceStatus requests per second the server answers at saturation.
/// </summary>
public static class ControlRun
{
    /// <summary>The refusal code of the rate limiter (410000010): must never appear with the limit off.</summary>
    public const int RateLimitedCode = 410000010;

    public static async Task<ControlReport> RunAsync(ControlOptions options, TextWriter? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        log ??= TextWriter.Null;
        await using var llm = await FakeLlmServer.StartAsync(cancellationToken);
        llm.DefaultResponse = FakeLlmResponse.Timed(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(20), ["Hello", " there."]);

        ServerHost? host = null;
        try
        {
            Uri baseAddress;
            var pid = options.ServerPid;
            if (options.ServerUrl is null)
            {
                log.WriteLine("starting the server process (rate limit off) …");
                host = await ServerHost.StartAsync(
                    new LoadOptions { AppId = options.AppId, ServerSecret = options.ServerSecret, ServerDll = options.ServerDll },
                    cancellationToken,
                    ["--Parley:RateLimitPerSecond", "0", "--Parley:MaxInstancesPerApp", "100000"]);
                baseAddress = host.BaseAddress;
                pid = host.Pid;
                log.WriteLine($"server pid {pid} at {baseAddress}");
            }
            else
            {
                baseAddress = options.ServerUrl;
            }

            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, UseCookies = false })
            {
                BaseAddress = baseAddress,
                Timeout = TimeSpan.FromSeconds(30),
            };
            var api = new ParleyClient(http, baseAddress, options.AppId, options.ServerSecret);
            var agentId = "ctl_" + Guid.NewGuid().ToString("N")[..8];
            var registered = await api.RegisterAgentAsync(
                new RegisterAgentRequest
                {
                    AgentId = agentId,
                    LLM = new LlmConfig { Url = llm.Url, Model = "fake", SystemPrompt = "You are a benchmark." },
                    TTS = new TtsConfig { Vendor = "Local", Params = new JsonObject { ["engine"] = "flite", ["voice"] = "kal16" } },
                },
                cancellationToken);
            if (registered.Code != 0)
            {
                throw new InvalidOperationException($"RegisterAgent failed: {registered.Code} {registered.Message}");
            }

            var context = new JoinContext(options, api, baseAddress, agentId);
            var samples = new List<JoinSample>();

            // The first instance of a fresh server pays JIT, grain-type and engine first use: reported apart.
            log.WriteLine("cold instance …");
            samples.Add(await context.MeasureAsync("cold", 0, cancellationToken));

            log.WriteLine($"{options.Instances} instances one after another …");
            for (var i = 0; i < options.Instances; i++)
            {
                await Task.Delay(options.Pause, cancellationToken);
                samples.Add(await context.MeasureAsync("sequential", i + 1, cancellationToken));
            }

            if (options.Burst > 0)
            {
                log.WriteLine($"{options.Instances} instances in bursts of {options.Burst} …");
                for (var done = 0; done < options.Instances; done += options.Burst)
                {
                    await Task.Delay(options.Pause, cancellationToken);
                    var count = Math.Min(options.Burst, options.Instances - done);
                    var burst = await context.MeasureBurstAsync(done, count, cancellationToken);
                    samples.AddRange(burst);
                }
            }

            StatusFigures? status = null;
            if (options.StatusSeconds > 0)
            {
                log.WriteLine($"status queries: {options.Concurrency} loops × {options.StatusSeconds} s over {options.StatusInstances} instances …");
                status = await MeasureStatusAsync(options, api, baseAddress, agentId, pid, cancellationToken);
            }

            return ControlReport.Build(options, samples, status);
        }
        finally
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }
    }

    private static async Task<StatusFigures> MeasureStatusAsync(ControlOptions options, ParleyClient setup, Uri baseAddress, string agentId, int? pid, CancellationToken cancellationToken)
    {
        var instances = new List<string>();
        try
        {
            for (var i = 0; i < options.StatusInstances; i++)
            {
                var created = await setup.CreateAgentInstanceAsync(
                    new CreateAgentInstanceRequest
                    {
                        AgentId = agentId,
                        UserId = $"su_{i}",
                        RTC = new RtcConfig { RoomId = $"status_{agentId}_{i}", AgentStreamId = $"sa_{i}", AgentUserId = $"sagent_{i}", UserStreamId = $"su_s{i}" },
                    },
                    cancellationToken);
                if (created.Code != 0 || created.Data is null)
                {
                    throw new InvalidOperationException($"CreateAgentInstance for the status phase failed: {created.Code} {created.Message}");
                }

                instances.Add(created.Data.AgentInstanceId);
            }

            // Let the instances' engines start before the clock runs.
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);

            using var handler = new SocketsHttpHandler
            {
                MaxConnectionsPerServer = options.Concurrency,
                UseCookies = false,
                PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            };
            using var http = new HttpClient(handler, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(30) };
            var client = new ParleyClient(http, baseAddress, options.AppId, options.ServerSecret);

            var start = Stopwatch.GetTimestamp();
            var measureFrom = start + (long)(options.StatusWarmupSeconds * Stopwatch.Frequency);
            var measureTo = measureFrom + (long)(options.StatusSeconds * Stopwatch.Frequency);
            var loops = new StatusLoop[options.Concurrency];
            ProcessSample? serverFrom = null;
            ProcessSample? serverTo = null;
            TimeSpan clientCpuFrom = default, clientCpuTo = default;
            var gcFrom = 0;
            var sampler = Task.Run(
                async () =>
                {
                    await Task.Delay(TimeSpan.FromTicks((long)((measureFrom - Stopwatch.GetTimestamp()) * (double)TimeSpan.TicksPerSecond / Stopwatch.Frequency)), cancellationToken);
                    serverFrom = Sample(pid);
                    clientCpuFrom = Process.GetCurrentProcess().TotalProcessorTime;
                    gcFrom = GC.CollectionCount(0);
                    await Task.Delay(TimeSpan.FromSeconds(options.StatusSeconds), cancellationToken);
                    serverTo = Sample(pid);
                    clientCpuTo = Process.GetCurrentProcess().TotalProcessorTime;
                },
                cancellationToken);
            for (var i = 0; i < loops.Length; i++)
            {
                loops[i] = new StatusLoop(client, instances[i % instances.Count], measureFrom, measureTo);
            }

            await Task.WhenAll(loops.Select(l => Task.Run(() => l.RunAsync(cancellationToken), cancellationToken)));
            await sampler;
            var gcCount = GC.CollectionCount(0) - gcFrom;

            var seconds = options.StatusSeconds;
            var latencies = loops.SelectMany(l => l.Latencies).ToList();
            var ok = loops.Sum(l => l.Ok);
            double? serverCores = serverFrom is { } f && serverTo is { } t ? Math.Round(t.CoresSince(f), 3) : null;
            var clientCores = Math.Round((clientCpuTo - clientCpuFrom).TotalSeconds / seconds, 3);
            return new StatusFigures(
                options.Concurrency,
                instances.Count,
                seconds,
                Math.Round(ok / (double)seconds),
                ok,
                loops.Sum(l => l.Errors),
                loops.Sum(l => l.RateLimited),
                loops.Sum(l => l.Exceptions),
                loops.Select(l => l.FirstError).FirstOrDefault(e => e is not null),
                Percentiles.Of(latencies),
                serverCores,
                clientCores,
                gcCount);
        }
        finally
        {
            foreach (var id in instances)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await setup.DeleteAgentInstanceAsync(id, timeout.Token);
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                {
                }
            }
        }
    }

    private static ProcessSample? Sample(int? pid) => pid is { } p && OperatingSystem.IsLinux() ? ProcessSample.Read(p) : null;

    /// <summary>One client loop: signed QueryAgentInstanceStatus back to back; counts and times the requests that started inside the window.</summary>
    private sealed class StatusLoop(ParleyClient client, string instanceId, long measureFrom, long measureTo)
    {
        public List<double> Latencies { get; } = new(64 * 1024);

        public long Ok { get; private set; }

        public long Errors { get; private set; }

        public long RateLimited { get; private set; }

        public long Exceptions { get; private set; }

        public string? FirstError { get; private set; }

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            var request = new AgentInstanceRequest { AgentInstanceId = instanceId };
            while (true)
            {
                var started = Stopwatch.GetTimestamp();
                if (started >= measureTo)
                {
                    return;
                }

                var measured = started >= measureFrom;
                try
                {
                    var reply = await client.QueryAgentInstanceStatusAsync(request, cancellationToken);
                    var ended = Stopwatch.GetTimestamp();
                    if (!measured)
                    {
                        continue;
                    }

                    if (reply.Code == 0 && reply.Data?.Status is { Length: > 0 })
                    {
                        Ok++;
                        Latencies.Add(Stopwatch.GetElapsedTime(started, ended).TotalMilliseconds);
                    }
                    else
                    {
                        Errors++;
                        RateLimited += reply.Code == RateLimitedCode ? 1 : 0;
                        FirstError ??= $"{reply.Code} {reply.Message}";
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or ParleyApiException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    if (measured)
                    {
                        Errors++;
                        Exceptions++;
                        FirstError ??= ex.GetType().Name + ": " + ex.Message;
                    }
                }
            }
        }
    }

    /// <summary>Creates instances for users already in their rooms and times each one's arrival.</summary>
    private sealed class JoinContext(ControlOptions options, ParleyClient api, Uri baseAddress, string agentId)
    {
        private int _next;

        public ControlOptions Options { get; } = options;

        public ParleyClient Api { get; } = api;

        public Uri BaseAddress { get; } = baseAddress;

        public string AgentId { get; } = agentId;

        public async Task<JoinSample> MeasureAsync(string mode, int index, CancellationToken cancellationToken)
        {
            var user = await JoinedUser.ConnectAsync(this, Interlocked.Increment(ref _next), cancellationToken);
            try
            {
                return await user.CreateAndWaitAsync(mode, index, cancellationToken);
            }
            finally
            {
                await user.DisposeAsync();
            }
        }

        public async Task<IReadOnlyList<JoinSample>> MeasureBurstAsync(int firstIndex, int count, CancellationToken cancellationToken)
        {
            var users = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => JoinedUser.ConnectAsync(this, Interlocked.Increment(ref _next), cancellationToken)));
            try
            {
                return await Task.WhenAll(users.Select((u, i) => u.CreateAndWaitAsync("burst", firstIndex + i + 1, cancellationToken)));
            }
            finally
            {
                foreach (var user in users)
                {
                    await user.DisposeAsync();
                }
            }
        }

        private sealed class JoinedUser(JoinContext owner, int n, RoomTestClient client) : IAsyncDisposable
        {
            private string? _instanceId;

            private string AgentStream => $"agent_s{n}";

            public static async Task<JoinedUser> ConnectAsync(JoinContext owner, int n, CancellationToken cancellationToken)
            {
                var o = owner.Options;
                var client = await RoomTestClient.ConnectAsync(owner.BaseAddress, cancellationToken);
                var user = new JoinedUser(owner, n, client);
                try
                {
                    var userId = $"user_{n}";
                    var token = Token04.Mint(o.AppId, userId, o.ServerSecret, TimeSpan.FromHours(2), "", TimeProvider.System);
                    Check("Login", await client.LoginAsync(token, user.RoomId, userId, cancellationToken: cancellationToken));
                    Check("Play", await client.PlayAsync(user.AgentStream, cancellationToken: cancellationToken));
                    return user;
                }
                catch
                {
                    await user.DisposeAsync();
                    throw;
                }
            }

            private string RoomId => $"ctl_{owner.AgentId}_{n}";

            public async Task<JoinSample> CreateAndWaitAsync(string mode, int index, CancellationToken cancellationToken)
            {
                try
                {
                    var sent = Stopwatch.GetTimestamp();
                    var response = await owner.Api.CreateAgentInstanceAsync(
                        new CreateAgentInstanceRequest
                        {
                            AgentId = owner.AgentId,
                            UserId = $"user_{n}",
                            RTC = new RtcConfig { RoomId = RoomId, AgentStreamId = AgentStream, AgentUserId = $"agent_{n}", UserStreamId = $"user_s{n}" },
                        },
                        cancellationToken);
                    var replied = Stopwatch.GetTimestamp();
                    if (response.Code != 0 || response.Data is null)
                    {
                        return new JoinSample(mode, index, null, null, $"CreateAgentInstance failed: {response.Code} {response.Message}");
                    }

                    _instanceId = response.Data.AgentInstanceId;
                    var added = await client.WaitForAsync(
                        m => m.GetProperty("Type").GetString() == "StreamAdded" && m.GetProperty("StreamId").GetString() == AgentStream,
                        TimeSpan.FromSeconds(20),
                        cancellationToken);

                    // The arrival time the receive loop stamped, not when this poll noticed it.
                    var arrived = client.ArrivalOf(added);
                    return new JoinSample(
                        mode,
                        index,
                        Math.Round(Stopwatch.GetElapsedTime(sent, replied).TotalMilliseconds, 2),
                        Math.Round(Stopwatch.GetElapsedTime(sent, arrived).TotalMilliseconds, 2),
                        null);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    return new JoinSample(mode, index, null, null, ex.GetType().Name + ": " + ex.Message);
                }
            }

            public async ValueTask DisposeAsync()
            {
                if (_instanceId is not null)
                {
                    try
                    {
                        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                        await owner.Api.DeleteAgentInstanceAsync(_instanceId, timeout.Token);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                    {
                    }
                }

                await client.DisposeAsync();
            }

            private static void Check(string what, JsonElement result)
            {
                if (result.GetProperty("Code").GetInt32() != 0)
                {
                    throw new InvalidOperationException($"{what} failed: {result.GetRawText()}");
                }
            }
        }
    }
}

/// <summary>One measured creation. Mode: "cold" (first of the run), "sequential" or "burst".</summary>
public sealed record JoinSample(string Mode, int Index, double? ReplyMs, double? StreamAddedMs, string? Error);

/// <summary>The status-query phase's figures.</summary>
public sealed record StatusFigures(
    int Concurrency,
    int Instances,
    int Seconds,
    double RequestsPerSecond,
    long Succeeded,
    long Errors,
    long RateLimited,
    long Exceptions,
    string? FirstError,
    Percentiles LatencyMs,
    double? ServerCores,
    double ClientCores,
    int ClientGen0Collections);

/// <summary>What a control-plane run measured. Serialised as the JSON report.</summary>
public sealed record ControlReport
{
    public required string Machine { get; init; }

    public required DateTimeOffset FinishedAt { get; init; }

    public required int Instances { get; init; }

    public required int Burst { get; init; }

    public JoinSample? Cold { get; init; }

    /// <summary>CreateAgentInstance sent → its reply received, one at a time.</summary>
    public required Percentiles SequentialReplyMs { get; init; }

    /// <summary>CreateAgentInstance sent → StreamAdded of the agent's stream received by the user in the room, one at a time.</summary>
    public required Percentiles SequentialStreamAddedMs { get; init; }

    public required Percentiles BurstReplyMs { get; init; }

    public required Percentiles BurstStreamAddedMs { get; init; }

    public required int FailedCreations { get; init; }

    public StatusFigures? Status { get; init; }

    public required IReadOnlyList<JoinSample> Samples { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    internal static ControlReport Build(ControlOptions options, List<JoinSample> samples, StatusFigures? status)
    {
        Percentiles Of(string mode, Func<JoinSample, double?> pick) =>
            Percentiles.Of(samples.Where(s => s.Mode == mode && pick(s) is not null).Select(s => pick(s)!.Value));
        return new ControlReport
        {
            Machine = $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}",
            FinishedAt = DateTimeOffset.UtcNow,
            Instances = options.Instances,
            Burst = options.Burst,
            Cold = samples.FirstOrDefault(s => s.Mode == "cold"),
            SequentialReplyMs = Of("sequential", s => s.ReplyMs),
            SequentialStreamAddedMs = Of("sequential", s => s.StreamAddedMs),
            BurstReplyMs = Of("burst", s => s.ReplyMs),
            BurstStreamAddedMs = Of("burst", s => s.StreamAddedMs),
            FailedCreations = samples.Count(s => s.Error is not null),
            Status = status,
            Samples = samples,
        };
    }

    public string ToTable()
    {
        var s = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        s.AppendLine();
        s.AppendLine(inv, $"Parley control plane — {Machine}");
        if (Cold is { } cold)
        {
            s.AppendLine(inv, $"  cold instance (first)        reply {cold.ReplyMs:0.0} ms, StreamAdded {cold.StreamAddedMs:0.0} ms{(cold.Error is null ? "" : "  ! " + cold.Error)}");
        }

        s.AppendLine(inv, $"  sequential ×{Instances,-4} reply     {SequentialReplyMs}");
        s.AppendLine(inv, $"                    StreamAdded {SequentialStreamAddedMs}");
        if (Burst > 0)
        {
            s.AppendLine(inv, $"  bursts of {Burst,-4}     reply     {BurstReplyMs}");
            s.AppendLine(inv, $"                    StreamAdded {BurstStreamAddedMs}");
        }

        s.AppendLine(inv, $"  failed creations             {FailedCreations}");
        if (Status is { } st)
        {
            s.AppendLine(inv, $"  QueryAgentInstanceStatus     {st.RequestsPerSecond:0} req/s  ({st.Concurrency} loops, {st.Instances} instances, {st.Seconds} s, {st.Succeeded} ok)");
            s.AppendLine(inv, $"    latency                    {st.LatencyMs}");
            s.AppendLine(inv, $"    errors                     {st.Errors} (rate-limited {st.RateLimited}, exceptions {st.Exceptions}){(st.FirstError is null ? "" : "; first: " + st.FirstError)}");
            s.AppendLine(inv, $"    CPU (cores of 2)           server {st.ServerCores}, load generator {st.ClientCores} ({st.ClientGen0Collections} gen0 GCs)");
        }

        foreach (var failure in Samples.Where(x => x.Error is not null))
        {
            s.AppendLine(inv, $"  ! {failure.Mode} #{failure.Index}: {failure.Error}");
        }

        return s.ToString();
    }
}
