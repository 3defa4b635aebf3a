using Microsoft.Data.Sqlite;
using Parley.Server.Callbacks;
using Parley.Server.Storage;

namespace Parley.Server.Instances;

/// <summary>
/// <see cref="IInstanceJournal"/> as the table <c>live_instances</c> of the shared SQLite file. Each row carries the
/// id of the process that wrote it, so recovery at start takes only rows of processes that are gone. When the
/// registered publisher is the SQLite outbox of the same file, Deleted rows are inserted in the same transaction that
/// removes the instance; with another publisher the event is published first and the row removed after (a crash in
/// between repeats the event at the next start: at least once, never lost).
/// </summary>
/// <remarks>One data directory belongs to one server process at a time: a second process over the same file would
/// take the first one's live instances for leftovers of a crash.</remarks>
internal sealed class SqliteInstanceJournal : IInstanceJournal
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS live_instances (
            app_id            INTEGER NOT NULL,
            agent_instance_id TEXT    NOT NULL,
            agent_user_id     TEXT    NOT NULL,
            room_id           TEXT    NOT NULL,
            boot_id           TEXT    NOT NULL,
            created_at        INTEGER NOT NULL,
            PRIMARY KEY (app_id, agent_instance_id)
        );
        """;

    private readonly SqliteDatabase _database;
    private readonly ICallbackPublisher? _publisher;
    private readonly SqliteCallbackOutbox? _outbox;
    private readonly string _bootId = Guid.NewGuid().ToString("N");
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private volatile bool _initialized;

    public SqliteInstanceJournal(SqliteDatabase database, IEnumerable<ICallbackPublisher> publishers)
    {
        _database = database;
        _publisher = publishers.LastOrDefault();
        _outbox = _publisher is SqliteCallbackOutbox outbox && outbox.Database.FilePath == database.FilePath ? outbox : null;
    }

    public async Task RecordLiveAsync(LiveInstanceRecord instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        await EnsureInitializedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT OR REPLACE INTO live_instances (app_id, agent_instance_id, agent_user_id, room_id, boot_id, created_at)
            VALUES ($app, $instance, $user, $room, $boot, $created);
            """;
        command.Parameters.AddWithValue("$app", (long)instance.AppId);
        command.Parameters.AddWithValue("$instance", instance.AgentInstanceId);
        command.Parameters.AddWithValue("$user", instance.AgentUserId);
        command.Parameters.AddWithValue("$room", instance.RoomId);
        command.Parameters.AddWithValue("$boot", _bootId);
        command.Parameters.AddWithValue("$created", instance.CreatedAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task RecordDeletedAsync(CallbackEvent deleted, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deleted);
        await EnsureInitializedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        if (_outbox is null)
        {
            await PublishAsync(deleted, cancellationToken);
            await RemoveAsync(connection, transaction: null, deleted.AppId, deleted.AgentInstanceId, cancellationToken);
            return;
        }

        await using (var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
        {
            await _outbox.InsertAsync(connection, transaction, deleted, cancellationToken);
            await RemoveAsync(connection, transaction, deleted.AppId, deleted.AgentInstanceId, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        _outbox.NotifyPublished();
    }

    public async Task<int> RecoverAsync(Func<LiveInstanceRecord, CallbackEvent> deletedEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deletedEvent);
        await EnsureInitializedAsync(cancellationToken);
        await using var connection = await _database.OpenAsync(cancellationToken);
        if (_outbox is null)
        {
            var leftovers = await ReadLeftoversAsync(connection, transaction: null, cancellationToken);
            foreach (var instance in leftovers)
            {
                await PublishAsync(deletedEvent(instance), cancellationToken);
                await RemoveAsync(connection, transaction: null, instance.AppId, instance.AgentInstanceId, cancellationToken);
            }

            return leftovers.Count;
        }

        int count;
        await using (var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken))
        {
            var leftovers = await ReadLeftoversAsync(connection, transaction, cancellationToken);
            foreach (var instance in leftovers)
            {
                await _outbox.InsertAsync(connection, transaction, deletedEvent(instance), cancellationToken);
                await RemoveAsync(connection, transaction, instance.AppId, instance.AgentInstanceId, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            count = leftovers.Count;
        }

        if (count > 0)
        {
            _outbox.NotifyPublished();
        }

        return count;
    }

    private async ValueTask PublishAsync(CallbackEvent callbackEvent, CancellationToken cancellationToken)
    {
        if (_publisher is not null)
        {
            await _publisher.PublishAsync(callbackEvent, cancellationToken);
        }
    }

    private async Task<IReadOnlyList<LiveInstanceRecord>> ReadLeftoversAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT app_id, agent_instance_id, agent_user_id, room_id, created_at FROM live_instances
            WHERE boot_id <> $boot ORDER BY created_at, app_id, agent_instance_id;
            """;
        command.Parameters.AddWithValue("$boot", _bootId);
        var rows = new List<LiveInstanceRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new LiveInstanceRecord((uint)reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4)));
        }

        return rows;
    }

    private static async Task RemoveAsync(SqliteConnection connection, SqliteTransaction? transaction, uint appId, string instanceId, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM live_instances WHERE app_id = $app AND agent_instance_id = $instance;";
        command.Parameters.AddWithValue("$app", (long)appId);
        command.Parameters.AddWithValue("$instance", instanceId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task EnsureInitializedAsync(CancellationToken cancellationToken)
    {
        if (_initialized)
        {
            return;
        }

        await _initLock.WaitAsync(cancellationToken);
        try
        {
            if (!_initialized)
            {
                await _database.EnsureSchemaAsync(Schema, cancellationToken);
                if (_outbox is not null)
                {
                    await _outbox.EnsureInitializedAsync(cancellationToken);
                }

                _initialized = true;
            }
        }
        finally
        {
            _initLock.Release();
        }
    }
}
