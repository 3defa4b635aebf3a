using Npgsql;
using Parley.Server.Instances;

namespace Parley.Server.Storage.Postgres;

/// <summary>
/// The per-app instance slots in <c>parley_instance_slots</c>: a reservation reads the app's slots and writes its own
/// under a transaction-scoped advisory lock per app, so the limit holds whichever node asks. A slot is freed when its
/// instance ends (the grain, or the journal when it records the end or recovers a lost node's instances); a slot whose
/// instance never became live (its node died between the reservation and the create) is dropped after
/// <see cref="OrphanAfterMs"/>.
/// </summary>
internal sealed class PostgresInstanceSlots(PostgresDatabase database, TimeProvider time) : IInstanceSlotStore
{
    private const long SlotLockBase = 2L << 40;

    /// <summary>A reserved slot with no live instance record this long after its reservation is an orphan.</summary>
    public const long OrphanAfterMs = 120_000;

    public async Task<ReservationReply> ReserveAsync(uint appId, InstanceReservation reservation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            lockCommand.Parameters.AddWithValue("key", SlotLockBase | appId);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var orphans = new NpgsqlCommand("""
            DELETE FROM parley_instance_slots s WHERE s.app_id = @app AND s.reserved_at < @orphan
            AND NOT EXISTS (SELECT 1 FROM parley_live_instances l WHERE l.app_id = s.app_id AND l.agent_instance_id = s.instance_id)
            """, connection, transaction))
        {
            orphans.Parameters.AddWithValue("app", (long)appId);
            orphans.Parameters.AddWithValue("orphan", now - OrphanAfterMs);
            await orphans.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var live = new List<InstanceSlot>();
        await using (var read = new NpgsqlCommand("SELECT instance_id, agent_user_id, agent_stream_id FROM parley_instance_slots WHERE app_id = @app ORDER BY reserved_at", connection, transaction))
        {
            read.Parameters.AddWithValue("app", (long)appId);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                live.Add(new InstanceSlot(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
            }
        }

        var reply = InstanceSlotRules.Decide(live, reservation);
        if (reply.Code == 0)
        {
            await using var write = new NpgsqlCommand("""
                DELETE FROM parley_instance_slots WHERE app_id = @app AND instance_id = @kick;
                INSERT INTO parley_instance_slots (app_id, instance_id, agent_user_id, agent_stream_id, reserved_at)
                VALUES (@app, @id, @user, @stream, @now)
                ON CONFLICT (app_id, instance_id) DO UPDATE SET agent_user_id = @user, agent_stream_id = @stream, reserved_at = @now;
                """, connection, transaction);
            write.Parameters.AddWithValue("app", (long)appId);
            write.Parameters.AddWithValue("kick", reply.KickInstanceId ?? "");
            write.Parameters.AddWithValue("id", reservation.InstanceId);
            write.Parameters.AddWithValue("user", reservation.AgentUserId);
            write.Parameters.AddWithValue("stream", reservation.AgentStreamId);
            write.Parameters.AddWithValue("now", now);
            await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return reply;
    }

    public async Task ReleaseAsync(uint appId, string instanceId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("DELETE FROM parley_instance_slots WHERE app_id = @app AND instance_id = @id", connection);
        command.Parameters.AddWithValue("app", (long)appId);
        command.Parameters.AddWithValue("id", instanceId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<int> CountAsync(uint appId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM parley_instance_slots WHERE app_id = @app", connection);
        command.Parameters.AddWithValue("app", (long)appId);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }
}
