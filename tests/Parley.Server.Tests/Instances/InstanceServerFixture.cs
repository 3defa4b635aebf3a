using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Parley.Server.Callbacks;
using Parley.Testing;
using Parley.Testing.FakeLlm;

namespace Parley.Server.Tests.Instances;

/// <summary>Records published callback events (stands in for the outbox until it lands on main).</summary>
public sealed class RecordingCallbackPublisher : ICallbackPublisher
{
    private readonly ConcurrentQueue<CallbackEvent> _events = new();

    public IReadOnlyList<CallbackEvent> Events => [.. _events];

    public ValueTask PublishAsync(CallbackEvent callbackEvent, CancellationToken cancellationToken)
    {
        _events.Enqueue(callbackEvent);
        return ValueTask.CompletedTask;
    }

    public IReadOnlyList<CallbackEvent> For(string instanceId) => [.. _events.Where(e => e.AgentInstanceId == instanceId)];

    public async Task<CallbackEvent> WaitForAsync(string instanceId, string eventName, Func<JsonObject, bool>? where = null, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var match = _events.FirstOrDefault(e => e.AgentInstanceId == instanceId && e.Event == eventName && (where is null || where(e.Data)));
            if (match is not null)
            {
                return match;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no {eventName} callback for {instanceId}; got: {string.Join(", ", For(instanceId).Select(e => e.Event + e.Data.ToJsonString()))}");
            }

            await Task.Delay(10);
        }
    }
}

/// <summary>A server with two apps, a fake LLM and a recording callback publisher, shared by a test class.</summary>
public sealed class InstanceServerFixture : IAsyncLifetime
{
    public static readonly TestApp AppA = new(2000001, "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0");
    public static readonly TestApp AppB = new(2000002, "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1");
    private int _counter;

    public ParleyTestServer Server { get; private set; } = null!;

    public FakeLlmServer Llm { get; private set; } = null!;

    public RecordingCallbackPublisher Callbacks { get; } = new();

    public int MaxInstances => 50;

    public RawApi Api(TestApp? app = null) => new(Server.CreateHttpClient(), app ?? AppA);

    /// <summary>Polls QueryAgentInstanceStatus until the instance reports <paramref name="status"/> (10 s at most).</summary>
    public async Task WaitForStatusAsync(string instanceId, string status)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var reply = await Api().CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = instanceId });
            Assert.True(reply.Code() == 0, $"expected 0: {reply}");
            if (reply.Status() == status)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"status stayed {reply.Status()}, expected {status}");
            await Task.Delay(20);
        }
    }

    /// <summary>The instance's context (GetAgentInstanceMsgList), checked against its Total.</summary>
    public async Task<(string Role, string Content)[]> MessagesAsync(string instanceId)
    {
        var reply = await Api().CallAsync("GetAgentInstanceMsgList", new { AgentInstanceId = instanceId });
        Assert.True(reply.Code() == 0, $"expected 0: {reply}");
        var list = reply.Data().GetProperty("MessageList").EnumerateArray()
            .Select(m => (m.GetProperty("Role").GetString()!, m.GetProperty("Content").GetString()!)).ToArray();
        Assert.Equal(list.Length, reply.Data().GetProperty("Total").GetInt32());
        return list;
    }

    public async Task InitializeAsync()
    {
        Llm = await FakeLlmServer.StartAsync();
        Server = await StartServerAsync(Llm, Callbacks, MaxInstances);
    }

    public static Task<ParleyTestServer> StartServerAsync(FakeLlmServer llm, RecordingCallbackPublisher callbacks, int maxInstances) =>
        ParleyTestServer.StartAsync(
            [AppA, AppB],
            new Dictionary<string, string?>
            {
                ["Parley:RateLimitPerSecond"] = "1000",
                ["Parley:MaxInstancesPerApp"] = maxInstances.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Parley:Orleans:SiloPort"] = "0",
                ["Parley:Orleans:GatewayPort"] = "0",
                ["Parley:Llm:StallTimeoutSeconds"] = "2",
            },
            builder => builder.Services.Replace(ServiceDescriptor.Singleton<ICallbackPublisher>(callbacks)));

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        await Llm.DisposeAsync();
    }

    public string Unique(string prefix) => $"{prefix}_{Interlocked.Increment(ref _counter)}";

    /// <summary>Registers an agent calling the fake LLM; returns its id.</summary>
    public async Task<string> RegisterAgentAsync(TestApp? app = null, JsonObject? llm = null)
    {
        var agentId = Unique("agent");
        var body = new JsonObject
        {
            ["AgentId"] = agentId,
            ["Name"] = "Test agent",
            ["LLM"] = llm ?? new JsonObject { ["Url"] = Llm.Url, ["ApiKey"] = "sk-agent", ["Model"] = "agent-model", ["SystemPrompt"] = "Be brief." },
            ["TTS"] = new JsonObject { ["Vendor"] = "Local" },
        };
        var reply = await Api(app).CallAsync("RegisterAgent", body);
        Assert.True(reply.Code() == 0, reply.ToString());
        return agentId;
    }

    public JsonObject CreateBody(string agentId, string? agentUserId = null, string? streamId = null) => new()
    {
        ["AgentId"] = agentId,
        ["UserId"] = "user_1",
        ["RTC"] = new JsonObject
        {
            ["RoomId"] = "room_1",
            ["AgentStreamId"] = streamId ?? Unique("agent_stream"),
            ["AgentUserId"] = agentUserId ?? Unique("agent_user"),
            ["UserStreamId"] = "user_stream_1",
        },
        ["CallbackConfig"] = new JsonObject { ["LLMResult"] = 1, ["Interrupted"] = 1 },
    };

    public async Task<string> CreateInstanceAsync(JsonObject body, TestApp? app = null)
    {
        var reply = await Api(app).CallAsync("CreateAgentInstance", body);
        Assert.True(reply.Code() == 0, reply.ToString());
        return reply.Data().GetProperty("AgentInstanceId").GetString()!;
    }
}

public sealed class LimitedServerFixture : IAsyncLifetime
{
    public FakeLlmServer Llm { get; private set; } = null!;

    public ParleyTestServer Server { get; private set; } = null!;

    public RecordingCallbackPublisher Callbacks { get; } = new();

    public async Task InitializeAsync()
    {
        Llm = await FakeLlmServer.StartAsync();
        Server = await InstanceServerFixture.StartServerAsync(Llm, Callbacks, maxInstances: 2);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        await Llm.DisposeAsync();
    }
}

internal static class JsonElementExtensions
{
    public static string Status(this JsonElement envelope) => envelope.Data().GetProperty("Status").GetString()!;
}
