using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Parley.Server.Api;

namespace Parley.Server.Storage;

/// <summary>Agents in the shared SQLite file, one row per (app, agent), configuration objects as JSON text.</summary>
public sealed partial class SqliteAgentStore(SqliteDatabase database, ILogger<SqliteAgentStore>? logger = null) : IAgentStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS agents (
            app_id     INTEGER NOT NULL,
            agent_id   TEXT    NOT NULL,
            name       TEXT    NOT NULL,
            llm        TEXT    NOT NULL,
            tts        TEXT    NOT NULL,
            asr        TEXT    NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (app_id, agent_id)
        ) WITHOUT ROWID;
        """;

    private readonly Lazy<Task> _schema = new(() => database.EnsureSchemaAsync(Schema, CancellationToken.None));

    public async Task<AgentAddResult> TryAddAsync(AgentRecord agent, int maxAgentsPerApp, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();

        // One statement: SQLite runs it under its write lock, so the count cannot change between the check and the insert.
        command.CommandText = """
            INSERT INTO agents (app_id, agent_id, name, llm, tts, asr, created_at, updated_at)
            SELECT $app, $id, $name, $llm, $tts, $asr, $created, $updated
            WHERE (SELECT COUNT(*) FROM agents WHERE app_id = $app) < $max
            ON CONFLICT (app_id, agent_id) DO NOTHING;
            """;
        Bind(command, agent);
        command.Parameters.AddWithValue("$max", maxAgentsPerApp);
        if (await command.ExecuteNonQueryAsync(cancellationToken) == 1)
        {
            return AgentAddResult.Added;
        }

        await using var exists = connection.CreateCommand();
        exists.CommandText = "SELECT EXISTS (SELECT 1 FROM agents WHERE app_id = $app AND agent_id = $id);";
        exists.Parameters.AddWithValue("$app", (long)agent.AppId);
        exists.Parameters.AddWithValue("$id", agent.AgentId);
        return Convert.ToInt64(await exists.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) == 1
            ? AgentAddResult.AlreadyExists
            : AgentAddResult.LimitReached;
    }

    public async Task<AgentRecord?> GetAsync(uint appId, string agentId, CancellationToken cancellationToken)
    {
        var agents = await GetManyAsync(appId, [agentId], cancellationToken);
        return agents.Count == 0 ? null : agents[0];
    }

    public async Task<bool> UpdateAsync(AgentRecord agent, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE agents SET name = $name, llm = $llm, tts = $tts, asr = $asr, updated_at = $updated
            WHERE app_id = $app AND agent_id = $id;
            """;
        Bind(command, agent);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> DeleteAsync(uint appId, string agentId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM agents WHERE app_id = $app AND agent_id = $id;";
        command.Parameters.AddWithValue("$app", (long)appId);
        command.Parameters.AddWithValue("$id", agentId);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<AgentPage> ListAsync(uint appId, int limit, string cursor, CancellationToken cancellationToken)
    {
        var after = cursor.Length == 0 ? "" : AgentActions.DecodeCursor(cursor)
            ?? throw ApiException.InvalidParameter("Cursor is not a cursor returned by ListAgents");
        await using var connection = await OpenAsync(cancellationToken);

        await using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM agents WHERE app_id = $app;";
        count.Parameters.AddWithValue("$app", (long)appId);
        var total = Convert.ToInt32(await count.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);

        await using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT app_id, agent_id, name, llm, tts, asr, created_at, updated_at FROM agents
            WHERE app_id = $app AND agent_id > $after ORDER BY agent_id LIMIT $limit;
            """;
        command.Parameters.AddWithValue("$app", (long)appId);
        command.Parameters.AddWithValue("$after", after);
        command.Parameters.AddWithValue("$limit", limit + 1);
        var agents = await ReadAsync(command, cancellationToken);
        var more = agents.Count > limit;
        if (more)
        {
            agents.RemoveAt(agents.Count - 1);
        }

        return new AgentPage(total, agents, more ? AgentActions.EncodeCursor(agents[^1].AgentId) : "");
    }

    public async Task<IReadOnlyList<AgentRecord>> GetManyAsync(uint appId, IReadOnlyList<string> agentIds, CancellationToken cancellationToken)
    {
        if (agentIds.Count == 0)
        {
            return [];
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        var names = agentIds.Select((_, i) => $"$id{i}").ToList();
        command.CommandText = $"SELECT app_id, agent_id, name, llm, tts, asr, created_at, updated_at FROM agents WHERE app_id = $app AND agent_id IN ({string.Join(", ", names)});";
        command.Parameters.AddWithValue("$app", (long)appId);
        for (var i = 0; i < agentIds.Count; i++)
        {
            command.Parameters.AddWithValue(names[i], agentIds[i]);
        }

        var found = (await ReadAsync(command, cancellationToken)).ToDictionary(a => a.AgentId, StringComparer.Ordinal);
        return [.. agentIds.Where(found.ContainsKey).Select(id => found[id])];
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        await _schema.Value.WaitAsync(cancellationToken);
        return await database.OpenAsync(cancellationToken);
    }

    private static void Bind(SqliteCommand command, AgentRecord agent)
    {
        command.Parameters.AddWithValue("$app", (long)agent.AppId);
        command.Parameters.AddWithValue("$id", agent.AgentId);
        command.Parameters.AddWithValue("$name", agent.Name);
        command.Parameters.AddWithValue("$llm", agent.Llm.ToJsonString());
        command.Parameters.AddWithValue("$tts", agent.Tts.ToJsonString());
        command.Parameters.AddWithValue("$asr", agent.Asr.ToJsonString());
        command.Parameters.AddWithValue("$created", agent.CreatedAt.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$updated", agent.UpdatedAt.ToUnixTimeMilliseconds());
    }

    private async Task<List<AgentRecord>> ReadAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var result = new List<AgentRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
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
