using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Parley.Testing;
using Parley.Testing.Callbacks;

namespace Parley.Server.Tests.Callbacks;

/// <summary>The server as a real process ended by SIGTERM or kill -9 while agent instances are live.</summary>
[Trait("Category", "RealEngine")]
public sealed class ShutdownCallbackTests : IDisposable
{
    private static readonly TestApp App = new(3000001, "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2");
    private readonly string _data = Path.Combine(Path.GetTempPath(), "parley-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Sigterm_WithThreeLiveInstances_QueuesThreeDeletedCallbacks_WithTheServerStoppedCode_AndLogsNoFailure()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        string output;
        string[] instances;
        await using (var server = await StartAsync(receiver))
        {
            var api = new RawApi(new HttpClient { BaseAddress = server.BaseAddress }, App);
            var agentId = await RegisterAgentAsync(api);
            instances = [await CreateAsync(api, agentId, 1), await CreateAsync(api, agentId, 2), await CreateAsync(api, agentId, 3)];
            await WaitForEventsAsync(receiver, "AgentInstanceCreated", 3);

            Assert.Equal(0, await server.TerminateAsync(TimeSpan.FromSeconds(60)));
            output = server.Output;
        }

        // Delivered before the exit or, at the latest, by the next process (the outbox is durable).
        await using (var again = await StartAsync(receiver))
        {
            var deleted = await WaitForEventsAsync(receiver, "AgentInstanceDeleted", 3);
            Assert.Equal(instances.Order(), deleted.Select(d => d.Body["AgentInstanceId"]!.GetValue<string>()).Order());
            Assert.All(deleted, d => Assert.Equal(1205, d.Data!["Code"]!.GetValue<int>()));
            Assert.All(deleted, d => Assert.Equal("ServerStopped", d.Data!["Reason"]!.GetValue<string>()));
            Assert.All(deleted, d => Assert.True(d.SignatureValid));
            await again.KillAsync();
        }

        // Exactly once: three Deleted rows in the outbox, no instance left recorded as live.
        Assert.Equal(3, await CountAsync("SELECT COUNT(*) FROM callback_outbox WHERE event = 'AgentInstanceDeleted'"));
        Assert.Equal(0, await CountAsync("SELECT COUNT(*) FROM live_instances"));

        // A clean stop logs no failure (it logged Orleans placement retries of the instance registry, through Polly).
        Assert.DoesNotContain("fail:", output, StringComparison.Ordinal);
        Assert.DoesNotContain("warn: Polly", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kill9_WithALiveInstance_NextStartSendsItsDeletedCallback_WithTheServerRestartedCode()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        string instance;
        await using (var server = await StartAsync(receiver))
        {
            var api = new RawApi(new HttpClient { BaseAddress = server.BaseAddress }, App);
            instance = await CreateAsync(api, await RegisterAgentAsync(api), 1);
            await WaitForEventsAsync(receiver, "AgentInstanceCreated", 1);
            await server.KillAsync();
        }

        Assert.DoesNotContain(receiver.Requests, r => r.Event == "AgentInstanceDeleted");
        await using (var again = await StartAsync(receiver))
        {
            var deleted = Assert.Single(await WaitForEventsAsync(receiver, "AgentInstanceDeleted", 1));
            Assert.Equal(instance, deleted.Body["AgentInstanceId"]!.GetValue<string>());
            Assert.Equal("agent_user_1", deleted.Body["AgentUserId"]!.GetValue<string>());
            Assert.Equal("room_1", deleted.Body["RoomId"]!.GetValue<string>());
            Assert.Equal(1201, deleted.Data!["Code"]!.GetValue<int>());
            Assert.Equal("ServerRestarted", deleted.Data!["Reason"]!.GetValue<string>());
            Assert.NotNull(deleted.Data!["LatencyData"]);
            Assert.True(deleted.SignatureValid);
            await again.KillAsync();
        }

        Assert.Equal(1, await CountAsync("SELECT COUNT(*) FROM callback_outbox WHERE event = 'AgentInstanceDeleted'"));
        Assert.Equal(0, await CountAsync("SELECT COUNT(*) FROM live_instances"));
    }

    private Task<ServerProcess> StartAsync(CallbackReceiver receiver) => ServerProcess.StartAsync(_data,
    [
        "--Parley:Apps:0:AppId", App.AppId.ToString(CultureInfo.InvariantCulture),
        "--Parley:Apps:0:ServerSecret", App.ServerSecret,
        "--Parley:Apps:0:CallbackUrl", receiver.Url.ToString(),
        "--Parley:Apps:0:CallbackSecret", receiver.Secret,
        "--Parley:Orleans:SiloPort", "0",
        "--Parley:Orleans:GatewayPort", "0",
        "--Parley:RateLimitPerSecond", "1000",
        "--Parley:Outbound:AllowLoopback", "true",
    ]);

    private static async Task<string> RegisterAgentAsync(RawApi api)
    {
        var reply = await api.CallAsync("RegisterAgent", new
        {
            AgentId = "shutdown_agent",
            LLM = new { Url = "http://127.0.0.1:9/v1/chat/completions", Model = "m" },
            TTS = new { Vendor = "Local" },
        });
        Assert.True(reply.Code() == 0, reply.ToString());
        return "shutdown_agent";
    }

    private static async Task<string> CreateAsync(RawApi api, string agentId, int n)
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
        Assert.True(reply.Code() == 0, reply.ToString());
        return reply.Data().GetProperty("AgentInstanceId").GetString()!;
    }

    private static async Task<IReadOnlyList<ReceivedCallback>> WaitForEventsAsync(CallbackReceiver receiver, string eventName, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var matching = receiver.Requests.Where(r => r.Event == eventName && r.ResponseStatus == 200)
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

    private async Task<long> CountAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_data, "parley.db")};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
