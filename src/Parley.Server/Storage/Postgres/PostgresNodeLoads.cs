using Npgsql;
using Parley.Server.Instances.Placement;

namespace Parley.Server.Storage.Postgres;

/// <summary>
/// The nodes' load reports from the shared store: each live node's row in <c>parley_nodes</c> (its silo address,
/// its process CPU and its drain flag, written with every lease renewal) and its live sessions, counted from
/// <c>parley_live_instances</c> (exact: an instance records itself there before its creation is answered).
/// </summary>
internal sealed class PostgresNodeLoads(PostgresDatabase database, NodeLeaseOptions lease, TimeProvider time) : INodeLoadSource
{
    public async Task<IReadOnlyList<NodeLoad>> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            SELECT n.silo, n.cpu_cores, n.draining,
                   (SELECT COUNT(*) FROM parley_live_instances l WHERE l.node_id = n.node_id)
            FROM parley_nodes n WHERE n.heartbeat_at >= @alive AND n.silo <> ''
            """, connection);
        command.Parameters.AddWithValue("alive", time.GetUtcNow().ToUnixTimeMilliseconds() - (long)lease.Lease.TotalMilliseconds);
        var loads = new List<NodeLoad>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            loads.Add(new NodeLoad(reader.GetString(0), reader.GetInt64(3), reader.GetDouble(1), reader.GetBoolean(2)));
        }

        return loads;
    }
}
