using Npgsql;
using Parley.Rtc.Rooms;

namespace Parley.Server.Storage.Postgres;

/// <summary>
/// Finds the node that hosts a room's agent from the shared journal: the live instance in the room and the public
/// address its (live) node heartbeats with (<c>Parley:Cluster:PublicUrl</c>). A room hosted here, by no agent, or by a
/// node without a public address is served here.
/// </summary>
internal sealed class PostgresRoomLocator(PostgresDatabase database, PostgresInstanceJournal journal, NodeLeaseOptions lease, TimeProvider time) : IRoomLocator
{
    public async ValueTask<Uri?> FindOtherOwnerAsync(uint appId, string roomId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            SELECT l.node_id = @me, n.address FROM parley_live_instances l
            JOIN parley_nodes n ON n.node_id = l.node_id
            WHERE l.app_id = @app AND l.room_id = @room AND n.heartbeat_at >= @alive
            ORDER BY (l.node_id = @me) DESC, l.created_at LIMIT 1
            """, connection);
        command.Parameters.AddWithValue("me", journal.NodeId);
        command.Parameters.AddWithValue("app", (long)appId);
        command.Parameters.AddWithValue("room", roomId);
        command.Parameters.AddWithValue("alive", time.GetUtcNow().ToUnixTimeMilliseconds() - (long)lease.Lease.TotalMilliseconds);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false) || reader.GetBoolean(0))
        {
            return null;
        }

        return Uri.TryCreate(reader.GetString(1), UriKind.Absolute, out var owner) && owner.Scheme is "http" or "https" ? owner : null;
    }
}
