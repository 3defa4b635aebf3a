using Microsoft.Data.Sqlite;
using Parley.Server.Storage;

namespace Parley.Server.Callbacks;

/// <summary>
/// The durable side of callbacks: <see cref="PublishAsync"/> stores the event as a row of <c>callback_outbox</c> in the
/// shared SQLite file (committed before it returns) and wakes the <see cref="CallbackDispatcher"/>. Claims are leases
/// kept in <c>next_attempt_at</c>: a claimed row is not due until its claim ends, and an outcome is stored only while
/// the row still carries the claim (same attempts, same <c>next_attempt_at</c>), so two dispatchers over one file never
/// deliver a row at the same time.
/// </summary>
public sealed class SqliteCallbackOutbox : ICallbackOutbox
{
    /// <summary>Sequence values are Twitter-style snowflakes: (ms since 2010-11-04) shifted left 22 bits, like ZEGO's ~1.9e18 values.</summary>
    private const long SequenceEpochMs = 1288834974657;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS callback_outbox (
            id               INTEGER PRIMARY KEY AUTOINCREMENT,
            sequence         INTEGER NOT NULL UNIQUE,
            app_id           INTEGER NOT NULL,
            event            TEXT    NOT NULL,
            agent_instance_id TEXT   NOT NULL,
            agent_user_id    TEXT    NOT NULL,
            room_id          TEXT    NOT NULL,
            data             TEXT    NOT NULL,
            state            INTEGER NOT NULL DEFAULT 0,
            attempts         INTEGER NOT NULL DEFAULT 0,
            created_at       INTEGER NOT NULL,
            next_attempt_at  INTEGER NOT NULL,
            last_attempt_at  INTEGER NULL,
            completed_at     INTEGER NULL,
            last_error       TEXT    NULL,
            retry_from       INTEGER NULL,
            agent_id         TEXT    NULL,
            agent_name       TEXT    NULL,
            host_tag         TEXT    NULL
        );
        CREATE INDEX IF NOT EXISTS ix_callback_outbox_due ON callback_outbox (state, next_attempt_at);
        CREATE INDEX IF NOT EXISTS ix_callback_outbox_app_due ON callback_outbox (state, app_id, next_attempt_at);
        """;

    private const string Columns =
        "id, sequence, app_id, event, agent_instance_id, agent_user_id, room_id, data, state, attempts, created_at, next_attempt_at, last_attempt_at, completed_at, last_error, COALESCE(retry_from, created_at), COALESCE(agent_id, ''), COALESCE(agent_name, ''), COALESCE(host_tag, '')";

    /// <summary>Most Sequences one <see cref="RedeliverAsync"/> call takes.</summary>
    public const int MaxRedeliverSequences = 1000;

    private readonly SqliteDatabase _database;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private readonly Lock _sequenceLock = new();
    private volatile bool _initialized;
    private long _lastSequence;

    public SqliteCallbackOutbox(SqliteDatabase database, TimeProvider time)
    {
        _database = database;
        _time = time;
    }

    /// <summary>Raised after a row is committed or redelivered.</summary>
    public event Action? Published;

    public async ValueTask PublishAsync(CallbackEvent callbackEvent, CancellationToken cancellationToken) =>
        await EnqueueAsync(callbackEvent, cancellationToken);

    /// <summary>Stores the event; returns its Sequence.</summary>
    internal async Task<long> EnqueueAsync(CallbackEvent callbackEvent, CancellationToken cancellationToken)
    {
        await EnsureInitializedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        var sequence = await InsertAsync(connection, transaction: null, callbackEvent, cancellationToken);
        Published?.Invoke();
        return sequence;
    }

    /// <summary>The database the rows are stored in, for stores that write an event in one transaction with their own rows.</summary>
    internal SqliteDatabase Database => _database;

    /// <summary>
    /// Inserts the event as a pending row on <paramref name="connection"/>, inside <paramref name="transaction"/> when
    /// given (the caller commits, then calls <see cref="NotifyPublished"/>). Needs <see cref="EnsureInitializedAsync"/> first.
    /// </summary>
    internal async Task<long> InsertAsync(SqliteConnection connection, SqliteTransaction? transaction, CallbackEvent callbackEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(callbackEvent);
        if (string.IsNullOrWhiteSpace(callbackEvent.Event))
        {
            throw new ArgumentException("CallbackEvent.Event must be a non-empty event name.", nameof(callbackEvent));
        }

        ArgumentNullException.ThrowIfNull(callbackEvent.Data, "callbackEvent.Data");
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var data = callbackEvent.Data.ToJsonString();
        for (var attempt = 0; ; attempt++)
        {
            var sequence = NextSequence(now);
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = """
                INSERT INTO callback_outbox (sequence, app_id, event, agent_instance_id, agent_user_id, room_id, data, state, attempts, created_at, next_attempt_at, agent_id, agent_name, host_tag)
                VALUES ($sequence, $app, $event, $instance, $user, $room, $data, 0, 0, $now, $now, $agent, $name, $host);
                """;
            insert.Parameters.AddWithValue("$sequence", sequence);
            insert.Parameters.AddWithValue("$app", (long)callbackEvent.AppId);
            insert.Parameters.AddWithValue("$event", callbackEvent.Event);
            insert.Parameters.AddWithValue("$instance", callbackEvent.AgentInstanceId ?? "");
            insert.Parameters.AddWithValue("$user", callbackEvent.AgentUserId ?? "");
            insert.Parameters.AddWithValue("$room", callbackEvent.RoomId ?? "");
            insert.Parameters.AddWithValue("$data", data);
            insert.Parameters.AddWithValue("$agent", callbackEvent.AgentId ?? "");
            insert.Parameters.AddWithValue("$name", callbackEvent.Name ?? "");
            insert.Parameters.AddWithValue("$host", callbackEvent.HostTag ?? "");
            insert.Parameters.AddWithValue("$now", now);
            try
            {
                await insert.ExecuteNonQueryAsync(cancellationToken);
                return sequence;
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19 && attempt < 8)
            {
                // Another writer of the same file took this sequence: continue after the largest stored one.
                await LoadLastSequenceAsync(connection, transaction, cancellationToken);
            }
        }
    }

    /// <summary>Wakes the dispatcher after rows were committed through <see cref="InsertAsync"/>.</summary>
    internal void NotifyPublished() => Published?.Invoke();

    /// <summary>Creates the table (once per process) and resumes the sequence after the largest stored one.</summary>
    public async Task EnsureInitializedAsync(CancellationToken cancellationToken)
    {
        if (_initialized)
        {
            return;
        }

        await _initLock.WaitAsync(cancellationToken);
        try
        {
            if (_initialized)
            {
                return;
            }

            await _database.EnsureSchemaAsync(Schema, cancellationToken);
            await using var connection = await _database.OpenAsync(cancellationToken);
            await AddColumnAsync(connection, "retry_from", "INTEGER", cancellationToken);
            await AddColumnAsync(connection, "agent_id", "TEXT", cancellationToken);
            await AddColumnAsync(connection, "agent_name", "TEXT", cancellationToken);
            await AddColumnAsync(connection, "host_tag", "TEXT", cancellationToken);
            await LoadLastSequenceAsync(connection, transaction: null, cancellationToken);
            _initialized = true;
        }
        finally
        {
            _initLock.Release();
        }
    }

    public async Task<CallbackOutboxEntry?> GetAsync(long sequence, CancellationToken cancellationToken)
    {
        await EnsureInitializedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM callback_outbox WHERE sequence = $sequence;";
        command.Parameters.AddWithValue("$sequence", sequence);
        var rows = await ReadRowsAsync(command, cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>Rows in Sequence order, optionally only those in <paramref name="state"/>.</summary>
    public Task<IReadOnlyList<CallbackOutboxEntry>> ListAsync(CallbackDeliveryState? state, int limit, CancellationToken cancellationToken) =>
        ListAsync(new CallbackQuery(State: state, Limit: limit), cancellationToken);

    public async Task<IReadOnlyList<CallbackOutboxEntry>> ListAsync(CallbackQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        await EnsureInitializedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT {Columns} FROM callback_outbox
            WHERE sequence > $after AND ($app IS NULL OR app_id = $app) AND ($state IS NULL OR state = $state)
            ORDER BY sequence LIMIT $limit;
            """;
        command.Parameters.AddWithValue("$after", query.AfterSequence);
        command.Parameters.AddWithValue("$app", query.AppId is { } app ? (object)(long)app : DBNull.Value);
        command.Parameters.AddWithValue("$state", query.State is { } state ? (object)(int)state : DBNull.Value);
        command.Parameters.AddWithValue("$limit", query.Limit);
        return await ReadRowsAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyList<uint>> GetAppsWithDueRowsAsync(long nowMs, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT DISTINCT app_id FROM callback_outbox WHERE state = 0 AND next_attempt_at <= $now;";
        command.Parameters.AddWithValue("$now", nowMs);
        var apps = new List<uint>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            apps.Add((uint)reader.GetInt64(0));
        }

        return apps;
    }

    public async Task<IReadOnlyList<CallbackOutboxEntry>> ClaimDueAsync(uint appId, long nowMs, int limit, long claimUntilMs, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(claimUntilMs, nowMs);
        await using var connection = await _database.OpenAsync(cancellationToken);

        // One statement: SQLite runs it under the file's write lock, so two claimers never take the same row.
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            UPDATE callback_outbox SET next_attempt_at = $until
            WHERE id IN (
                SELECT id FROM callback_outbox
                WHERE state = 0 AND app_id = $app AND next_attempt_at <= $now
                ORDER BY next_attempt_at, sequence LIMIT $limit)
            RETURNING {Columns};
            """;
        command.Parameters.AddWithValue("$until", claimUntilMs);
        command.Parameters.AddWithValue("$app", (long)appId);
        command.Parameters.AddWithValue("$now", nowMs);
        command.Parameters.AddWithValue("$limit", limit);
        var rows = await ReadRowsAsync(command, cancellationToken);

        // RETURNING gives no order: hand them out oldest first.
        return [.. rows.OrderBy(r => r.Sequence)];
    }

    public async Task<long?> GetNextDueAfterAsync(long nowMs, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT MIN(next_attempt_at) FROM callback_outbox WHERE state = 0 AND next_attempt_at > $now;";
        command.Parameters.AddWithValue("$now", nowMs);
        var result = await command.ExecuteScalarAsync(cancellationToken);
        return result is long value ? value : null;
    }

    public Task<bool> MarkDeliveredAsync(CallbackOutboxEntry claimed, long nowMs, CancellationToken cancellationToken) =>
        CompleteClaimAsync(claimed, CallbackDeliveryState.Delivered, claimed.Attempts + 1, nowMs, nextAttemptAt: null, completedAt: nowMs, error: null, cancellationToken);

    public Task<bool> ScheduleRetryAsync(CallbackOutboxEntry claimed, long nowMs, long nextAttemptAtMs, string error, CancellationToken cancellationToken) =>
        CompleteClaimAsync(claimed, CallbackDeliveryState.Pending, claimed.Attempts + 1, nowMs, nextAttemptAtMs, completedAt: null, error, cancellationToken);

    public Task<bool> MarkDeadAsync(CallbackOutboxEntry claimed, long nowMs, string error, CancellationToken cancellationToken) =>
        CompleteClaimAsync(claimed, CallbackDeliveryState.Dead, claimed.Attempts + 1, nowMs, nextAttemptAt: null, completedAt: nowMs, error, cancellationToken);

    public Task<bool> MarkSkippedAsync(CallbackOutboxEntry claimed, long nowMs, string reason, CancellationToken cancellationToken) =>
        CompleteClaimAsync(claimed, CallbackDeliveryState.Skipped, claimed.Attempts, lastAttemptAt: null, nextAttemptAt: null, completedAt: nowMs, reason, cancellationToken);

    public Task<bool> ReleaseAsync(CallbackOutboxEntry claimed, long nowMs, CancellationToken cancellationToken) =>
        CompleteClaimAsync(claimed, CallbackDeliveryState.Pending, claimed.Attempts, lastAttemptAt: null, nowMs, completedAt: null, claimed.LastError, cancellationToken);

    public async Task<int> PurgeCompletedAsync(long beforeMs, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM callback_outbox WHERE state IN (1, 3) AND completed_at < $before;";
        command.Parameters.AddWithValue("$before", beforeMs);
        return await command.ExecuteNonQueryAsync(cancellationToken);
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

        await EnsureInitializedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var filter = "";
        if (sequences is not null)
        {
            var names = new List<string>(sequences.Count);
            foreach (var (sequence, i) in sequences.Distinct().Select((s, i) => (s, i)))
            {
                names.Add($"$s{i}");
                command.Parameters.AddWithValue($"$s{i}", sequence);
            }

            filter = $" AND sequence IN ({string.Join(", ", names)})";
        }

        command.CommandText = $"""
            UPDATE callback_outbox SET state = 0, attempts = 0, next_attempt_at = $now, retry_from = $now, completed_at = NULL
            WHERE app_id = $app AND state = 2{filter};
            """;
        command.Parameters.AddWithValue("$app", (long)appId);
        command.Parameters.AddWithValue("$now", nowMs);
        var count = await command.ExecuteNonQueryAsync(cancellationToken);
        if (count > 0)
        {
            Published?.Invoke();
        }

        return count;
    }

    /// <summary>Stores an attempt's outcome if the row still carries <paramref name="claimed"/>'s claim.</summary>
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
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE callback_outbox SET
                state = $state,
                attempts = $attempts,
                last_attempt_at = COALESCE($last, last_attempt_at),
                next_attempt_at = COALESCE($next, next_attempt_at),
                completed_at = $completed,
                last_error = $error
            WHERE id = $id AND state = 0 AND attempts = $claimedAttempts AND next_attempt_at = $claim;
            """;
        command.Parameters.AddWithValue("$state", (int)state);
        command.Parameters.AddWithValue("$attempts", attempts);
        command.Parameters.AddWithValue("$last", (object?)lastAttemptAt ?? DBNull.Value);
        command.Parameters.AddWithValue("$next", (object?)nextAttemptAt ?? DBNull.Value);
        command.Parameters.AddWithValue("$completed", (object?)completedAt ?? DBNull.Value);
        command.Parameters.AddWithValue("$error", (object?)error ?? DBNull.Value);
        command.Parameters.AddWithValue("$id", claimed.Id);
        command.Parameters.AddWithValue("$claimedAttempts", claimed.Attempts);
        command.Parameters.AddWithValue("$claim", claimed.NextAttemptAt);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private long NextSequence(long nowMs)
    {
        var timeBased = Math.Max(0, nowMs - SequenceEpochMs) << 22;
        lock (_sequenceLock)
        {
            _lastSequence = Math.Max(timeBased, _lastSequence + 1);
            return _lastSequence;
        }
    }

    private async Task LoadLastSequenceAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT MAX(sequence) FROM callback_outbox;";
        var result = await command.ExecuteScalarAsync(cancellationToken);
        if (result is long max)
        {
            lock (_sequenceLock)
            {
                _lastSequence = Math.Max(_lastSequence, max);
            }
        }
    }

    /// <summary>
    /// Files written by older versions lack later columns (<c>retry_from</c>: null = created_at; <c>agent_id</c>,
    /// <c>agent_name</c>: null = ""): add the missing one.
    /// </summary>
    private static async Task AddColumnAsync(SqliteConnection connection, string column, string type, CancellationToken cancellationToken)
    {
        await using var probe = connection.CreateCommand();
        probe.CommandText = "SELECT COUNT(*) FROM pragma_table_info('callback_outbox') WHERE name = $column;";
        probe.Parameters.AddWithValue("$column", column);
        if ((long)(await probe.ExecuteScalarAsync(cancellationToken))! > 0)
        {
            return;
        }

        await using var alter = connection.CreateCommand();
        alter.CommandText = $"ALTER TABLE callback_outbox ADD COLUMN {column} {type} NULL;";
        try
        {
            await alter.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (SqliteException ex) when (ex.Message.Contains("duplicate column", StringComparison.OrdinalIgnoreCase))
        {
            // Another process over the same file added it first.
        }
    }

    private static async Task<IReadOnlyList<CallbackOutboxEntry>> ReadRowsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var rows = new List<CallbackOutboxEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
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
