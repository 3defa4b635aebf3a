using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.Postgres;

namespace Parley.Server.Tests.Cluster;

/// <summary>Three server processes, one PostgreSQL: new agent instances go to the least-loaded node.</summary>
[Trait("Category", "RealEngine")]
public sealed class ClusterPlacementTests(PostgresDatabaseFixture postgres) : IClassFixture<PostgresDatabaseFixture>
{
    private static readonly TestApp App = new(3000018, "f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6");

    // The three processes share a machine that other jobs load too: their CPU differs by noise, not by their calls, so
    // here CPU is made to weigh nothing (1000 cores per session) and sessions decide. The CPU's weight is unit-tested.
    private static readonly string[] SessionsOnly = ["--Parley:Cluster:PlacementCpuCoresPerSession", "1000"];

    [PostgresFact]
    public async Task NewInstances_GoToTheLeastLoadedNodes_AndNotToTheOneAlreadyLoaded()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        await using var cluster = await ThreeNodeCluster.StartAsync(postgres, App, receiver, maxInstances: 10, extraArguments: SessionsOnly);
        var agentId = await ThreeNodeCluster.RegisterAgentAsync(cluster.Api(0, App));

        // Every node published its load report with its silo address.
        Assert.Equal(3, await cluster.CountAsync("SELECT COUNT(*) FROM parley_nodes WHERE silo <> ''"));

        // Three instances created through node 1: one per node (Orleans' default placement puts all three on distinct
        // nodes only 2 times in 9).
        var first = new List<(string Instance, int Host)>();
        for (var n = 1; n <= 3; n++)
        {
            var created = await ThreeNodeCluster.CreateAsync(cluster.Api(0, App), agentId, n);
            Assert.True(created["Code"]!.GetValue<int>() == 0, created.ToJsonString());
            var instance = created["Data"]!["AgentInstanceId"]!.GetValue<string>();
            first.Add((instance, await cluster.HostOfAsync(instance)));
        }

        Assert.Equal([0, 1, 2], first.Select(f => f.Host).Order());

        // The other two nodes' instances end: one node stays loaded (1 session), two are idle.
        var loaded = first[0].Host;
        foreach (var (instance, _) in first.Where(f => f.Host != loaded))
        {
            var deleted = await cluster.Api(loaded, App).CallAsync("DeleteAgentInstance", new { AgentInstanceId = instance });
            Assert.True(deleted.Code() == 0, deleted.ToString());
        }

        // Two new instances, created through the loaded node itself: both go to the idle ones, one each.
        var next = new List<int>();
        for (var n = 4; n <= 5; n++)
        {
            var created = await ThreeNodeCluster.CreateAsync(cluster.Api(loaded, App), agentId, n);
            Assert.True(created["Code"]!.GetValue<int>() == 0, created.ToJsonString());
            next.Add(await cluster.HostOfAsync(created["Data"]!["AgentInstanceId"]!.GetValue<string>()));
        }

        Assert.DoesNotContain(loaded, next);
        Assert.Equal(2, next.Distinct().Count());
        Assert.Equal(1, await cluster.CountAsync($"SELECT COUNT(*) FROM parley_live_instances l JOIN parley_nodes n ON n.node_id = l.node_id WHERE n.address = '{cluster.Node(loaded).BaseAddress}'"));
    }
}
