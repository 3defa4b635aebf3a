using Microsoft.Extensions.Options;
using Parley.Core.Sessions;
using Parley.Server.Apps;
using Parley.Server.Callbacks;
using Parley.Server.Instances;
using Parley.Server.Storage;
using Parley.Server.Tests.Callbacks;

namespace Parley.Server.Tests.Instances;

/// <summary>The SQLite journal of live instances, over the same file as the callback outbox.</summary>
public sealed class InstanceJournalTests : IDisposable
{
    private const uint AppId = 1234567;
    private readonly TempDataDirectory _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Recover_QueuesDeletedForInstancesOfAnEarlierProcess_AndLeavesThisProcessesInstancesAlone()
    {
        var time = FakeTime.Create();
        var (earlier, _) = Open(time);
        await earlier.RecordLiveAsync(new LiveInstanceRecord(AppId, "111", "agent_user_1", "room_1", 1), CancellationToken.None);
        await earlier.RecordLiveAsync(new LiveInstanceRecord(AppId, "222", "agent_user_2", "room_2", 2), CancellationToken.None);

        var (current, outbox) = Open(time);
        await current.RecordLiveAsync(new LiveInstanceRecord(AppId, "333", "agent_user_3", "room_3", 3), CancellationToken.None);
        var lifecycle = new InstanceLifecycle(current, time, Microsoft.Extensions.Logging.Abstractions.NullLogger<InstanceLifecycle>.Instance);

        Assert.Equal(2, await lifecycle.RecoverAsync(CancellationToken.None));
        Assert.Equal(0, await lifecycle.RecoverAsync(CancellationToken.None));

        var rows = await outbox.ListAsync(null, 10, CancellationToken.None);
        Assert.Equal(["111", "222"], rows.Select(r => r.AgentInstanceId));
        Assert.All(rows, r => Assert.Equal(CallbackEvents.AgentInstanceDeleted, r.Event));
        Assert.All(rows, r => Assert.Contains("\"Code\":1201", r.DataJson, StringComparison.Ordinal));
        Assert.All(rows, r => Assert.Contains("\"Reason\":\"ServerRestarted\"", r.DataJson, StringComparison.Ordinal));
        Assert.Equal("agent_user_2", rows[1].AgentUserId);
        Assert.Equal("room_2", rows[1].RoomId);

        // The live instance of this process is still recorded: a later crash reports it.
        var (next, _) = Open(time);
        Assert.Equal(1, await next.RecoverAsync(r => InstanceLifecycle.DeletedEvent(r.AppId, r.AgentInstanceId, r.AgentUserId, r.RoomId, 1201, null, default, time.GetUtcNow()), CancellationToken.None));
    }

    [Fact]
    public async Task RecordDeleted_QueuesTheEventAndForgetsTheInstance_SoARestartSendsNoSecondDeleted()
    {
        var time = FakeTime.Create();
        var (journal, outbox) = Open(time);
        await journal.RecordLiveAsync(new LiveInstanceRecord(AppId, "111", "agent_user_1", "room_1", 1), CancellationToken.None);
        await journal.RecordDeletedAsync(
            InstanceLifecycle.DeletedEvent(AppId, "111", "agent_user_1", "room_1", 0, null, new SessionLatency(600, 11.5, 700, 1600), time.GetUtcNow()),
            CancellationToken.None);

        var (next, _) = Open(time);
        Assert.Equal(0, await next.RecoverAsync(_ => throw new InvalidOperationException("nothing is left to recover"), CancellationToken.None));
        var row = Assert.Single(await outbox.ListAsync(null, 10, CancellationToken.None));
        Assert.Equal(CallbackEvents.AgentInstanceDeleted, row.Event);
        Assert.Contains("\"LLMTTFT\":600", row.DataJson, StringComparison.Ordinal);
        Assert.DoesNotContain("Reason", row.DataJson, StringComparison.Ordinal);
    }

    /// <summary>A journal as one process would open it (its own process id), with the outbox of the same file.</summary>
    private (SqliteInstanceJournal Journal, SqliteCallbackOutbox Outbox) Open(TimeProvider time)
    {
        var database = new SqliteDatabase(Options.Create(new ParleyOptions { DataDirectory = _data.Path }));
        var outbox = new SqliteCallbackOutbox(database, time);
        return (new SqliteInstanceJournal(database, [outbox]), outbox);
    }
}
