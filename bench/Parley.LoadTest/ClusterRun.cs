using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Rtc.Tokens;
using Parley.Testing.FakeLlm;
using Parley.Testing.Postgres;
using Parley.Testing.Rooms;

namespace Parley.LoadTest;

/// <summary>What the <c>cluster</c> subcommand does. Defaults are the documented command's.</summary>
public sealed record ClusterOptions
{
    public int Nodes { get; init; } = 3;

    /// <summary>Instances created one after another (through the nodes in turn), each followed by its user's login.</summary>
    public int Instances { get; init; } = 12;

    /// <summary>Measured status queries per path (through the owning node, through a forwarding node).</summary>
    public int Queries { get; init; } = 400;

    public uint AppId { get; init; } = 4100002;

    public string ServerSecret { get; init; } = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";

    public string? OutFile { get; init; }

    public const string Usage = """
        Parley cluster benchmark (subcommand `cluster`): N server processes on one private PostgreSQL (started and
        removed by the run, fsync off), the agent placed by the cluster, the user logging in on another node.

          --nodes N        server processes (default 3)
          --instances K    instances created one after another, through the nodes in turn (default 12)
          --queries Q      measured QueryAgentInstanceStatus per path, one at a time (default 400)
          --out FILE       write the JSON report to FILE
        """;

    public static ClusterOptions Parse(IReadOnlyList<string> args)
    {
        var options = new ClusterOptions();
        var reader = new ArgumentReader(args);
        while (reader.MoveNext())
        {
            var name = reader.Name;
            options = name switch
            {
                "--nodes" => options with { Nodes = reader.Int(2, 9) },
                "--instances" => options with { Instances = reader.Int(1, 1000) },
                "--queries" => options with { Queries = reader.Int(10, 1_000_000) },
                "--out" => options with { OutFile = reader.Value() },
                _ => throw new ArgumentException($"unknown option '{name}'"),
            };
        }

        return options;
    }
}

/// <summary>One creation: its reply, the user in the room with the agent's stream (login redirect included), where it went.</summary>
public sealed record ClusterJoin(int Index, int ThroughNode, int HostNode, int LoginNode, bool Redirected, double? ReplyMs, double? InRoomMs, string? Error);

/// <summary>The figures of a <c>cluster</c> run.</summary>
public sealed record ClusterReport(
    int Nodes,
    ClusterJoin Cold,
    IReadOnlyList<ClusterJoin> Joins,
    Percentiles ReplyMs,
    Percentiles InRoomMs,
    Percentiles InRoomRedirectedMs,
    Percentiles InRoomDirectMs,
    IReadOnlyList<int> InstancesPerNode,
    Percentiles StatusOwnerMs,
    Percentiles StatusForwardedMs,
    int StatusErrors)
{
    public string ToTable()
    {
        var inv = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        s.AppendLine(inv, $"cluster of {Nodes} nodes on one PostgreSQL");
        s.AppendLine(inv, $"  cold instance            reply {Cold.ReplyMs:0.0} ms, in room {Cold.InRoomMs:0.0} ms{(Cold.Error is null ? "" : "  ! " + Cold.Error)}");
        s.AppendLine(inv, $"  CreateAgentInstance      reply {F(ReplyMs)}");
        s.AppendLine(inv, $"  create → user in room    {F(InRoomMs)}");
        s.AppendLine(inv, $"    login redirected       {F(InRoomRedirectedMs)}");
        s.AppendLine(inv, $"    login on agent's node  {F(InRoomDirectMs)}");
        s.AppendLine(inv, $"  instances per node       {string.Join(" / ", InstancesPerNode)}");
        s.AppendLine(inv, $"  status via owning node   {F(StatusOwnerMs)}");
        s.AppendLine(inv, $"  status via other node    {F(StatusForwardedMs)}");
        s.AppendLine(inv, $"  status errors            {StatusErrors}");
        foreach (var failed in Joins.Where(j => j.Error is not null))
        {
            s.AppendLine(inv, $"  ! creation {failed.Index}: {failed.Error}");
        }

        return s.ToString();
    }

    private static string F(Percentiles p) => p.Count == 0
        ? "n/a (no samples)"
        : string.Create(CultureInfo.InvariantCulture, $"p50 {p.P50:0.0} ms, p95 {p.P95:0.0} ms, p99 {p.P99:0.0} ms, max {p.Max:0.0} ms (n={p.Count})");

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>
/// The cluster benchmark: N <see cref="ServerHost"/> processes on one private PostgreSQL. Each instance is created
/// through the nodes in turn (as a round-robin balancer would), and its user then logs in on the next node — a
/// redirect when the agent was placed elsewhere. Then signed QueryAgentInstanceStatus, one at a time, alternately
/// through each instance's owning node and through another node (forwarded through Orleans).
/// </summary>
public static class ClusterRun
{
    public static async Task<ClusterReport> RunAsync(ClusterOptions options, TextWriter? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        log ??= TextWriter.Null;
        await using var llm = await FakeLlmServer.StartAsync(cancellationToken);
        log.WriteLine("starting PostgreSQL …");
        // The process-wide server (stopped and removed when this process exits): not disposed here, a test run shares it.
        var postgres = await PostgresTestCluster.Shared;
        var database = await postgres.CreateDatabaseAsync("bench", cancellationToken);
        var connection = postgres.ConnectionString(database);
        var nodes = new List<ServerHost>();
        var users = new List<RoomTestClient>();
        var https = new List<HttpClient>();
        var instanceIds = new Dictionary<int, string>();
        try
        {
            for (var i = 0; i < options.Nodes; i++)
            {
                var port = Parley.Testing.ServerProcess.FreePort();
                nodes.Add(await ServerHost.StartAsync(
                    new LoadOptions { AppId = options.AppId, ServerSecret = options.ServerSecret },
                    cancellationToken,
                    [
                        "--Parley:RateLimitPerSecond", "0",
                        "--Parley:Store:Provider", "PostgreSQL",
                        "--Parley:Store:ConnectionString", connection,
                        "--Parley:Cluster:AdvertisedAddress", "127.0.0.1",
                        "--Parley:Cluster:PublicUrl", $"http://127.0.0.1:{port}/",
                    ],
                    port));
                log.WriteLine($"node {i + 1}: pid {nodes[^1].Pid} at {nodes[^1].BaseAddress}");
            }

            await WaitReadyAsync(nodes, cancellationToken);
            var apis = nodes.Select(n =>
            {
                var http = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = n.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
                https.Add(http);
                return new ParleyClient(http, n.BaseAddress, options.AppId, options.ServerSecret);
            }).ToList();
            var agentId = "cluster_" + Guid.NewGuid().ToString("N")[..8];
            var registered = await apis[0].RegisterAgentAsync(new RegisterAgentRequest
            {
                AgentId = agentId,
                LLM = new LlmConfig { Url = llm.Url, Model = "fake" },
                TTS = new TtsConfig { Vendor = "Local", Params = new JsonObject { ["engine"] = "flite", ["voice"] = "kal16" } },
            }, cancellationToken);
            if (registered.Code != 0)
            {
                throw new InvalidOperationException($"RegisterAgent failed: {registered.Code} {registered.Message}");
            }

            log.WriteLine($"cold instance, then {options.Instances} one after another …");
            var cold = await JoinAsync(0);
            var joins = new List<ClusterJoin>();
            for (var i = 1; i <= options.Instances; i++)
            {
                await Task.Delay(200, cancellationToken);
                joins.Add(await JoinAsync(i));
            }

            log.WriteLine($"status queries: {options.Queries} through the owning node, {options.Queries} forwarded …");
            var live = joins.Prepend(cold).Where(j => j.Error is null).Select(j => (Id: instanceIds[j.Index], j.HostNode)).ToList();
            var (owner, forwarded, errors) = await MeasureStatusAsync(apis, live, options.Queries, cancellationToken);
            var ok = joins.Where(j => j.Error is null).ToList();
            return new ClusterReport(
                options.Nodes,
                cold,
                joins,
                Percentiles.Of(ok.Select(j => j.ReplyMs!.Value)),
                Percentiles.Of(ok.Select(j => j.InRoomMs!.Value)),
                Percentiles.Of(ok.Where(j => j.Redirected).Select(j => j.InRoomMs!.Value)),
                Percentiles.Of(ok.Where(j => !j.Redirected).Select(j => j.InRoomMs!.Value)),
                [.. Enumerable.Range(0, options.Nodes).Select(n => joins.Prepend(cold).Count(j => j.Error is null && j.HostNode == n))],
                owner,
                forwarded,
                errors);

            async Task<ClusterJoin> JoinAsync(int index)
            {
                var through = index % nodes.Count;
                var loginNode = (index + 1) % nodes.Count;
                try
                {
                    var sent = Stopwatch.GetTimestamp();
                    var reply = await apis[through].CreateAgentInstanceAsync(new CreateAgentInstanceRequest
                    {
                        AgentId = agentId,
                        UserId = $"user_{index}",
                        RTC = new RtcConfig { RoomId = $"room_{index}", AgentStreamId = $"agent_s{index}", AgentUserId = $"agent_{index}", UserStreamId = $"user_s{index}" },
                    }, cancellationToken);
                    var replied = Stopwatch.GetTimestamp();
                    if (reply.Code != 0 || reply.Data is null)
                    {
                        return new ClusterJoin(index, through, -1, loginNode, false, null, null, $"CreateAgentInstance: {reply.Code} {reply.Message}");
                    }

                    instanceIds[index] = reply.Data.AgentInstanceId;
                    var user = await RoomTestClient.ConnectAsync(nodes[loginNode].BaseAddress, cancellationToken);
                    users.Add(user);
                    var token = Token04.Mint(options.AppId, $"user_{index}", options.ServerSecret, TimeSpan.FromHours(2), "", TimeProvider.System);
                    var login = await user.LoginAsync(token, $"room_{index}", $"user_{index}", cancellationToken: cancellationToken);
                    if (login.GetProperty("Code").GetInt32() != 0)
                    {
                        return new ClusterJoin(index, through, -1, loginNode, user.RedirectsFollowed > 0, null, null, "Login: " + login.GetRawText());
                    }

                    // In the room with the agent: its stream in the LoginResult, or announced after it.
                    var agentStream = $"agent_s{index}";
                    long arrived;
                    if (login.GetProperty("Streams").EnumerateArray().Any(s => s.GetProperty("StreamId").GetString() == agentStream))
                    {
                        arrived = user.ArrivalOf(login);
                    }
                    else
                    {
                        var added = await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamAdded" && m.GetProperty("StreamId").GetString() == agentStream, TimeSpan.FromSeconds(20), cancellationToken);
                        arrived = user.ArrivalOf(added);
                    }

                    var host = nodes.FindIndex(n => n.BaseAddress.Port == user.ServerBase.Port);
                    return new ClusterJoin(index, through, host, loginNode, user.RedirectsFollowed > 0,
                        Math.Round(Stopwatch.GetElapsedTime(sent, replied).TotalMilliseconds, 2),
                        Math.Round(Stopwatch.GetElapsedTime(sent, arrived).TotalMilliseconds, 2), null);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    return new ClusterJoin(index, through, -1, loginNode, false, null, null, ex.GetType().Name + ": " + ex.Message);
                }
            }
        }
        finally
        {
            foreach (var user in users)
            {
                await user.DisposeAsync();
            }

            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            foreach (var http in https)
            {
                http.Dispose();
            }

            await postgres.DropDatabaseAsync(database, CancellationToken.None);
        }
    }

    private static async Task WaitReadyAsync(List<ServerHost> nodes, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        foreach (var node in nodes)
        {
            while (!(await http.GetAsync(new Uri(node.BaseAddress, "readyz"), cancellationToken)).IsSuccessStatusCode)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{node.BaseAddress} not ready within 60 s:\n{node.Output}");
                }

                await Task.Delay(200, cancellationToken);
            }
        }
    }

    /// <summary>
    /// One query at a time, alternating: through the instance's owning node, then through the next node (its call
    /// forwarded to the owner's silo), over the live instances in turn; 10 % of the count first, unmeasured.
    /// </summary>
    private static async Task<(Percentiles Owner, Percentiles Forwarded, int Errors)> MeasureStatusAsync(
        List<ParleyClient> apis, List<(string Id, int HostNode)> live, int count, CancellationToken cancellationToken)
    {
        if (live.Count == 0)
        {
            return (Percentiles.Of([]), Percentiles.Of([]), 0);
        }

        var owner = new List<double>(count);
        var forwarded = new List<double>(count);
        var errors = 0;
        var warmup = Math.Max(1, count / 10);
        for (var i = 0; i < warmup + count; i++)
        {
            var (id, host) = live[i % live.Count];
            foreach (var (node, into) in new[] { (host, owner), ((host + 1 + (i % (apis.Count - 1))) % apis.Count, forwarded) })
            {
                var started = Stopwatch.GetTimestamp();
                var reply = await apis[node].QueryAgentInstanceStatusAsync(id, cancellationToken);
                var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (reply.Code != 0)
                {
                    errors++;
                }
                else if (i >= warmup)
                {
                    into.Add(ms);
                }
            }
        }

        return (Percentiles.Of(owner), Percentiles.Of(forwarded), errors);
    }
}
