using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Parley.Server.Apps;
using Parley.Server.Callbacks;
using Parley.Server.Instances;
using Parley.Server.Storage;
using Parley.Server.Storage.Postgres;
using Parley.Server.Tests.Callbacks;
using Parley.Testing.Postgres;

namespace Parley.Server.Tests.Storage;

/// <summary>
/// The store contracts (agents, callback outbox, instance journal) run against both backends: the SQLite file of a
/// single node and a real PostgreSQL (a private server started by <see cref="PostgresTestCluster"/>).
/// </summary>
public sealed class StoreContractTests(PostgresDatabaseFixture postgres) : IClassFixture<PostgresDatabaseFixture>, IDisposable
{
    private const uint AppId = 1234567;
    private readonly TempDataDirectory _data = new();
    private readonly List<IAsyncDisposable> _owned = [];

    public static TheoryData<string> Backends => new() { "Sqlite", "PostgreSQL" };

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        _data.Dispose();
    }

    [PostgresTheory]
    [MemberData(nameof(Backends))]
    public async Task Agents_AddGetUpdateListDelete_AndTheLimitHoldsUnderConcurrentAdds(string backend)
    {
        var (agents, _, _) = await OpenAsync(backend, FakeTime.Create());
        Assert.Equal(AgentAddResult.Added, await agents.TryAddAsync(Agent("b"), 3, CancellationToken.None));
        Assert.Equal(AgentAddResult.AlreadyExists, await agents.TryAddAsync(Agent("b"), 3, CancellationToken.None));
        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => agents.TryAddAsync(Agent("c" + i), 3, CancellationToken.None)));
        Assert.Equal(2, results.Count(r => r == AgentAddResult.Added));
        Assert.Equal(4, results.Count(r => r == AgentAddResult.LimitReached));

        var stored = await agents.GetAsync(AppId, "b", CancellationToken.None);
        Assert.NotNull(stored);
        Assert.Equal("gpt", stored.Llm["Model"]!.GetValue<string>());
        Assert.True(await agents.UpdateAsync(stored with { Name = "renamed" }, CancellationToken.None));
        Assert.Equal("renamed", (await agents.GetAsync(AppId, "b", CancellationToken.None))!.Name);
        Assert.Null(await agents.GetAsync(AppId + 1, "b", CancellationToken.None));

        var page = await agents.ListAsync(AppId, 2, "", CancellationToken.None);
        Assert.Equal(3, page.Total);
        Assert.Equal(2, page.Agents.Count);
        Assert.Equal("b", page.Agents[0].AgentId);
        var rest = await agents.ListAsync(AppId, 2, page.Cursor, CancellationToken.None);
        Assert.Single(rest.Agents);
        Assert.Equal("", rest.Cursor);

        Assert.True(await agents.DeleteAsync(AppId, "b", CancellationToken.None));
        Assert.False(await agents.DeleteAsync(AppId, "b", CancellationToken.None));
        Assert.Equal(AgentAddResult.Added, await agents.TryAddAsync(Agent("d"), 3, CancellationToken.None));
    }

    [PostgresTheory]
    [MemberData(nameof(Backends))]
    public async Task Outbox_TwoDispatchersClaimDisjointRows_AClaimIsALease_AndOutcomesNeedTheClaim(string backend)
    {
        var time = FakeTime.Create();
        var (_, outbox, _) = await OpenAsync(backend, time);
        var (_, other, _) = await OpenAsync(backend, time, sameStore: true);
        for (var i = 0; i < 10; i++)
        {
            await outbox.PublishAsync(Event("AgentInstanceStatus", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), CancellationToken.None);
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var claims = await Task.WhenAll(
            outbox.ClaimDueAsync(AppId, now, 6, now + 30_000, CancellationToken.None),
            other.ClaimDueAsync(AppId, now, 6, now + 30_000, CancellationToken.None));
        var claimed = claims.SelectMany(c => c).ToList();
        Assert.Equal(10, claimed.Count);
        Assert.Equal(10, claimed.Select(r => r.Id).Distinct().Count());
        Assert.Empty(await outbox.ClaimDueAsync(AppId, now, 10, now + 30_000, CancellationToken.None));
        Assert.Equal(now + 30_000, await outbox.GetNextDueAfterAsync(now, CancellationToken.None));

        var first = claimed[0];
        Assert.True(await outbox.MarkDeliveredAsync(first, now + 10, CancellationToken.None));
        Assert.False(await other.MarkDeliveredAsync(first, now + 11, CancellationToken.None));
        Assert.Equal(CallbackDeliveryState.Delivered, (await other.GetAsync(first.Sequence, CancellationToken.None))!.State);

        // The lease ends: the row is due again and the old claim no longer stores anything.
        var second = claimed[1];
        var retaken = await other.ClaimDueAsync(AppId, now + 30_000, 20, now + 60_000, CancellationToken.None);
        Assert.Equal(9, retaken.Count);
        Assert.False(await outbox.ScheduleRetryAsync(second, now + 30_001, now + 32_000, "late", CancellationToken.None));
        var again = retaken.Single(r => r.Id == second.Id);
        Assert.True(await other.MarkDeadAsync(again, now + 30_002, "HTTP 500", CancellationToken.None));
        Assert.Equal(1, await outbox.RedeliverAsync(AppId, null, now + 40_000, CancellationToken.None));
        var revived = (await outbox.GetAsync(second.Sequence, CancellationToken.None))!;
        Assert.Equal(CallbackDeliveryState.Pending, revived.State);
        Assert.Equal(0, revived.Attempts);

        var pending = await outbox.ListAsync(new CallbackQuery(AppId, CallbackDeliveryState.Pending), CancellationToken.None);
        Assert.Equal(9, pending.Count);
        Assert.True(pending.Zip(pending.Skip(1)).All(p => p.First.Sequence < p.Second.Sequence));
        Assert.Equal(1, await outbox.PurgeCompletedAsync(now + 1_000_000, CancellationToken.None));
        Assert.Equal([AppId], await outbox.GetAppsWithDueRowsAsync(now + 60_000, CancellationToken.None));
    }

    [PostgresTheory]
    [MemberData(nameof(Backends))]
    public async Task Journal_RecoverQueuesDeletedForInstancesOfAnotherProcess_AndRecordDeletedForgets(string backend)
    {
        var time = FakeTime.Create();
        var (_, outbox, earlier) = await OpenAsync(backend, time);
        await earlier.RecordLiveAsync(new LiveInstanceRecord(AppId, "111", "u1", "r1", 1), CancellationToken.None);
        await earlier.RecordLiveAsync(new LiveInstanceRecord(AppId, "222", "u2", "r2", 2), CancellationToken.None);
        await earlier.RecordDeletedAsync(InstanceLifecycle.DeletedEvent(AppId, "222", "u2", "r2", 0, null, default, time.GetUtcNow()), CancellationToken.None);

        var (_, _, current) = await OpenAsync(backend, time, sameStore: true);
        await current.RecordLiveAsync(new LiveInstanceRecord(AppId, "333", "u3", "r3", 3), CancellationToken.None);
        var lifecycle = new InstanceLifecycle(current, time, Microsoft.Extensions.Logging.Abstractions.NullLogger<InstanceLifecycle>.Instance);
        Assert.Equal(1, await lifecycle.RecoverAsync(CancellationToken.None));
        Assert.Equal(0, await lifecycle.RecoverAsync(CancellationToken.None));

        var deleted = (await outbox.ListAsync(new CallbackQuery(AppId), CancellationToken.None)).Where(r => r.Event == CallbackEvents.AgentInstanceDeleted).ToList();
        Assert.Equal(["222", "111"], deleted.Select(r => r.AgentInstanceId));
        Assert.Contains("\"Reason\":\"ServerRestarted\"", deleted[1].DataJson, StringComparison.Ordinal);
        Assert.Equal("r1", deleted[1].RoomId);
    }

    [PostgresFact]
    public async Task Postgres_Slots_TheLimitHoldsAcrossNodes_AndALostNodesInstancesAreEndedWithExceptionAndDeleted_AndTheirSlotsFreed()
    {
        var time = FakeTime.Create();
        var connection = await postgres.CreateAnotherAsync();
        var lease = new NodeLeaseOptions { Lease = TimeSpan.FromSeconds(10) };
        var (nodeA, slotsA, outboxA) = OpenPostgresNode(connection, time, lease);
        var (nodeB, slotsB, outboxB) = OpenPostgresNode(connection, time, lease);
        await nodeA.HeartbeatAsync(new NodeReport("a", "", 0, false), CancellationToken.None);
        await nodeB.HeartbeatAsync(new NodeReport("b", "", 0, false), CancellationToken.None);

        var replies = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            (i % 2 == 0 ? slotsA : slotsB).ReserveAsync(AppId, new InstanceReservation { InstanceId = "i" + i, AgentUserId = "u" + i, AgentStreamId = "s" + i, MaxInstances = 3 }, CancellationToken.None)));
        Assert.Equal(3, replies.Count(r => r.Code == 0));
        Assert.Equal(3, replies.Count(r => r.Code == Parley.Server.Api.ReturnCodes.InstanceConcurrencyLimit));
        Assert.Equal(3, await slotsB.CountAsync(AppId, CancellationToken.None));
        var admitted = Enumerable.Range(0, 6).Where(i => replies[i].Code == 0).Select(i => "i" + i).ToList();

        // The stream id of a live instance is refused on the other node too; the same AgentUserId kicks the older one.
        await slotsA.ReleaseAsync(AppId, admitted[2], CancellationToken.None);
        var clash = await slotsB.ReserveAsync(AppId, new InstanceReservation { InstanceId = "x", AgentUserId = "ux", AgentStreamId = "s" + admitted[0][1..], MaxInstances = 3 }, CancellationToken.None);
        Assert.Equal(InstanceCodes.AgentStreamIdInUse, clash.Code);

        // Node A hosts two instances and dies (no more heartbeats); B recovers them once the lease is over.
        await nodeA.RecordLiveAsync(new LiveInstanceRecord(AppId, admitted[0], "u" + admitted[0][1..], "room0", 1), CancellationToken.None);
        await nodeA.RecordLiveAsync(new LiveInstanceRecord(AppId, admitted[1], "u" + admitted[1][1..], "room1", 2), CancellationToken.None);
        var lifecycleB = new InstanceLifecycle(nodeB, time, Microsoft.Extensions.Logging.Abstractions.NullLogger<InstanceLifecycle>.Instance);
        Assert.Equal(0, await lifecycleB.RecoverAsync(CancellationToken.None));
        time.Advance(TimeSpan.FromSeconds(11));
        await nodeB.HeartbeatAsync(new NodeReport("b", "", 0, false), CancellationToken.None);
        var recovered = await Task.WhenAll(lifecycleB.RecoverAsync(CancellationToken.None), lifecycleB.RecoverAsync(CancellationToken.None));
        Assert.Equal(2, recovered.Sum());
        Assert.Equal(0, await slotsB.CountAsync(AppId, CancellationToken.None));

        var rows = await outboxB.ListAsync(new CallbackQuery(AppId), CancellationToken.None);
        Assert.Equal(2, rows.Count(r => r.Event == CallbackEvents.Exception && r.DataJson.Contains("\"Code\":1201", StringComparison.Ordinal)));
        Assert.Equal(2, rows.Count(r => r.Event == CallbackEvents.AgentInstanceDeleted));
        Assert.Equal(rows.Count, rows.Select(r => r.Sequence).Distinct().Count());
        Assert.Equal(4, (await outboxA.ListAsync(new CallbackQuery(AppId), CancellationToken.None)).Count);
    }

    [PostgresFact]
    public async Task Postgres_Migration_IsVersioned_AndConcurrentNodesApplyItOnce()
    {
        var connection = await postgres.CreateAnotherAsync();
        var databases = Enumerable.Range(0, 3).Select(_ => new PostgresDatabase(connection)).ToList();
        _owned.AddRange(databases);
        await Task.WhenAll(databases.Select(d => d.EnsureMigratedAsync(CancellationToken.None)));
        await using var check = await databases[0].OpenAsync(CancellationToken.None);
        await using var command = check.CreateCommand();
        command.CommandText = "SELECT string_agg(version::text, ',' ORDER BY version) FROM parley_schema_migrations";
        Assert.Equal("1,2,3,4", await command.ExecuteScalarAsync());
        command.CommandText = "SELECT COUNT(*) FROM pg_tables WHERE tablename IN ('parley_cluster_version', 'parley_cluster_members')";
        Assert.Equal(2L, await command.ExecuteScalarAsync());
        command.CommandText = "SELECT to_regclass('orleansquery') IS NULL";
        Assert.Equal(true, await command.ExecuteScalarAsync());
    }

    private (PostgresInstanceJournal Journal, PostgresInstanceSlots Slots, PostgresCallbackOutbox Outbox) OpenPostgresNode(string connection, TimeProvider time, NodeLeaseOptions lease)
    {
        var database = new PostgresDatabase(connection);
        _owned.Add(database);
        var outbox = new PostgresCallbackOutbox(database, time);
        return (new PostgresInstanceJournal(database, outbox, time, lease), new PostgresInstanceSlots(database, time), outbox);
    }

    private string? _postgresConnection;

    /// <summary>The stores of one process; <paramref name="sameStore"/> opens a second process over the same data.</summary>
    private async Task<(IAgentStore Agents, ICallbackOutbox Outbox, IInstanceJournal Journal)> OpenAsync(string backend, TimeProvider time, bool sameStore = false)
    {
        if (backend == "Sqlite")
        {
            var sqlite = new SqliteDatabase(Options.Create(new ParleyOptions { DataDirectory = _data.Path }));
            var sqliteOutbox = new SqliteCallbackOutbox(sqlite, time);
            await sqliteOutbox.EnsureInitializedAsync(CancellationToken.None);
            return (new SqliteAgentStore(sqlite), sqliteOutbox, new SqliteInstanceJournal(sqlite, [sqliteOutbox]));
        }

        if (!sameStore || _postgresConnection is null)
        {
            _postgresConnection = await postgres.CreateAnotherAsync();
        }

        var database = new PostgresDatabase(_postgresConnection);
        _owned.Add(database);
        var outbox = new PostgresCallbackOutbox(database, time);
        await outbox.EnsureInitializedAsync(CancellationToken.None);
        var journal = new PostgresInstanceJournal(database, outbox, time, new NodeLeaseOptions());
        return (new PostgresAgentStore(database), outbox, journal);
    }

    private static AgentRecord Agent(string id) =>
        new(AppId, id, "agent " + id, new JsonObject { ["Model"] = "gpt" }, new JsonObject { ["Vendor"] = "Local" }, new JsonObject(), FakeTime.Start, FakeTime.Start);

    private static CallbackEvent Event(string name, string instance) =>
        new(AppId, name, instance, "user", "room", new JsonObject { ["Status"] = "IDLE" });
}
