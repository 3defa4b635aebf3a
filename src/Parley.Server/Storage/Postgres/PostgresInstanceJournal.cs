using System.Text.Json.Nodes;
using Npgsql;
using Parley.Server.Callbacks;
using Parley.Server.Instances;

namespace Parley.Server.Storage.Postgres;

/// <summary>Cluster settings of the node (section <c>Parley:Cluster</c>) that the store needs.</summary>
public sealed class NodeLeaseOptions
{
    /// <summary>How long a node's heartbeat in <c>parley_nodes</c> stays valid; a node silent for longer is lost.</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>What a node publishes with its lease: its public address, silo address, process CPU (cores) and drain flag.</summary>
internal sealed record NodeReport(string Address, string Silo, double CpuCores, bool Draining);

/// <summary>
/// <see cref="IInstanceJournal"/> in the shared PostgreSQL database: each live instance records the node that hosts
/// it (<see cref="NodeId"/>), and every node heartbeats in <c>parley_nodes</c> (<see cref="HeartbeatAsync"/>).
/// Recovery — at start and then periodically on every node — takes the instances of nodes whose lease has ended
/// (<c>FOR UPDATE SKIP LOCKED</c>, so two survivors never take the same one) and queues for each an <c>Exception</c>
/// and its <c>AgentInstanceDeleted</c>, frees its slot, and forgets it, in one transaction with the outbox.
/// </summary>
internal sealed class PostgresInstanceJournal(PostgresDatabase database, PostgresCallbackOutbox outbox, TimeProvider time, NodeLeaseOptions lease) : IInstanceJournal
{
    /// <summary>The Exception code sent for an instance whose node was lost (1201, RTC general error: the room session ended with no leave).</summary>
    public const int NodeLostCode = InstanceCodes.RoomGeneral;

    /// <summary>This process: a fresh id per start, so a restarted node's old instances are recovered like a lost node's.</summary>
    public string NodeId { get; } = Guid.NewGuid().ToString("N");

    public async Task RecordLiveAsync(LiveInstanceRecord instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            INSERT INTO parley_live_instances (app_id, agent_instance_id, agent_user_id, room_id, node_id, created_at)
            VALUES (@app, @instance, @user, @room, @node, @created)
            ON CONFLICT (app_id, agent_instance_id) DO UPDATE SET agent_user_id = @user, room_id = @room, node_id = @node, created_at = @created
            """, connection);
        command.Parameters.AddWithValue("app", (long)instance.AppId);
        command.Parameters.AddWithValue("instance", instance.AgentInstanceId);
        command.Parameters.AddWithValue("user", instance.AgentUserId);
        command.Parameters.AddWithValue("room", instance.RoomId);
        command.Parameters.AddWithValue("node", NodeId);
        command.Parameters.AddWithValue("created", instance.CreatedAt);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task RecordDeletedAsync(CallbackEvent deleted, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deleted);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            await outbox.InsertAsync(connection, transaction, deleted, cancellationToken).ConfigureAwait(false);
            await ForgetAsync(connection, transaction, deleted.AppId, deleted.AgentInstanceId, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        outbox.NotifyPublished();
    }

    public async Task<int> RecoverAsync(Func<LiveInstanceRecord, CallbackEvent> deletedEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deletedEvent);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        int count;
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            var lost = new List<LiveInstanceRecord>();
            await using (var read = new NpgsqlCommand("""
                SELECT l.app_id, l.agent_instance_id, l.agent_user_id, l.room_id, l.created_at FROM parley_live_instances l
                WHERE l.node_id <> @me AND NOT EXISTS (
                    SELECT 1 FROM parley_nodes n WHERE n.node_id = l.node_id AND n.heartbeat_at >= @alive)
                ORDER BY l.created_at, l.app_id, l.agent_instance_id
                FOR UPDATE OF l SKIP LOCKED
                """, connection, transaction))
            {
                read.Parameters.AddWithValue("me", NodeId);
                read.Parameters.AddWithValue("alive", now - (long)lease.Lease.TotalMilliseconds);
                await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    lost.Add(new LiveInstanceRecord((uint)reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4)));
                }
            }

            foreach (var instance in lost)
            {
                var exception = new CallbackEvent(instance.AppId, CallbackEvents.Exception, instance.AgentInstanceId, instance.AgentUserId, instance.RoomId,
                    new JsonObject { ["Code"] = NodeLostCode, ["Message"] = "the server node hosting the agent instance was lost", ["Round"] = 0 });
                await outbox.InsertAsync(connection, transaction, exception, cancellationToken).ConfigureAwait(false);
                await outbox.InsertAsync(connection, transaction, deletedEvent(instance), cancellationToken).ConfigureAwait(false);
                await ForgetAsync(connection, transaction, instance.AppId, instance.AgentInstanceId, cancellationToken).ConfigureAwait(false);
            }

            await using (var stale = new NpgsqlCommand("DELETE FROM parley_nodes WHERE heartbeat_at < @old AND node_id <> @me", connection, transaction))
            {
                stale.Parameters.AddWithValue("old", now - (10 * (long)lease.Lease.TotalMilliseconds));
                stale.Parameters.AddWithValue("me", NodeId);
                await stale.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            count = lost.Count;
        }

        if (count > 0)
        {
            outbox.NotifyPublished();
        }

        return count;
    }

    /// <summary>
    /// Renews this node's lease and publishes its load report: its address (for operators and redirects), its silo
    /// address, its process CPU in cores and whether it drains (see <see cref="PostgresNodeLoads"/>).
    /// </summary>
    public async Task HeartbeatAsync(NodeReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            INSERT INTO parley_nodes (node_id, address, started_at, heartbeat_at, silo, cpu_cores, draining)
            VALUES (@node, @address, @now, @now, @silo, @cpu, @draining)
            ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = @now, address = @address, silo = @silo, cpu_cores = @cpu, draining = @draining
            """, connection);
        command.Parameters.AddWithValue("node", NodeId);
        command.Parameters.AddWithValue("address", report.Address);
        command.Parameters.AddWithValue("now", now);
        command.Parameters.AddWithValue("silo", report.Silo);
        command.Parameters.AddWithValue("cpu", report.CpuCores);
        command.Parameters.AddWithValue("draining", report.Draining);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How many live instances this node hosts (the drain waits for none).</summary>
    public async Task<long> CountHostedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM parley_live_instances WHERE node_id = @node", connection);
        command.Parameters.AddWithValue("node", NodeId);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Ends this node's lease at once (a clean stop: its instances were ended by then).</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("DELETE FROM parley_nodes WHERE node_id = @node", connection);
        command.Parameters.AddWithValue("node", NodeId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task ForgetAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, uint appId, string instanceId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            DELETE FROM parley_live_instances WHERE app_id = @app AND agent_instance_id = @instance;
            DELETE FROM parley_instance_slots WHERE app_id = @app AND instance_id = @instance;
            """, connection, transaction);
        command.Parameters.AddWithValue("app", (long)appId);
        command.Parameters.AddWithValue("instance", instanceId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
