using Parley.LoadTest;
using Parley.Testing.Postgres;

namespace Parley.Server.Tests.LoadTest;

/// <summary>The cluster benchmark run small so it cannot rot: two nodes on the private PostgreSQL, a few instances and queries.</summary>
[Trait("Category", "RealEngine")]
public sealed class ClusterBenchSmokeTests
{
    [PostgresFact]
    public async Task TwoNodes_EveryUserReachesItsAgent_AndBothStatusPathsAreMeasured()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var report = await ClusterRun.RunAsync(new ClusterOptions { Nodes = 2, Instances = 4, Queries = 20 }, cancellationToken: timeout.Token);

        Assert.True(report.Cold.Error is null, report.ToTable());
        Assert.All(report.Joins, j => Assert.True(j.Error is null, report.ToTable()));
        Assert.Equal(4, report.InRoomMs.Count);
        Assert.Equal(5, report.InstancesPerNode.Sum());
        Assert.All(report.Joins, j => Assert.InRange(j.HostNode, 0, 1));

        // A user logging in on the agent's node is not redirected; on the other one it is (and followed).
        Assert.All(report.Joins, j => Assert.Equal(j.LoginNode != j.HostNode, j.Redirected));
        Assert.All(report.Joins, j => Assert.True(j.InRoomMs >= j.ReplyMs, report.ToTable()));
        Assert.Equal(20, report.StatusOwnerMs.Count);
        Assert.Equal(20, report.StatusForwardedMs.Count);
        Assert.Equal(0, report.StatusErrors);
        Assert.Contains("status via other node", report.ToTable(), StringComparison.Ordinal);
    }
}
