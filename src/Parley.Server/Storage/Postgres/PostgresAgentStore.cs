using System.Text.Json.Nodes;
using Npgsql;
using Parley.Server.Api;

namespace Parley.Server.Storage.Postgres;

/// <summary>Agents in the shared PostgreSQL database (<c>parley_agents</c>), the same contract as <see cref="SqliteAgentStore"/>.</summary>
public sealed partial class PostgresAgentStore(PostgresDatabase database, ILogger<PostgresAgentStore>? logger = null) : IAgentStore
{
    /// <summary>Advisory lock namespace of the per-app agent count (high bits), so the count and the insert are one step.</summary>
    private const long AgentLockBase = 1L << 40;

    private const string Columns = "app_id, agent_id, name, llm, tts, asr, created_at, updated_at";

    public async Task<AgentAddResult> TryAddAsync(AgentRecord agent, int maxAgentsPerApp, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(agent);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            lockCommand.Parameters.AddWithValue("key", AgentLockBase | agent.AppId);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var command = new NpgsqlCommand("""
            INSERT INTO parley_agents (app_id, agent_id, name, llm, tts, asr, created_at, updated_at)
            SELECT @app, @id, @name, @llm, @tts, @asr, @created, @updated
            WHERE (SELECT COUNT(*) FROM parley_agents WHERE app_id = @app) < @max
            ON CONFLICT (app_id, agent_id) DO NOTHING
            """, connection, transaction);
        Bind(command, agent);
        command.Parameters.AddWithValue("max", (long)maxAgentsPerApp);
        var inserted = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
        AgentAddResult result;
        if (inserted)
        {
            result = AgentAddResult.Added;
        }
        else
        {
            await using var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM parley_agents WHERE app_id = @app AND agent_id = @id)", connection, transaction);
            exists.Parameters.AddWithValue("app", (long)agent.AppId);
            exists.Parameters.AddWithValue("id", agent.AgentId);
            result = (bool)(await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! ? AgentAddResult.AlreadyExists : AgentAddResult.LimitReached;
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    public async Task<AgentRecord?> GetAsync(uint appId, string agentId, CancellationToken cancellationToken)
    {
        var agents = await GetManyAsync(appId, [agentId], cancellationToken).ConfigureAwait(false);
        return agents.Count == 0 ? null : agents[0];
    }

    public async Task<bool> UpdateAsync(AgentRecord agent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(agent);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("""
            UPDATE parley_agents SET name = @name, llm = @llm, tts = @tts, asr = @asr, updated_at = @updated
            WHERE app_id = @app AND agent_id = @id
            """, connection);
        Bind(command, agent);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task<bool> DeleteAsync(uint appId, string agentId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("DELETE FROM parley_agents WHERE app_id = @app AND agent_id = @id", connection);
        command.Parameters.AddWithValue("app", (long)appId);
        command.Parameters.AddWithValue("id", agentId);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public async Task<AgentPage> ListAsync(uint appId, int limit, string cursor, CancellationToken cancellationToken)
    {
        var after = cursor.Length == 0 ? "" : AgentActions.DecodeCursor(cursor)
            ?? throw ApiException.InvalidParameter("Cursor is not a cursor returned by ListAgents");
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var count = new NpgsqlCommand("SELECT COUNT(*) FROM parley_agents WHERE app_id = @app", connection);
        count.Parameters.AddWithValue("app", (long)appId);
        var total = Convert.ToInt32(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);

        // COLLATE "C": byte order, as SQLite's default, so cursors mean the same on both stores.
        await using var command = new NpgsqlCommand($"""
            SELECT {Columns} FROM parley_agents
            WHERE app_id = @app AND agent_id COLLATE "C" > @after ORDER BY agent_id COLLATE "C" LIMIT @limit
            """, connection);
        command.Parameters.AddWithValue("app", (long)appId);
        command.Parameters.AddWithValue("after", after);
        command.Parameters.AddWithValue("limit", (long)limit + 1);
        var agents = await ReadAsync(command, cancellationToken).ConfigureAwait(false);
        var more = agents.Count > limit;
        if (more)
        {
            agents.RemoveAt(agents.Count - 1);
        }

        return new AgentPage(total, agents, more ? AgentActions.EncodeCursor(agents[^1].AgentId) : "");
    }

    public async Task<IReadOnlyList<AgentRecord>> GetManyAsync(uint appId, IReadOnlyList<string> agentIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(agentIds);
        if (agentIds.Count == 0)
        {
            return [];
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM parley_agents WHERE app_id = @app AND agent_id = ANY(@ids)", connection);
        command.Parameters.AddWithValue("app", (long)appId);
        command.Parameters.AddWithValue("ids", agentIds.ToArray());
        var found = (await ReadAsync(command, cancellationToken).ConfigureAwait(false)).ToDictionary(a => a.AgentId, StringComparer.Ordinal);
        return [.. agentIds.Where(found.ContainsKey).Select(id => found[id])];
    }

    private static void Bind(NpgsqlCommand command, AgentRecord agent)
    {
        command.Parameters.AddWithValue("app", (long)agent.AppId);
        command.Parameters.AddWithValue("id", agent.AgentId);
        command.Parameters.AddWithValue("name", agent.Name);
        command.Parameters.AddWithValue("llm", agent.Llm.ToJsonString());
        command.Parameters.AddWithValue("tts", agent.Tts.ToJsonString());
        command.Parameters.AddWithValue("asr", agent.Asr.ToJsonString());
        command.Parameters.AddWithValue("created", agent.CreatedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("updated", agent.UpdatedAt.ToUnixTimeMilliseconds());
    }

    private async Task<List<AgentRecord>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var result = new List<AgentRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var appId = (uint)reader.GetInt64(0);
            var agentId = reader.GetString(1);
            result.Add(new AgentRecord(
                appId,
                agentId,
                reader.GetString(2),
                ParseObject(reader.GetString(3), appId, agentId, "LLM"),
                ParseObject(reader.GetString(4), appId, agentId, "TTS"),
                ParseObject(reader.GetString(5), appId, agentId, "ASR"),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7))));
        }

        return result;
    }

    private JsonObject ParseObject(string json, uint appId, string agentId, string part)
    {
        var parsed = StoredJson.ParseObject(json, out var normalized);
        if (normalized && logger is not null)
        {
            LogNormalized(logger, appId, agentId, part);
        }

        return parsed;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Agent {AgentId} of app {AppId} was stored with a repeated field in {Part}; the last value is used (UpdateAgent stores it cleanly)")]
    private static partial void LogNormalized(ILogger logger, uint appId, string agentId, string part);
}
