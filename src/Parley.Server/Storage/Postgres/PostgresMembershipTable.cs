using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;

namespace Parley.Server.Storage.Postgres;

/// <summary>
/// Orleans cluster membership in the shared PostgreSQL database (Parley's schema version 3): one row per cluster in
/// <c>parley_cluster_version</c> holds the table version, one row per silo incarnation in <c>parley_cluster_members</c>.
/// Every write of a member row takes the version row <c>FOR UPDATE</c> in the same transaction and succeeds only when
/// the caller's <see cref="TableVersion.VersionEtag"/> is the stored version (the version number is its own etag) and
/// its new version is higher; an update also needs the member row's etag, which only inserts and updates change
/// (a heartbeat leaves both etags alone, so what a silo read stays usable).
/// </summary>
public sealed partial class PostgresMembershipTable : IMembershipTable
{
    private const string MemberColumns =
        "m.address, m.port, m.generation, m.silo_name, m.host_name, m.role_name, m.status, m.proxy_port, m.update_zone, m.fault_zone, m.suspect_times, m.start_time, m.i_am_alive_time, m.etag";

    private readonly PostgresDatabase _database;
    private readonly string _clusterId;
    private readonly ILogger<PostgresMembershipTable> _logger;

    public PostgresMembershipTable(PostgresDatabase database, IOptions<ClusterOptions> cluster, ILogger<PostgresMembershipTable> logger)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentException.ThrowIfNullOrWhiteSpace(cluster.Value.ClusterId, "ClusterOptions.ClusterId");
        _database = database;
        _clusterId = cluster.Value.ClusterId;
        _logger = logger;
    }

    public Task InitializeMembershipTable(bool tryInitTableVersion) =>
        InitializeMembershipTableAsync(tryInitTableVersion, CancellationToken.None);

    /// <summary>Migrates the schema (if this node is first) and, when asked, creates this cluster's version row (version 0).</summary>
    public async Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        if (tryInitTableVersion)
        {
            await using var command = Command(connection, null, "INSERT INTO parley_cluster_version (cluster_id, version) VALUES (@c, 0) ON CONFLICT DO NOTHING");
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        LogInitialized(_logger, _clusterId);
    }

    public Task DeleteMembershipTableEntries(string clusterId) => DeleteMembershipTableEntriesAsync(clusterId, CancellationToken.None);

    /// <summary>Removes the version row and (by cascade) every member row of <paramref name="clusterId"/>.</summary>
    public async Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(clusterId);
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM parley_cluster_version WHERE cluster_id = @c";
        command.Parameters.AddWithValue("c", clusterId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => CleanupDefunctSiloEntriesAsync(beforeDate, CancellationToken.None);

    /// <summary>Deletes this cluster's Dead members whose last update (start or heartbeat) is before <paramref name="beforeDate"/>.</summary>
    public async Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, """
            DELETE FROM parley_cluster_members
            WHERE cluster_id = @c AND status = @dead AND GREATEST(start_time, i_am_alive_time) < @before
            """);
        command.Parameters.AddWithValue("dead", (int)SiloStatus.Dead);
        command.Parameters.AddWithValue("before", beforeDate.ToUniversalTime());
        var removed = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (removed > 0)
        {
            LogCleanedUp(_logger, removed, _clusterId);
        }
    }

    public Task<MembershipTableData> ReadRow(SiloAddress key) => ReadRowAsync(key, CancellationToken.None);

    /// <summary>The member row of <paramref name="key"/> (if any) and the table version, read by one statement.</summary>
    public async Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, $"""
            SELECT v.version, {MemberColumns}
            FROM parley_cluster_version v
            LEFT JOIN parley_cluster_members m
              ON m.cluster_id = v.cluster_id AND m.address = @address AND m.port = @port AND m.generation = @generation
            WHERE v.cluster_id = @c
            """);
        AddKey(command, key);
        return await ReadTableAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public Task<MembershipTableData> ReadAll() => ReadAllAsync(CancellationToken.None);

    /// <summary>Every member row of this cluster and the table version, read by one statement (one snapshot).</summary>
    public async Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, $"""
            SELECT v.version, {MemberColumns}
            FROM parley_cluster_version v
            LEFT JOIN parley_cluster_members m ON m.cluster_id = v.cluster_id
            WHERE v.cluster_id = @c
            ORDER BY m.address, m.port, m.generation
            """);
        return await ReadTableAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => InsertRowAsync(entry, tableVersion, CancellationToken.None);

    /// <summary>Adds <paramref name="entry"/> and moves the table to <paramref name="tableVersion"/>; false (and no change) when the silo is already there or the version is stale.</summary>
    public async Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken)
    {
        Validate(entry, tableVersion);
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        if (!await TryLockVersionAsync(connection, transaction, tableVersion, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        await using (var insert = Command(connection, transaction, """
            INSERT INTO parley_cluster_members (cluster_id, address, port, generation, silo_name, host_name, role_name, status,
                proxy_port, update_zone, fault_zone, suspect_times, start_time, i_am_alive_time, etag)
            VALUES (@c, @address, @port, @generation, @silo_name, @host_name, @role_name, @status,
                @proxy_port, @update_zone, @fault_zone, @suspect_times, @start_time, @i_am_alive_time, @new_etag)
            ON CONFLICT DO NOTHING
            """))
        {
            AddEntry(insert, entry);
            if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                LogConflict(_logger, "insert", entry.SiloAddress, "the silo is already in the table");
                return false;
            }
        }

        await SetVersionAsync(connection, transaction, tableVersion, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) =>
        UpdateRowAsync(entry, etag, tableVersion, CancellationToken.None);

    /// <summary>Replaces the row of <paramref name="entry"/>'s silo and moves the table to <paramref name="tableVersion"/>; false (and no change) when the row is absent, its etag is not <paramref name="etag"/>, or the version is stale.</summary>
    public async Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken)
    {
        Validate(entry, tableVersion);
        ArgumentNullException.ThrowIfNull(etag);
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        if (!await TryLockVersionAsync(connection, transaction, tableVersion, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        await using (var update = Command(connection, transaction, """
            UPDATE parley_cluster_members SET silo_name = @silo_name, host_name = @host_name, role_name = @role_name,
                status = @status, proxy_port = @proxy_port, update_zone = @update_zone, fault_zone = @fault_zone,
                suspect_times = @suspect_times, start_time = @start_time, i_am_alive_time = @i_am_alive_time, etag = @new_etag
            WHERE cluster_id = @c AND address = @address AND port = @port AND generation = @generation AND etag = @etag
            """))
        {
            AddEntry(update, entry);
            update.Parameters.AddWithValue("etag", etag);
            if (await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                LogConflict(_logger, "update", entry.SiloAddress, "the row is absent or its etag changed");
                return false;
            }
        }

        await SetVersionAsync(connection, transaction, tableVersion, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public Task UpdateIAmAlive(MembershipEntry entry) => UpdateIAmAliveAsync(entry, CancellationToken.None);

    /// <summary>Writes the silo's heartbeat time only: the row etag and the table version stay as they are.</summary>
    public async Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(entry.SiloAddress, "entry.SiloAddress");
        await using var connection = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = Command(connection, null, """
            UPDATE parley_cluster_members SET i_am_alive_time = @i_am_alive_time
            WHERE cluster_id = @c AND address = @address AND port = @port AND generation = @generation
            """);
        AddKey(command, entry.SiloAddress);
        command.Parameters.AddWithValue("i_am_alive_time", Utc(entry.IAmAliveTime));
        if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
        {
            LogConflict(_logger, "heartbeat", entry.SiloAddress, "the silo is not in the table");
        }
    }

    /// <summary>Creates the version row if missing, locks it, and checks the caller's etag and new version against it.</summary>
    private async Task<bool> TryLockVersionAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, TableVersion tableVersion, CancellationToken cancellationToken)
    {
        await using (var ensure = Command(connection, transaction, "INSERT INTO parley_cluster_version (cluster_id, version) VALUES (@c, 0) ON CONFLICT DO NOTHING"))
        {
            await ensure.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var select = Command(connection, transaction, "SELECT version FROM parley_cluster_version WHERE cluster_id = @c FOR UPDATE");
        var stored = (int)(await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        if (string.Equals(tableVersion.VersionEtag, VersionEtag(stored), StringComparison.Ordinal) && tableVersion.Version > stored)
        {
            return true;
        }

        LogVersionConflict(_logger, tableVersion.Version, tableVersion.VersionEtag ?? "", stored);
        return false;
    }

    private async Task SetVersionAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, TableVersion tableVersion, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "UPDATE parley_cluster_version SET version = @v, updated_at = now() WHERE cluster_id = @c");
        command.Parameters.AddWithValue("v", tableVersion.Version);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<MembershipTableData> ReadTableAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var members = new List<Tuple<MembershipEntry, string>>();
        var version = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            version = reader.GetInt32(0);
            if (!reader.IsDBNull(1))
            {
                members.Add(PostgresMembershipRows.Read(reader, 1));
            }
        }

        // No version row yet (the table was never initialised): an empty table at version 0, as the first insert expects.
        return new MembershipTableData(members, new TableVersion(version, VersionEtag(version)));
    }

    private NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("c", _clusterId);
        return command;
    }

    private static void AddKey(NpgsqlCommand command, SiloAddress silo)
    {
        command.Parameters.AddWithValue("address", silo.Endpoint.Address.ToString());
        command.Parameters.AddWithValue("port", silo.Endpoint.Port);
        command.Parameters.AddWithValue("generation", silo.Generation);
    }

    private static void AddEntry(NpgsqlCommand command, MembershipEntry entry)
    {
        AddKey(command, entry.SiloAddress);
        command.Parameters.AddWithValue("silo_name", entry.SiloName ?? "");
        command.Parameters.AddWithValue("host_name", entry.HostName ?? "");
        command.Parameters.AddWithValue("role_name", entry.RoleName ?? "");
        command.Parameters.AddWithValue("status", (int)entry.Status);
        command.Parameters.AddWithValue("proxy_port", entry.ProxyPort);
        command.Parameters.AddWithValue("update_zone", entry.UpdateZone);
        command.Parameters.AddWithValue("fault_zone", entry.FaultZone);
        command.Parameters.AddWithValue("suspect_times", PostgresMembershipRows.WriteSuspectTimes(entry.SuspectTimes));
        command.Parameters.AddWithValue("start_time", Utc(entry.StartTime));
        command.Parameters.AddWithValue("i_am_alive_time", Utc(entry.IAmAliveTime));
        command.Parameters.AddWithValue("new_etag", Guid.NewGuid().ToString("N"));
    }

    private static void Validate(MembershipEntry entry, TableVersion tableVersion)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(entry.SiloAddress, "entry.SiloAddress");
        ArgumentNullException.ThrowIfNull(tableVersion);
    }

    private static string VersionEtag(int version) => version.ToString(CultureInfo.InvariantCulture);

    internal static DateTime Utc(DateTime time) => time.Kind switch
    {
        DateTimeKind.Utc => time,
        DateTimeKind.Local => time.ToUniversalTime(),
        _ => DateTime.SpecifyKind(time, DateTimeKind.Utc),
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "PostgreSQL membership table of cluster {ClusterId} initialised")]
    private static partial void LogInitialized(ILogger logger, string clusterId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} defunct silo entries of cluster {ClusterId}")]
    private static partial void LogCleanedUp(ILogger logger, int count, string clusterId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Membership {Operation} of {Silo} refused: {Reason}")]
    private static partial void LogConflict(ILogger logger, string operation, SiloAddress silo, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Membership write with version {Version} (etag {Etag}) refused: the table is at version {Stored}")]
    private static partial void LogVersionConflict(ILogger logger, int version, string etag, int stored);
}

/// <summary>Conversions between <c>parley_cluster_members</c> rows and Orleans' <see cref="MembershipEntry"/>.</summary>
internal static class PostgresMembershipRows
{
    /// <summary>Reads the member columns starting at <paramref name="first"/> (the order of the table's SELECT).</summary>
    public static Tuple<MembershipEntry, string> Read(NpgsqlDataReader reader, int first)
    {
        var addressText = reader.GetString(first);
        if (!IPAddress.TryParse(addressText, out var address))
        {
            throw new InvalidDataException($"parley_cluster_members.address '{addressText}' is not an IP address");
        }

        var entry = new MembershipEntry
        {
            SiloAddress = SiloAddress.New(address, reader.GetInt32(first + 1), reader.GetInt32(first + 2)),
            SiloName = reader.GetString(first + 3),
            HostName = reader.GetString(first + 4),
            RoleName = reader.GetString(first + 5),
            Status = (SiloStatus)reader.GetInt32(first + 6),
            ProxyPort = reader.GetInt32(first + 7),
            UpdateZone = reader.GetInt32(first + 8),
            FaultZone = reader.GetInt32(first + 9),
            SuspectTimes = ReadSuspectTimes(reader.GetString(first + 10)),
            StartTime = reader.GetDateTime(first + 11),
            IAmAliveTime = reader.GetDateTime(first + 12),
        };
        return Tuple.Create(entry, reader.GetString(first + 13));
    }

    /// <summary><c>silo,time|silo,time</c>: each suspecting silo in Orleans' parsable form and when it voted (UTC, round-trip format).</summary>
    public static string WriteSuspectTimes(List<Tuple<SiloAddress, DateTime>>? suspectTimes)
    {
        if (suspectTimes is null || suspectTimes.Count == 0)
        {
            return "";
        }

        var text = new StringBuilder();
        foreach (var (silo, time) in suspectTimes)
        {
            if (text.Length > 0)
            {
                text.Append('|');
            }

            text.Append(silo.ToParsableString()).Append(',').Append(PostgresMembershipTable.Utc(time).ToString("O", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    public static List<Tuple<SiloAddress, DateTime>> ReadSuspectTimes(string text)
    {
        var result = new List<Tuple<SiloAddress, DateTime>>();
        if (text.Length == 0)
        {
            return result;
        }

        foreach (var item in text.Split('|'))
        {
            var comma = item.LastIndexOf(',');
            if (comma <= 0
                || !DateTime.TryParse(item.AsSpan(comma + 1), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var time))
            {
                throw new InvalidDataException($"parley_cluster_members.suspect_times item '{item}' is not 'silo,time'");
            }

            SiloAddress silo;
            try
            {
                silo = SiloAddress.FromParsableString(item[..comma]);
            }
            catch (FormatException ex)
            {
                throw new InvalidDataException($"parley_cluster_members.suspect_times silo '{item[..comma]}' is not a silo address", ex);
            }

            result.Add(Tuple.Create(silo, time));
        }

        return result;
    }
}
