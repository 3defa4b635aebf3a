using Parley.Server.Instances;
using Parley.Server.Instances.Placement;
using Parley.Server.Storage.Postgres;
using Parley.Server.Tests.Callbacks;
using Parley.Testing.Postgres;

namespace Parley.Server.Tests.Cluster;

/// <summary>The least-loaded choice of a node for a new instance, and the load reports it reads from the shared store.</summary>
public sealed class PlacementTests(PostgresDatabaseFixture postgres) : IClassFixture<PostgresDatabaseFixture>
{
    private static readonly string[] Nodes = ["a", "b", "c"];
    private static readonly Dictionary<string, long> NoPending = [];

    [Fact]
    public void TheNodeWithFewestSessions_IsChosen_WhateverItsPosition()
    {
        var choice = new LeastLoadedChoice(0.1);
        var reports = Reports(("a", 3, 0.0, false), ("b", 1, 0.0, false), ("c", 2, 0.0, false));
        for (var seed = 0; seed < 50; seed++)
        {
            Assert.Equal(1, choice.Choose(Nodes, reports, NoPending, new Random(seed)));
        }
    }

    [Fact]
    public void Cpu_CountsInSessions_SoABusyNodeWithFewerSessionsLosesToAnIdleOne()
    {
        // a: 1 session but 0.5 cores busy (= 5 sessions at 0.1 cores each) → 6; b: 3 sessions, idle → 3.
        var choice = new LeastLoadedChoice(0.1);
        var reports = Reports(("a", 1, 0.5, false), ("b", 3, 0.0, false));
        Assert.Equal(6, choice.LoadOf(reports["a"], 0), 6);
        Assert.Equal(1, choice.Choose(["a", "b"], reports, NoPending, new Random(1)));

        // With CPU cheap relative to a session (1 core per session) a's CPU is worth half a session: a wins.
        Assert.Equal(0, new LeastLoadedChoice(1.0).Choose(["a", "b"], reports, NoPending, new Random(1)));
    }

    [Fact]
    public void PendingPlacements_AddToTheReports_SoABurstSpreadsBeforeTheRowsShowIt()
    {
        var choice = new LeastLoadedChoice(0.1);
        var reports = Reports(("a", 0, 0.0, false), ("b", 0, 0.0, false), ("c", 0, 0.0, false));
        var pending = new Dictionary<string, long>();
        var chosen = new List<string>();
        var random = new Random(7);
        for (var i = 0; i < 6; i++)
        {
            var node = Nodes[choice.Choose(Nodes, reports, pending, random)];
            chosen.Add(node);
            pending[node] = pending.GetValueOrDefault(node) + 1;
        }

        Assert.All(Nodes, n => Assert.Equal(2, chosen.Count(c => c == n)));
    }

    [Fact]
    public void DrainingNodes_AreSkipped_UnlessAllDrain_AndANodeWithoutAReportCountsAsIdle()
    {
        var choice = new LeastLoadedChoice(0.1);
        var reports = Reports(("a", 0, 0.0, true), ("b", 5, 0.0, false));
        Assert.Equal(1, choice.Choose(["a", "b"], reports, NoPending, new Random(3)));

        // c has no row yet (it just joined): idle, so it takes the instance.
        Assert.Equal(2, choice.Choose(Nodes, reports, NoPending, new Random(3)));

        var allDraining = Reports(("a", 2, 0.0, true), ("b", 1, 0.0, true));
        Assert.Equal(1, choice.Choose(["a", "b"], allDraining, NoPending, new Random(3)));
    }

    [Fact]
    public void EqualNodes_ShareTheChoice()
    {
        var choice = new LeastLoadedChoice(0.1);
        var reports = Reports(("a", 1, 0.0, false), ("b", 1, 0.0, false), ("c", 4, 0.0, false));
        var picks = Enumerable.Range(0, 200).Select(seed => choice.Choose(Nodes, reports, NoPending, new Random(seed))).ToList();
        Assert.Contains(0, picks);
        Assert.Contains(1, picks);
        Assert.DoesNotContain(2, picks);
    }

    [Fact]
    public void BadInput_IsNamed()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new LeastLoadedChoice(0));
        Assert.Contains("PlacementCpuCoresPerSession", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new LeastLoadedChoice(0.1).Choose([], Reports(), NoPending, new Random(1)));
    }

    [Fact]
    public void CpuCores_IsCpuTimeOverWallTime()
    {
        Assert.Equal(0.5, ProcessCpuMeter.Cores(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)), 6);
        Assert.Equal(1.5, ProcessCpuMeter.Cores(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(2)), 6);
        Assert.Equal(0, ProcessCpuMeter.Cores(TimeSpan.FromSeconds(1), TimeSpan.Zero));

        // The first report, at start, covers no real interval: 0, not the start-up's CPU over a few milliseconds.
        var time = FakeTime.Create();
        var meter = new ProcessCpuMeter(time);
        for (var i = 0; i < 200_000; i++)
        {
            _ = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(0, meter.Sample());
    }

    [PostgresFact]
    public async Task TheStoresLoadReports_CountEachLiveNodesSessions_AndCarryItsCpuAndDrainFlag_ButNotALostNodes()
    {
        var time = FakeTime.Create();
        var connection = await postgres.CreateAnotherAsync();
        var lease = new NodeLeaseOptions { Lease = TimeSpan.FromSeconds(10) };
        await using var database = new PostgresDatabase(connection);
        await database.EnsureMigratedAsync(CancellationToken.None);
        var outbox = new PostgresCallbackOutbox(database, time);
        var a = new PostgresInstanceJournal(database, outbox, time, lease);
        var b = new PostgresInstanceJournal(database, outbox, time, lease);
        var lost = new PostgresInstanceJournal(database, outbox, time, lease);
        await lost.HeartbeatAsync(new NodeReport("http://lost/", "silo-lost", 0, false), CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(11));
        await a.HeartbeatAsync(new NodeReport("http://a/", "silo-a", 0.25, false), CancellationToken.None);
        await b.HeartbeatAsync(new NodeReport("http://b/", "silo-b", 0, true), CancellationToken.None);
        await a.RecordLiveAsync(new LiveInstanceRecord(1, "i1", "u1", "r1", 1), CancellationToken.None);
        await a.RecordLiveAsync(new LiveInstanceRecord(1, "i2", "u2", "r2", 2), CancellationToken.None);
        await lost.RecordLiveAsync(new LiveInstanceRecord(1, "i3", "u3", "r3", 3), CancellationToken.None);

        var loads = (await new PostgresNodeLoads(database, lease, time).ReadAsync(CancellationToken.None)).OrderBy(l => l.Silo).ToList();
        Assert.Equal([new NodeLoad("silo-a", 2, 0.25, false), new NodeLoad("silo-b", 0, 0, true)], loads);
    }

    private static Dictionary<string, NodeLoad> Reports(params (string Silo, long Sessions, double Cpu, bool Draining)[] rows) =>
        rows.ToDictionary(r => r.Silo, r => new NodeLoad(r.Silo, r.Sessions, r.Cpu, r.Draining));
}
