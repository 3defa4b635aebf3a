using Parley.Rtc.Tokens;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.Postgres;
using Parley.Testing.Rooms;

namespace Parley.Server.Tests.Cluster;

/// <summary>Rooms live where their agents live: a client that logs in on another node is redirected to the agent's node.</summary>
[Trait("Category", "RealEngine")]
public sealed class ClusterRoomTests(PostgresDatabaseFixture postgres) : IClassFixture<PostgresDatabaseFixture>
{
    private static readonly TestApp App = new(3000017, "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5");

    [PostgresFact]
    public async Task ClientLoggingInOnANodeWithoutTheAgent_IsRedirectedToTheAgentsNode_AndHearsTheAgentThere()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        await using var cluster = await ThreeNodeCluster.StartAsync(postgres, App, receiver, maxInstances: 3);
        var agentId = await ThreeNodeCluster.RegisterAgentAsync(cluster.Api(0, App));
        var created = await ThreeNodeCluster.CreateAsync(cluster.Api(0, App), agentId, 1);
        Assert.True(created["Code"]!.GetValue<int>() == 0, created.ToJsonString());
        var instance = created["Data"]!["AgentInstanceId"]!.GetValue<string>();
        await ThreeNodeCluster.WaitForEventsAsync(receiver, "AgentInstanceCreated", 1, instance);
        var host = await cluster.HostOfAsync(instance);
        var other = host == 2 ? 1 : 2;

        var token = Token04.Mint(App.AppId, "user_1", App.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
        await using (var elsewhere = await RoomTestClient.ConnectAsync(cluster.Node(other).BaseAddress))
        {
            var redirect = await elsewhere.LoginAsync(token, "room_1", "user_1");
            Assert.Equal(Parley.Rtc.WebSockets.RtcCodes.RoomOnAnotherNode, redirect.GetProperty("Code").GetInt32());
            var target = new Uri(redirect.GetProperty("Redirect").GetString()!);
            Assert.Equal("ws", target.Scheme);
            Assert.Equal(cluster.Node(host).BaseAddress.Port, target.Port);
            Assert.Equal("/rtc/ws", target.AbsolutePath);
        }

        // On the agent's node the login succeeds and the agent's stream is there; a control call through the third
        // node makes the agent speak, and the client hears it.
        await using var client = await RoomTestClient.ConnectAsync(cluster.Node(host).BaseAddress);
        var login = await client.LoginAsync(token, "room_1", "user_1");
        Assert.True(login.GetProperty("Code").GetInt32() == 0, login.GetRawText());
        Assert.Contains(login.GetProperty("Streams").EnumerateArray(), s => s.GetProperty("StreamId").GetString() == "agent_stream_1");
        Assert.Equal(0, (await client.PlayAsync("agent_stream_1")).GetProperty("Code").GetInt32());
        var third = 3 - host - other;
        var speak = await cluster.Api(third, App).CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = instance, Text = "Hello from the agent's node." });
        Assert.True(speak.Code() == 0, speak.ToString());
        var frames = await client.WaitForAudioToEndAsync(TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(30));
        var loud = frames.Count(f => f.Samples.Any(s => Math.Abs((int)s) > 500));
        Assert.True(loud > 10, $"expected the agent's speech, got {frames.Count} frames ({loud} with sound)");
    }
}
