using System.Net;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.Postgres;

namespace Parley.Server.Tests.Cluster;

/// <summary>Three server processes on loopback, one PostgreSQL: one control API, one instance limit, nothing lost when a node dies.</summary>
[Trait("Category", "RealEngine")]
public sealed class ClusterTests(PostgresDatabaseFixture postgres) : IClassFixture<PostgresDatabaseFixture>
{
    private static readonly TestApp App = new(3000016, "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4");

    [PostgresFact]
    public async Task InstanceCreatedThroughNode1_IsQueriedAndDeletedThroughTheOthers_AndTheLimitIsCountedAcrossNodes()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        await using var cluster = await ThreeNodeCluster.StartAsync(postgres, App, receiver, maxInstances: 2);
        foreach (var i in new[] { 0, 1, 2 })
        {
            using var http = new HttpClient { BaseAddress = cluster.Node(i).BaseAddress };
            var ready = await http.GetAsync("readyz");
            Assert.True(ready.StatusCode == HttpStatusCode.OK, await ready.Content.ReadAsStringAsync());
        }

        // The three silos joined through Parley's membership table: three Active rows (SiloStatus.Active = 3), and
        // the table version moved with every join.
        Assert.Equal(3, await cluster.CountAsync("SELECT COUNT(*) FROM parley_cluster_members WHERE status = 3"));
        Assert.True(await cluster.CountAsync("SELECT MAX(version)::bigint FROM parley_cluster_version") >= 3);

        var agentId = await ThreeNodeCluster.RegisterAgentAsync(cluster.Api(0, App));
        var first = await ThreeNodeCluster.CreateAsync(cluster.Api(0, App), agentId, 1);
        Assert.True(first["Code"]!.GetValue<int>() == 0, first.ToJsonString());
        var instance = first["Data"]!["AgentInstanceId"]!.GetValue<string>();

        // Every node serves the whole API: the agent registered through node 1 is known on node 3, and the status of
        // the instance is answered through node 2, wherever its grain lives.
        var status = await cluster.Api(1, App).CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = instance });
        Assert.True(status.Code() == 0, status.ToString());
        var second = await ThreeNodeCluster.CreateAsync(cluster.Api(2, App), agentId, 2);
        Assert.True(second["Code"]!.GetValue<int>() == 0, second.ToJsonString());

        // The app's limit (2) holds across nodes: a third instance through node 2 is refused.
        var third = await ThreeNodeCluster.CreateAsync(cluster.Api(1, App), agentId, 3);
        Assert.Equal(Parley.Server.Api.ReturnCodes.InstanceConcurrencyLimit, third["Code"]!.GetValue<int>());
        Assert.Equal(2, await cluster.CountAsync("SELECT COUNT(*) FROM parley_instance_slots"));

        // Deleted through node 3: the slot is freed cluster-wide and the Deleted callback is sent once.
        var deleted = await cluster.Api(2, App).CallAsync("DeleteAgentInstance", new { AgentInstanceId = instance });
        Assert.True(deleted.Code() == 0, deleted.ToString());
        var again = await ThreeNodeCluster.CreateAsync(cluster.Api(1, App), agentId, 3);
        Assert.True(again["Code"]!.GetValue<int>() == 0, again.ToJsonString());
        var callbacks = await ThreeNodeCluster.WaitForEventsAsync(receiver, "AgentInstanceDeleted", 1, instance);
        Assert.Single(callbacks);
        Assert.Equal(0, callbacks[0].Data!["Code"]!.GetValue<int>());
    }

    [PostgresFact]
    public async Task Kill9OfTheNodeHostingAnInstance_ASurvivorSendsItsExceptionAndDeleted_AndTheSlotIsFreed()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        await using var cluster = await ThreeNodeCluster.StartAsync(postgres, App, receiver, maxInstances: 1);
        var agentId = await ThreeNodeCluster.RegisterAgentAsync(cluster.Api(0, App));
        var created = await ThreeNodeCluster.CreateAsync(cluster.Api(0, App), agentId, 1);
        Assert.True(created["Code"]!.GetValue<int>() == 0, created.ToJsonString());
        var instance = created["Data"]!["AgentInstanceId"]!.GetValue<string>();
        await ThreeNodeCluster.WaitForEventsAsync(receiver, "AgentInstanceCreated", 1, instance);

        var host = await cluster.HostOfAsync(instance);
        Assert.InRange(host, 0, 2);
        await cluster.Node(host).KillAsync();
        cluster.Nodes[host] = null;
        var survivor = host == 0 ? 1 : 0;

        var exception = Assert.Single(await ThreeNodeCluster.WaitForEventsAsync(receiver, "Exception", 1, instance));
        Assert.Equal(1201, exception.Data!["Code"]!.GetValue<int>());
        var deleted = Assert.Single(await ThreeNodeCluster.WaitForEventsAsync(receiver, "AgentInstanceDeleted", 1, instance));
        Assert.Equal(1201, deleted.Data!["Code"]!.GetValue<int>());
        Assert.True(deleted.SignatureValid);
        Assert.Equal("agent_user_1", deleted.Body["AgentUserId"]!.GetValue<string>());

        // The slot is free: a new instance is admitted through a survivor (the registry may first have to move off
        // the dead node, which takes Orleans a few probes).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        System.Text.Json.Nodes.JsonObject next;
        do
        {
            next = await ThreeNodeCluster.CreateAsync(cluster.Api(survivor, App), agentId, 2);
        }
        while (next["Code"]!.GetValue<int>() != 0 && DateTime.UtcNow < deadline);
        Assert.True(next["Code"]!.GetValue<int>() == 0, next.ToJsonString());

        // At least once, and here exactly once: one Deleted row for the lost instance in the shared outbox.
        Assert.Equal(1, await cluster.CountAsync($"SELECT COUNT(*) FROM parley_callback_outbox WHERE event = 'AgentInstanceDeleted' AND agent_instance_id = '{instance}'"));
        Assert.Single(receiver.Requests.Where(r => r.Event == "AgentInstanceDeleted" && r.Body["AgentInstanceId"]?.GetValue<string>() == instance).DistinctBy(r => r.Sequence));
    }

    [PostgresFact]
    public async Task ADrainedNode_IsNotReady_TakesNoNewInstances_AndEndsItsLiveOnesCleanlyAfterTheDrainTimeout()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        await using var cluster = await ThreeNodeCluster.StartAsync(postgres, App, receiver, maxInstances: 10);
        var agentId = await ThreeNodeCluster.RegisterAgentAsync(cluster.Api(0, App));
        var first = await ThreeNodeCluster.CreateAsync(cluster.Api(0, App), agentId, 1);
        Assert.True(first["Code"]!.GetValue<int>() == 0, first.ToJsonString());
        var instance = first["Data"]!["AgentInstanceId"]!.GetValue<string>();
        var host = await cluster.HostOfAsync(instance);
        var survivor = host == 0 ? 1 : 0;

        // A user in the instance's room, on its node: a live call.
        await ThreeNodeCluster.WaitForEventsAsync(receiver, "AgentInstanceCreated", 1, instance);
        await using var user = await Parley.Testing.Rooms.RoomTestClient.ConnectAsync(cluster.Node(host).BaseAddress);
        var token = Parley.Rtc.Tokens.Token04.Mint(App.AppId, "user_1", App.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
        Assert.Equal(0, (await user.LoginAsync(token, "room_1", "user_1")).GetProperty("Code").GetInt32());
        Assert.Equal(0, (await user.PlayAsync("agent_stream_1")).GetProperty("Code").GetInt32());

        // SIGTERM: the node drains (its live instance keeps running up to the drain timeout of 6 s).
        var drained = cluster.Node(host);
        var exit = drained.TerminateAsync(TimeSpan.FromSeconds(90));
        using (var http = new HttpClient { BaseAddress = drained.BaseAddress, Timeout = TimeSpan.FromSeconds(5) })
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            HttpStatusCode status;
            do
            {
                // Strict: the node keeps listening through the drain, so a refused connection fails the test.
                status = (await http.GetAsync("readyz")).StatusCode;
            }
            while (status == HttpStatusCode.OK && DateTime.UtcNow < deadline);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.Contains("\"draining\":true", await (await http.GetAsync("readyz")).Content.ReadAsStringAsync(), StringComparison.Ordinal);

            // The draining node still serves calls: its live instance answers through it.
            var served = await cluster.Api(host, App).CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = instance });
            Assert.True(served.Code() == 0, served.ToString());

            // The live call goes on through the drain: the agent speaks and the user in the room hears it.
            var speak = await cluster.Api(survivor, App).CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = instance, Text = "Still here." });
            Assert.True(speak.Code() == 0, speak.ToString());
            var frames = await user.WaitForAudioToEndAsync(TimeSpan.FromMilliseconds(600), TimeSpan.FromSeconds(5));
            Assert.True(frames.Count(f => f.Samples.Any(x => Math.Abs((int)x) > 500)) > 5, $"the user heard {frames.Count} frames during the drain");
        }

        for (var n = 2; n <= 5; n++)
        {
            var created = await ThreeNodeCluster.CreateAsync(cluster.Api(survivor, App), agentId, n);
            Assert.True(created["Code"]!.GetValue<int>() == 0, created.ToJsonString());
            Assert.NotEqual(host, await cluster.HostOfAsync(created["Data"]!["AgentInstanceId"]!.GetValue<string>()));
        }

        Assert.Equal(0, await exit);
        cluster.Nodes[host] = null;
        var deleted = Assert.Single(await ThreeNodeCluster.WaitForEventsAsync(receiver, "AgentInstanceDeleted", 1, instance));
        Assert.Equal(1205, deleted.Data!["Code"]!.GetValue<int>());
        Assert.Equal("ServerStopped", deleted.Data!["Reason"]!.GetValue<string>());
        Assert.Contains("still live after 6 s", drained.Output, StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task AnIdleDrainedNode_AnswersNotReadyForTheDrainMinimum_BeforeItStopsListening()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        await using var cluster = await ThreeNodeCluster.StartAsync(postgres, App, receiver, maxInstances: 2, count: 2);
        var node = cluster.Node(1);
        using var http = new HttpClient { BaseAddress = node.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("readyz")).StatusCode);

        // No live call: the drain has nothing to wait for, yet the node keeps listening for its minimum (2 s),
        // answering 503, so a balancer polling /readyz sees it not ready before connections are refused. Strict: a
        // refusal before the first 503 fails.
        var exit = node.TerminateAsync(TimeSpan.FromSeconds(60));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        HttpStatusCode status;
        do
        {
            status = (await http.GetAsync("readyz")).StatusCode;
        }
        while (status == HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        var firstNotReady = System.Diagnostics.Stopwatch.GetTimestamp();
        var lastNotReady = firstNotReady;
        while (!exit.IsCompleted)
        {
            try
            {
                if ((await http.GetAsync("readyz")).StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    lastNotReady = System.Diagnostics.Stopwatch.GetTimestamp();
                }
            }
            catch (HttpRequestException)
            {
                break;
            }
            catch (TaskCanceledException)
            {
                break;
            }

            await Task.Delay(50);
        }

        var window = System.Diagnostics.Stopwatch.GetElapsedTime(firstNotReady, lastNotReady);
        Assert.True(window >= TimeSpan.FromSeconds(1.5), $"the node answered 503 for only {window.TotalMilliseconds:0} ms before it stopped listening");
        Assert.Equal(0, await exit);
        cluster.Nodes[1] = null;
    }

    [PostgresFact]
    public async Task RollingRestartOfAllThreeNodes_KeepsTheRegisteredAgents_AndTheClusterServesThroughout()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        await using var cluster = await ThreeNodeCluster.StartAsync(postgres, App, receiver, maxInstances: 5);
        var agentId = await ThreeNodeCluster.RegisterAgentAsync(cluster.Api(0, App));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(0, await cluster.RestartAsync(i, App, receiver, maxInstances: 5));

            // While one node restarts the others serve; after it, the new process serves the same agents.
            var reply = await cluster.Api(i, App).CallAsync("QueryAgents", new { AgentIds = new[] { agentId } });
            Assert.True(reply.Code() == 0, reply.ToString());
            Assert.Equal(1, reply.Data().GetProperty("Agents").GetArrayLength());
            var created = await ThreeNodeCluster.CreateAsync(cluster.Api((i + 1) % 3, App), agentId, 10 + i);
            Assert.True(created["Code"]!.GetValue<int>() == 0, created.ToJsonString());
        }

        Assert.Equal(1, await cluster.CountAsync("SELECT COUNT(*) FROM parley_agents"));

        // Each stopped process left the membership as Dead (6); the three running ones are the Active rows.
        Assert.Equal(3, await cluster.CountAsync("SELECT COUNT(*) FROM parley_cluster_members WHERE status = 3"));
        Assert.Equal(3, await cluster.CountAsync("SELECT COUNT(*) FROM parley_cluster_members WHERE status = 6"));
    }
}
