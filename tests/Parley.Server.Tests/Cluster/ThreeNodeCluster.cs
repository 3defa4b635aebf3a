using System.Globalization;
using System.Text.Json.Nodes;
using Npgsql;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.Postgres;

namespace Parley.Server.Tests.Cluster;

/// <summary>
/// Three server processes on loopback sharing one PostgreSQL database (its own, in the private test server): ADO.NET
/// membership, the shared stores, each node with its own ports, data directory and public URL.
/// </summary>
internal sealed class ThreeNodeCluster : IAsyncDisposable
{
    private readonly List<string> _directories = [];

    private readonly IReadOnlyList<string> _extraArguments;

    private ThreeNodeCluster(string connectionString, IReadOnlyList<string> extraArguments)
    {
        ConnectionString = connectionString;
        _extraArguments = extraArguments;
    }

    public string ConnectionString { get; }

    public List<ServerProcess?> Nodes { get; } = [];

    /// <summary>Starts <paramref name="count"/> nodes; <paramref name="extraArguments"/> are added to every node's command line.</summary>
    public static async Task<ThreeNodeCluster> StartAsync(PostgresDatabaseFixture postgres, TestApp app, CallbackReceiver receiver, int maxInstances, int count = 3, IReadOnlyList<string>? extraArguments = null)
    {
        var cluster = new ThreeNodeCluster(await postgres.CreateAnotherAsync("cluster"), extraArguments ?? []);
        try
        {
            // The first node migrates the schema; the others join the membership it created.
            for (var i = 0; i < count; i++)
            {
                cluster.Nodes.Add(await cluster.StartNodeAsync(app, receiver, maxInstances));
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    /// <summary>SIGTERM node <paramref name="index"/>, wait for its exit (code 0 expected), start a fresh process in its place.</summary>
    public async Task<int> RestartAsync(int index, TestApp app, CallbackReceiver receiver, int maxInstances)
    {
        var code = await Node(index).TerminateAsync(TimeSpan.FromSeconds(90));
        await Node(index).DisposeAsync();
        Nodes[index] = await StartNodeAsync(app, receiver, maxInstances);
        return code;
    }

    public ServerProcess Node(int index) => Nodes[index] ?? throw new InvalidOperationException($"node {index + 1} is down");

    public RawApi Api(int index, TestApp app) => new(new HttpClient { BaseAddress = Node(index).BaseAddress, Timeout = TimeSpan.FromSeconds(60) }, app);

    /// <summary>The index of the node whose process hosts <paramref name="instanceId"/> (from the shared journal).</summary>
    public async Task<int> HostOfAsync(string instanceId)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT n.address FROM parley_live_instances l JOIN parley_nodes n ON n.node_id = l.node_id WHERE l.agent_instance_id = @id
            """, connection);
        command.Parameters.AddWithValue("id", instanceId);
        var address = (string?)await command.ExecuteScalarAsync() ?? throw new InvalidOperationException($"instance {instanceId} is not recorded live");
        return Nodes.FindIndex(n => n is not null && n.BaseAddress == new Uri(address));
    }

    public async Task<long> CountAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }

        foreach (var directory in _directories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task<ServerProcess> StartNodeAsync(TestApp app, CallbackReceiver receiver, int maxInstances)
    {
        var data = Path.Combine(Path.GetTempPath(), "parley-tests", Guid.NewGuid().ToString("N"));
        _directories.Add(data);
        var port = ServerProcess.FreePort();
        return await ServerProcess.StartAsync(data,
        [
            "--Parley:Apps:0:AppId", app.AppId.ToString(CultureInfo.InvariantCulture),
            "--Parley:Apps:0:ServerSecret", app.ServerSecret,
            "--Parley:Apps:0:CallbackUrl", receiver.Url.ToString(),
            "--Parley:Apps:0:CallbackSecret", receiver.Secret,
            "--Parley:MaxInstancesPerApp", maxInstances.ToString(CultureInfo.InvariantCulture),
            "--Parley:Store:Provider", "PostgreSQL",
            "--Parley:Store:ConnectionString", ConnectionString,
            "--Parley:Cluster:SiloPort", "0",
            "--Parley:Cluster:GatewayPort", "0",
            "--Parley:Cluster:AdvertisedAddress", "127.0.0.1",
            "--Parley:Cluster:PublicUrl", $"http://127.0.0.1:{port}/",
            "--Parley:Cluster:NodeLeaseSeconds", "3",
            "--Parley:Cluster:ProbeTimeoutSeconds", "1",
            "--Parley:Cluster:DrainTimeoutSeconds", "6",
            "--Parley:RateLimitPerSecond", "1000",
            "--Parley:Outbound:AllowLoopback", "true",
            .. _extraArguments,
        ], port: port);
    }

    public static async Task<string> RegisterAgentAsync(RawApi api)
    {
        var reply = await api.CallAsync("RegisterAgent", new
        {
            AgentId = "cluster_agent",
            LLM = new { Url = "parley:demo", Model = "m" },
            TTS = new { Vendor = "Local" },
        });
        Assert.True(reply.Code() == 0, reply.ToString());
        return "cluster_agent";
    }

    public static async Task<JsonObject> CreateAsync(RawApi api, string agentId, int n)
    {
        var reply = await api.CallAsync("CreateAgentInstance", new JsonObject
        {
            ["AgentId"] = agentId,
            ["UserId"] = $"user_{n}",
            ["RTC"] = new JsonObject
            {
                ["RoomId"] = $"room_{n}",
                ["AgentStreamId"] = $"agent_stream_{n}",
                ["AgentUserId"] = $"agent_user_{n}",
                ["UserStreamId"] = $"user_stream_{n}",
            },
        });
        return JsonNode.Parse(reply.ToString())!.AsObject();
    }

    public static async Task<IReadOnlyList<ReceivedCallback>> WaitForEventsAsync(CallbackReceiver receiver, string eventName, int count, string? instanceId = null, int seconds = 90)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (true)
        {
            var matching = receiver.Requests.Where(r => r.Event == eventName && r.ResponseStatus == 200
                    && (instanceId is null || r.Body["AgentInstanceId"]?.GetValue<string>() == instanceId))
                .DistinctBy(r => r.Sequence).ToList();
            if (matching.Count >= count)
            {
                return matching;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"expected {count} {eventName} callbacks, got {matching.Count}: {string.Join(", ", receiver.Requests.Select(r => r.Event))}");
            }

            await Task.Delay(50);
        }
    }
}
