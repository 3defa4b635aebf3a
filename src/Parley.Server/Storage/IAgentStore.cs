using System.Text.Json.Nodes;

namespace Parley.Server.Storage;

/// <summary>A registered agent as stored: its configuration objects kept verbatim as the caller sent them.</summary>
public sealed record AgentRecord(
    uint AppId,
    string AgentId,
    string Name,
    JsonObject Llm,
    JsonObject Tts,
    JsonObject Asr,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

public enum AgentAddResult
{
    Added,
    AlreadyExists,
    LimitReached,
}

public sealed record AgentPage(int Total, IReadOnlyList<AgentRecord> Agents, string Cursor);

/// <summary>Agent persistence, scoped by app. SQLite by default; a PostgreSQL implementation fills the same seam.</summary>
public interface IAgentStore
{
    /// <summary>
    /// Adds the agent unless the app already has one with that id or already has <paramref name="maxAgentsPerApp"/>
    /// agents; the count and the insert are one atomic step, so concurrent registrations cannot pass the limit.
    /// </summary>
    Task<AgentAddResult> TryAddAsync(AgentRecord agent, int maxAgentsPerApp, CancellationToken cancellationToken);

    Task<AgentRecord?> GetAsync(uint appId, string agentId, CancellationToken cancellationToken);

    /// <summary>Replaces the stored agent; false when it does not exist.</summary>
    Task<bool> UpdateAsync(AgentRecord agent, CancellationToken cancellationToken);

    /// <summary>False when the agent does not exist.</summary>
    Task<bool> DeleteAsync(uint appId, string agentId, CancellationToken cancellationToken);

    /// <summary>One page in a stable order; <paramref name="cursor"/> is empty for the first page.</summary>
    Task<AgentPage> ListAsync(uint appId, int limit, string cursor, CancellationToken cancellationToken);

    /// <summary>The agents among <paramref name="agentIds"/> that exist, in the order asked.</summary>
    Task<IReadOnlyList<AgentRecord>> GetManyAsync(uint appId, IReadOnlyList<string> agentIds, CancellationToken cancellationToken);
}
