using Parley.Server.Callbacks;

namespace Parley.Server.Instances;

/// <summary>An agent instance as the journal records it while it is live. Times are Unix milliseconds.</summary>
public sealed record LiveInstanceRecord(uint AppId, string AgentInstanceId, string AgentUserId, string RoomId, long CreatedAt);

/// <summary>
/// Durable record of the agent instances that are live, so that every instance gets its <c>AgentInstanceDeleted</c>
/// even when the process ends without deleting it (SIGTERM: the grain reports it while the host stops; kill -9 or a
/// power cut: the next start reports it). The SQLite store keeps the rows next to the callback outbox; a PostgreSQL
/// store follows the same contract.
/// </summary>
public interface IInstanceJournal
{
    /// <summary>Records <paramref name="instance"/> as live. Returns once the record is durable.</summary>
    Task RecordLiveAsync(LiveInstanceRecord instance, CancellationToken cancellationToken);

    /// <summary>
    /// Queues <paramref name="deleted"/> (the instance's <c>AgentInstanceDeleted</c>) and forgets the instance, in one
    /// transaction where the store holds the outbox too, so the event is neither lost nor queued twice.
    /// </summary>
    Task RecordDeletedAsync(CallbackEvent deleted, CancellationToken cancellationToken);

    /// <summary>
    /// Every instance recorded live by an earlier process (which ended without deleting it) gets the event
    /// <paramref name="deletedEvent"/> makes for it and is forgotten, in the same transaction. Instances of this
    /// process are left alone. Returns how many were recovered.
    /// </summary>
    Task<int> RecoverAsync(Func<LiveInstanceRecord, CallbackEvent> deletedEvent, CancellationToken cancellationToken);
}
