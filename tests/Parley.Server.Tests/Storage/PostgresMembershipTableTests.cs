using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Parley.Server.Storage.Postgres;
using Parley.Testing.Postgres;

namespace Parley.Server.Tests.Storage;

/// <summary>
/// Parley's Orleans membership table against a real PostgreSQL: the table version and row etags guard every write
/// (a stale one fails with false and changes nothing), heartbeats change neither, and clean-up and deletion stay
/// within their cluster.
/// </summary>
public sealed class PostgresMembershipTableTests(PostgresDatabaseFixture postgres) : IClassFixture<PostgresDatabaseFixture>, IAsyncDisposable
{
    private static readonly DateTime T0 = new(2026, 12, 2, 12, 0, 0, DateTimeKind.Utc);
    private readonly List<PostgresDatabase> _databases = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var database in _databases)
        {
            await database.DisposeAsync();
        }
    }

    [PostgresFact]
    public async Task InsertThenRead_RoundTripsTheEntry_AndMovesTheVersion()
    {
        var table = await OpenAsync("c1");
        var empty = await table.ReadAll();
        Assert.Empty(empty.Members);
        Assert.Equal(new TableVersion(0, "0"), empty.Version);

        var suspector = Silo(11112, 7);
        var entry = Entry(Silo(11111, 42), SiloStatus.Joining);
        entry.SuspectTimes = [Tuple.Create(suspector, T0.AddSeconds(3))];
        Assert.True(await table.InsertRow(entry, empty.Version.Next()));

        var row = await table.ReadRow(entry.SiloAddress);
        Assert.Equal(1, row.Version.Version);
        Assert.Equal("1", row.Version.VersionEtag);
        var (read, etag) = Assert.Single(row.Members);
        Assert.False(string.IsNullOrEmpty(etag));
        Assert.Equal(entry.SiloAddress, read.SiloAddress);
        Assert.Equal(SiloStatus.Joining, read.Status);
        Assert.Equal("silo-42", read.SiloName);
        Assert.Equal("host-a", read.HostName);
        Assert.Equal(30001, read.ProxyPort);
        Assert.Equal(T0, read.StartTime);
        Assert.Equal(T0.AddSeconds(1), read.IAmAliveTime);
        var (suspect, votedAt) = Assert.Single(read.SuspectTimes!);
        Assert.Equal(suspector, suspect);
        Assert.Equal(T0.AddSeconds(3), votedAt);

        // Reading a silo that is not there: no member, the current version.
        var absent = await table.ReadRow(Silo(11199, 1));
        Assert.Empty(absent.Members);
        Assert.Equal(1, absent.Version.Version);
    }

    [PostgresFact]
    public async Task Insert_WithAStaleVersion_OrForASiloAlreadyThere_FailsAndChangesNothing()
    {
        var table = await OpenAsync("c1");
        var start = (await table.ReadAll()).Version;
        Assert.True(await table.InsertRow(Entry(Silo(11111, 1), SiloStatus.Joining), start.Next()));

        // The same version again (another silo read the table before this insert): refused.
        Assert.False(await table.InsertRow(Entry(Silo(11112, 1), SiloStatus.Joining), start.Next()));
        // A right etag but no higher version: refused.
        Assert.False(await table.InsertRow(Entry(Silo(11112, 1), SiloStatus.Joining), new TableVersion(1, "1")));
        var current = (await table.ReadAll()).Version;
        // The current version, but the silo is already in the table: refused, and the version stays.
        Assert.False(await table.InsertRow(Entry(Silo(11111, 1), SiloStatus.Active), current.Next()));

        var all = await table.ReadAll();
        Assert.Equal(new TableVersion(1, "1"), all.Version);
        var (only, _) = Assert.Single(all.Members);
        Assert.Equal(SiloStatus.Joining, only.Status);

        Assert.True(await table.InsertRow(Entry(Silo(11112, 1), SiloStatus.Joining), current.Next()));
        Assert.Equal(2, (await table.ReadAll()).Members.Count);
    }

    [PostgresFact]
    public async Task Update_NeedsTheRowEtagAndTheTableVersion_AndConcurrentWritersGetExactlyOneSuccess()
    {
        var table = await OpenAsync("c1");
        var silo = Silo(11111, 5);
        Assert.True(await table.InsertRow(Entry(silo, SiloStatus.Joining), (await table.ReadAll()).Version.Next()));
        var read = await table.ReadRow(silo);
        var (entry, etag) = read.Members[0];

        entry.Status = SiloStatus.Active;
        Assert.True(await table.UpdateRow(entry, etag, read.Version.Next()));
        var after = await table.ReadRow(silo);
        var (updated, newEtag) = after.Members[0];
        Assert.Equal(SiloStatus.Active, updated.Status);
        Assert.NotEqual(etag, newEtag);
        Assert.Equal(2, after.Version.Version);

        // The old row etag with the current version: refused. The new row etag with the old version: refused.
        updated.Status = SiloStatus.ShuttingDown;
        Assert.False(await table.UpdateRow(updated, etag, after.Version.Next()));
        Assert.False(await table.UpdateRow(updated, newEtag, read.Version.Next()));
        // A silo that is not in the table: refused.
        Assert.False(await table.UpdateRow(Entry(Silo(11150, 5), SiloStatus.Dead), newEtag, after.Version.Next()));
        var unchanged = await table.ReadRow(silo);
        Assert.Equal(SiloStatus.Active, unchanged.Members[0].Item1.Status);
        Assert.Equal(after.Version, unchanged.Version);

        // Several nodes declare it dead from the same read, through their own connections: one wins.
        var others = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => OpenAsync("c1")));
        var results = await Task.WhenAll(others.Select(other =>
        {
            var vote = Entry(silo, SiloStatus.Dead);
            return other.UpdateRow(vote, newEtag, after.Version.Next());
        }));
        Assert.Equal(1, results.Count(r => r));
        var final = await table.ReadRow(silo);
        Assert.Equal(SiloStatus.Dead, final.Members[0].Item1.Status);
        Assert.Equal(3, final.Version.Version);
    }

    [PostgresFact]
    public async Task UpdateIAmAlive_WritesOnlyTheHeartbeat_AndLeavesBothEtagsUsable()
    {
        var table = await OpenAsync("c1");
        var silo = Silo(11111, 9);
        Assert.True(await table.InsertRow(Entry(silo, SiloStatus.Active), (await table.ReadAll()).Version.Next()));
        var read = await table.ReadRow(silo);
        var (entry, etag) = read.Members[0];

        var heartbeat = Entry(silo, SiloStatus.Dead); // only IAmAliveTime may be taken from it
        heartbeat.IAmAliveTime = T0.AddMinutes(5);
        heartbeat.SiloName = "changed";
        await table.UpdateIAmAlive(heartbeat);

        var after = await table.ReadRow(silo);
        var (alive, aliveEtag) = after.Members[0];
        Assert.Equal(T0.AddMinutes(5), alive.IAmAliveTime);
        Assert.Equal(SiloStatus.Active, alive.Status);
        Assert.Equal("silo-9", alive.SiloName);
        Assert.Equal(etag, aliveEtag);
        Assert.Equal(read.Version, after.Version);

        // What was read before the heartbeat still updates.
        entry.Status = SiloStatus.ShuttingDown;
        Assert.True(await table.UpdateRow(entry, etag, read.Version.Next()));
        // A heartbeat of a silo that is not in the table changes nothing (and does not throw).
        await table.UpdateIAmAlive(Entry(Silo(11177, 9), SiloStatus.Active));
        Assert.Single((await table.ReadAll()).Members);
    }

    [PostgresFact]
    public async Task CleanupDefunctSiloEntries_RemovesOnlyOldDeadMembersOfThisCluster()
    {
        var connection = await postgres.CreateAnotherAsync();
        var table = Open(connection, "c1");
        var other = Open(connection, "c2");
        await table.InitializeMembershipTable(true);
        await other.InitializeMembershipTable(true);

        var oldDead = Entry(Silo(11111, 1), SiloStatus.Dead);
        var recentDead = Entry(Silo(11112, 1), SiloStatus.Dead);
        recentDead.IAmAliveTime = T0.AddHours(2);
        var oldActive = Entry(Silo(11113, 1), SiloStatus.Active);
        await InsertAllAsync(table, oldDead, recentDead, oldActive);
        await InsertAllAsync(other, Entry(Silo(11111, 1), SiloStatus.Dead));

        await table.CleanupDefunctSiloEntries(new DateTimeOffset(T0.AddHours(1)));

        var remaining = (await table.ReadAll()).Members.Select(m => m.Item1.SiloAddress).ToHashSet();
        Assert.Equal([recentDead.SiloAddress, oldActive.SiloAddress], remaining);
        Assert.Single((await other.ReadAll()).Members);
    }

    [PostgresFact]
    public async Task DeleteMembershipTableEntries_RemovesThatClusterOnly_AndItStartsAgainAtVersionZero()
    {
        var connection = await postgres.CreateAnotherAsync();
        var table = Open(connection, "c1");
        var other = Open(connection, "c2");
        await table.InitializeMembershipTable(true);
        await other.InitializeMembershipTable(true);
        await InsertAllAsync(table, Entry(Silo(11111, 1), SiloStatus.Active), Entry(Silo(11112, 1), SiloStatus.Active));
        await InsertAllAsync(other, Entry(Silo(11111, 1), SiloStatus.Active));

        await table.DeleteMembershipTableEntries("c1");

        var cleared = await table.ReadAll();
        Assert.Empty(cleared.Members);
        Assert.Equal(new TableVersion(0, "0"), cleared.Version);
        var kept = await other.ReadAll();
        Assert.Single(kept.Members);
        Assert.Equal(1, kept.Version.Version);
        Assert.True(await table.InsertRow(Entry(Silo(11111, 2), SiloStatus.Joining), cleared.Version.Next()));
    }

    private static async Task InsertAllAsync(PostgresMembershipTable table, params MembershipEntry[] entries)
    {
        foreach (var entry in entries)
        {
            Assert.True(await table.InsertRow(entry, (await table.ReadAll()).Version.Next()));
        }
    }

    private async Task<PostgresMembershipTable> OpenAsync(string clusterId)
    {
        _connection ??= await postgres.CreateAnotherAsync();
        var table = Open(_connection, clusterId);
        await table.InitializeMembershipTable(true);
        return table;
    }

    private string? _connection;

    private PostgresMembershipTable Open(string connection, string clusterId)
    {
        var database = new PostgresDatabase(connection);
        _databases.Add(database);
        return new PostgresMembershipTable(database, Options.Create(new ClusterOptions { ClusterId = clusterId, ServiceId = "parley" }), NullLogger<PostgresMembershipTable>.Instance);
    }

    private static SiloAddress Silo(int port, int generation) => SiloAddress.New(IPAddress.Loopback, port, generation);

    private static MembershipEntry Entry(SiloAddress silo, SiloStatus status) => new()
    {
        SiloAddress = silo,
        Status = status,
        SiloName = "silo-" + silo.Generation,
        HostName = "host-a",
        ProxyPort = 30001,
        StartTime = T0,
        IAmAliveTime = T0.AddSeconds(1),
        SuspectTimes = [],
    };
}
