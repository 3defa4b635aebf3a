using Npgsql;

namespace Parley.Server.Storage.Postgres;

/// <summary>
/// The PostgreSQL database a cluster shares (<c>Parley:Store:ConnectionString</c>): one pooled data source, and the
/// schema, created and migrated at first use by <see cref="EnsureMigratedAsync"/>. Migrations are numbered and recorded
/// in <c>parley_schema_migrations</c>; they run under a transaction-scoped advisory lock, so nodes starting together
/// apply each one once.
/// </summary>
public sealed partial class PostgresDatabase : IAsyncDisposable
{
    /// <summary>The advisory lock key of the migration (any constant that no other application uses).</summary>
    private const long MigrationLock = 0x5061726C6579; // "Parley"

    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger<PostgresDatabase>? _logger;
    private readonly SemaphoreSlim _migrationLock = new(1, 1);
    private volatile bool _migrated;

    public PostgresDatabase(string connectionString, ILogger<PostgresDatabase>? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _dataSource = NpgsqlDataSource.Create(connectionString);
        ConnectionString = connectionString;
        _logger = logger;
    }

    /// <summary>The connection string the database was opened with (never logged).</summary>
    internal string ConnectionString { get; }

    /// <summary>The migrations, in order. Never edit a released one: add the next.</summary>
    internal static IReadOnlyList<(int Version, string Name, Func<string> Sql)> Migrations { get; } =
    [
        // Version 1 once created Orleans' ADO.NET membership tables; membership is now Parley's own (version 3), so a
        // new database records it without doing anything. Old databases keep their Orleans tables, unused.
        (1, "orleans-clustering (retired)", () => ""),
        (2, "parley-stores", () => PostgresSchema.V2),
        (3, "parley-cluster-membership", () => PostgresSchema.V3),
        (4, "parley-node-load", () => PostgresSchema.V4),
    ];

    /// <summary>The newest schema version this build knows.</summary>
    public static int LatestVersion => Migrations[^1].Version;

    /// <summary>Opens a connection once the schema is current.</summary>
    public async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        await EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        return await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>True when a trivial query answers (readiness).</summary>
    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Applies the migrations this database lacks (once per process; concurrent nodes wait on the advisory lock).</summary>
    public async Task EnsureMigratedAsync(CancellationToken cancellationToken)
    {
        if (_migrated)
        {
            return;
        }

        await _migrationLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_migrated)
            {
                return;
            }

            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLock})", cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, """
                CREATE TABLE IF NOT EXISTS parley_schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, cancellationToken).ConfigureAwait(false);
            var applied = new HashSet<int>();
            await using (var read = connection.CreateCommand())
            {
                read.CommandText = "SELECT version FROM parley_schema_migrations";
                await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    applied.Add(reader.GetInt32(0));
                }
            }

            if (applied.Count > 0 && applied.Max() > LatestVersion)
            {
                throw new InvalidOperationException(
                    $"the PostgreSQL store has schema version {applied.Max()}, newer than this build's {LatestVersion}: upgrade this node");
            }

            foreach (var (version, name, sql) in Migrations)
            {
                if (applied.Contains(version))
                {
                    continue;
                }

                var script = sql();
                if (script.Length > 0)
                {
                    await ExecuteAsync(connection, script, cancellationToken).ConfigureAwait(false);
                }

                await RecordAsync(connection, version, name, cancellationToken).ConfigureAwait(false);
                if (_logger is not null)
                {
                    LogMigrated(_logger, version, name);
                }
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            _migrated = true;
        }
        finally
        {
            _migrationLock.Release();
        }
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private static async Task RecordAsync(NpgsqlConnection connection, int version, string name, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO parley_schema_migrations (version, name) VALUES (@v, @n)";
        command.Parameters.AddWithValue("v", version);
        command.Parameters.AddWithValue("n", name);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "PostgreSQL store migrated to schema version {Version} ({Name})")]
    private static partial void LogMigrated(ILogger logger, int version, string name);
}
