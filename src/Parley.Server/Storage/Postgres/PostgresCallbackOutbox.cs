using Npgsql;
using Parley.Server.Callbacks;

namespace Parley.Server.Storage.Postgres;

/// <summary>
/// The callback outbox in the shared PostgreSQL database (<c>parley_callback_outbox</c>), so every node delivers from
/// the same rows. A claim selects due rows <c>FOR UPDATE SKIP LOCKED</c> and moves their <c>next_attempt_at</c> to the
/// end of a lease in the same statement: two nodes never claim one row at once, and a row claimed by a node that dies
/// is due again when its lease ends (delivery is at least once). Outcomes are stored only while the row still carries
/// the claim, as in <see cref="SqliteCallbackOutbox"/>. Sequences are snowflakes (ms since 2010-11-04 shifted left 22
/// bits) whose low bits come from a database sequence, so they are unique across nodes.
/// </summary>
public sealed class PostgresCallbackOutbox(PostgresDatabase database, TimeProvider time) : ICallbackOutbox
{
    private const long SequenceEpochMs = 1288834974657;

    private const string Columns =
        "id, sequence, app_id, event, agent_instance_id, agent_user_id, room_id, data, state, attempts, created_at, next_attempt_at, last_attempt_at, completed_at, last_error, retry_from, agent_id, agent_name, host_tag";

    public const int MaxRedeliverSequences = 1000;

    public event Action? Published;

    internal PostgresDatabase Database => database;

    public Task EnsureInitializedAsync(CancellationToken cancellationToken) => database.EnsureMigratedAsync(cancellationToken);

    public async ValueTask PublishAsync(CallbackEvent callbackEvent, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await InsertAsync(connection, transaction: null, callbackEvent, cancellationToken).ConfigureAwait(false);
        Published?.Invoke();
    }

    /// <summary>Wakes the dispatcher after rows were committed through <see cref="InsertAsync"/>.</summary>
    internal void NotifyPublished() => Published?.Invoke();

    /// <summary>Inserts the event as a pending row (inside <paramref name="transaction"/> when given); returns its Sequence.</summary>
    internal async Task<long> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CallbackEvent callbackEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callbackEvent);
        if (string.IsNullOrWhiteSpace(callbackEvent.Event))
        {
            throw new ArgumentException("CallbackEvent.Event must be a non-empty event name.", nameof(callbackEvent));
        }

        ArgumentNullException.ThrowIfNull(callbackEvent.Data, "callbackEvent.Data");
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var insert = new NpgsqlCommand("""
            INSERT INTO parley_callback_outbox (sequence, app_id, event, agent_instance_id, agent_user_id, room_id, data, state, attempts, created_at, next_attempt_at, retry_from, agent_id, agent_name, host_tag)
            VALUES ((@timeBased << 22) | (nextval('parley_callback_sequence') % 4194304), @app, @event, @instance, @user, @room, @data, 0, 0, @now, @now, @now, @agent, @name, @host)
            RETURNING sequence
            """, connection, transaction);
        insert.Parameters.AddWithValue("timeBased", Math.Max(0, now - SequenceEpochMs));
        insert.Parameters.AddWithValue("app", (long)callbackEvent.AppId);
        insert.Parameters.AddWithValue("event", callbackEvent.Event);
        insert.Parameters.AddWithValue("instance", callbackEvent.AgentInstanceId ?? "");
        insert.Parameters.AddWithValue("user", callbackEvent.AgentUserId ?? "");
        insert.Parameters.AddWithValue("room", callbackEvent.RoomId ?? "");
        insert.Parameters.AddWithValue("data", callbackEvent.Data.ToJsonString());
        insert.Parameters.AddWithValue("agent", callbackEvent.AgentId ?? "");
        insert.Parameters.AddWithValue("name", callbackEvent.Name ?? "");
        insert.Parameters.AddWithValue("host", callbackEvent.HostTag ?? "");
        insert.Parameters.AddWithValue("now", now);
        return (long)(await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    public async Task<IReadOnlyList<uint>> GetAppsWithDueRowsAsync(long nowMs, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT DISTINCT app_id FROM parley_callback_outbox WHERE state = 0 AND next_attempt_at <= @now", connection);
        command.Parameters.AddWithValue("now", nowMs);
        var apps = new List<uint>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            apps.Add((uint)reader.GetInt64(0));
        }

        return apps;
    }

    public async Task<IReadOnlyList<CallbackOutboxEntry>> ClaimDueAsync(uint appId, long nowMs, int limit, long claimUntilMs, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(claimUntilMs, nowMs);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"""
            UPDATE parley_callback_outbox SET next_attempt_at = @until
            WHERE id IN (
                SELECT id FROM parley_callback_outbox
                WHERE state = 0 AND app_id = @app AND next_attempt_at <= @now
                ORDER BY next_attempt_at, sequence LIMIT @limit
                FOR UPDATE SKIP LOCKED)
            RETURNING {Columns}
            """, connection);
        command.Parameters.AddWithValue("until", claimUntilMs);
        command.Parameters.AddWithValue("app", (long)appId);
        command.Parameters.AddWithValue("now", nowMs);
        command.Parameters.AddWithValue("limit", (long)limit);
        var rows = await ReadRowsAsync(command, cancellationToken).ConfigureAwait(false);
        return [.. rows.OrderBy(r => r.Sequence)];
    }

    public async Task<long?> GetNextDueAfterAsync(long nowMs, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT MIN(next_attempt_at) FROM parley_callback_outbox WHERE state = 0 AND next_attempt_at > @now", connection);
        command.Parameters.AddWithValue("now", nowMs);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long value ? value : null;
    }

    public Task<bool> MarkDeliveredAsync(CallbackOutboxEntry claimed, long nowMs, CancellationToken cancellationToken) =>
        CompleteClaimAsync(claimed, CallbackDeliveryState.Delivered, claimed.Attempts + 1, nowMs, null, nowMs, null, cancellationToken);

    public Task<bool> ScheduleRetryAsync(CallbackOutboxEntry claimed, long nowMs, long nextAttemptAtMs, string error, CancellationToken cancellationToken) =>
        CompleteClaimAsync(claimed, CallbackDeliveryState.Pending, claimed.Attempts + 1, nowMs, nextAttemptAtMs, null, error, cancellationToken);

    public Task<bool> MarkDeadAsync(CallbackOutboxEntry claimed, long nowMs, string error, CancellationToken cancellationToken) =>
        CompleteClaimAsync(claimed, CallbackDeliveryState.Dead, claimed.Attempts + 1, nowMs, null, nowMs, error, cancellationToken);

    public Task<bool> MarkSkippedAsync(CallbackOutboxEntry claimed, long nowMs, string reason, CancellationToken cancellationToken) =>
        CompleteClaimAsync(claimed, CallbackDeliveryState.Skipped, claimed.Attempts, null, null, nowMs, reason, cancellationToken);

    public Task<bool> ReleaseAsync(CallbackOutboxEntry claimed, long nowMs, CancellationToken cancellationToken) =>
        CompleteClaimAsync(claimed, CallbackDeliveryState.Pending, claimed.Attempts, null, nowMs, null, claimed.LastError, cancellationToken);

    public async Task<int> PurgeCompletedAsync(long beforeMs, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("DELETE FROM parley_callback_outbox WHERE state IN (1, 3) AND completed_at < @before", connection);
        command.Parameters.AddWithValue("before", beforeMs);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<CallbackOutboxEntry?> GetAsync(long sequence, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM parley_callback_outbox WHERE sequence = @sequence", connection);
        command.Parameters.AddWithValue("sequence", sequence);
        var rows = await ReadRowsAsync(command, cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<CallbackOutboxEntry>> ListAsync(CallbackQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"""
            SELECT {Columns} FROM parley_callback_outbox
            WHERE sequence > @after AND (@app::bigint IS NULL OR app_id = @app) AND (@state::integer IS NULL OR state = @state)
            ORDER BY sequence LIMIT @limit
            """, connection);
        command.Parameters.AddWithValue("after", query.AfterSequence);
        command.Parameters.Add(new NpgsqlParameter("app", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = query.AppId is { } app ? (long)app : DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("state", NpgsqlTypes.NpgsqlDbType.Integer) { Value = query.State is { } state ? (int)state : DBNull.Value });
        command.Parameters.AddWithValue("limit", (long)query.Limit);
        return await ReadRowsAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<int> RedeliverAsync(uint appId, IReadOnlyCollection<long>? sequences, long nowMs, CancellationToken cancellationToken)
    {
        if (sequences is { Count: 0 })
        {
            return 0;
        }

        if (sequences is { Count: > MaxRedeliverSequences })
        {
            throw new ArgumentOutOfRangeException(nameof(sequences), $"at most {MaxRedeliverSequences} sequences at once");
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            UPDATE parley_callback_outbox SET state = 0, attempts = 0, next_attempt_at = @now, retry_from = @now, completed_at = NULL
            WHERE app_id = @app AND state = 2 AND (@all OR sequence = ANY(@sequences))
            """, connection);
        command.Parameters.AddWithValue("app", (long)appId);
        command.Parameters.AddWithValue("now", nowMs);
        command.Parameters.AddWithValue("all", sequences is null);
        command.Parameters.AddWithValue("sequences", sequences?.Distinct().ToArray() ?? []);
        var count = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (count > 0)
        {
            Published?.Invoke();
        }

        return count;
    }

    private async Task<bool> CompleteClaimAsync(
        CallbackOutboxEntry claimed,
        CallbackDeliveryState state,
        int attempts,
        long? lastAttemptAt,
        long? nextAttemptAt,
        long? completedAt,
        string? error,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claimed);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            UPDATE parley_callback_outbox SET
                state = @state,
                attempts = @attempts,
                last_attempt_at = COALESCE(@last, last_attempt_at),
                next_attempt_at = COALESCE(@next, next_attempt_at),
                completed_at = @completed,
                last_error = @error
            WHERE id = @id AND state = 0 AND attempts = @claimedAttempts AND next_attempt_at = @claim
            """, connection);
        command.Parameters.AddWithValue("state", (int)state);
        command.Parameters.AddWithValue("attempts", attempts);
        command.Parameters.Add(new NpgsqlParameter("last", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = (object?)lastAttemptAt ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("next", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = (object?)nextAttemptAt ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("completed", NpgsqlTypes.NpgsqlDbType.Bigint) { Value = (object?)completedAt ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("error", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)error ?? DBNull.Value });
        command.Parameters.AddWithValue("id", claimed.Id);
        command.Parameters.AddWithValue("claimedAttempts", claimed.Attempts);
        command.Parameters.AddWithValue("claim", claimed.NextAttemptAt);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    private static async Task<IReadOnlyList<CallbackOutboxEntry>> ReadRowsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var rows = new List<CallbackOutboxEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new CallbackOutboxEntry(
                Id: reader.GetInt64(0),
                Sequence: reader.GetInt64(1),
                AppId: (uint)reader.GetInt64(2),
                Event: reader.GetString(3),
                AgentInstanceId: reader.GetString(4),
                AgentUserId: reader.GetString(5),
                RoomId: reader.GetString(6),
                DataJson: reader.GetString(7),
                State: (CallbackDeliveryState)reader.GetInt32(8),
                Attempts: reader.GetInt32(9),
                CreatedAt: reader.GetInt64(10),
                NextAttemptAt: reader.GetInt64(11),
                LastAttemptAt: reader.IsDBNull(12) ? null : reader.GetInt64(12),
                CompletedAt: reader.IsDBNull(13) ? null : reader.GetInt64(13),
                LastError: reader.IsDBNull(14) ? null : reader.GetString(14),
                RetryFrom: reader.GetInt64(15),
                AgentId: reader.GetString(16),
                Name: reader.GetString(17),
                HostTag: reader.GetString(18)));
        }

        return rows;
    }
}
