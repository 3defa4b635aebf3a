namespace Parley.Server.Callbacks;

/// <summary>Where an outbox row stands.</summary>
public enum CallbackDeliveryState
{
    /// <summary>Waiting for its first attempt or a retry.</summary>
    Pending = 0,

    /// <summary>The receiver answered 2xx.</summary>
    Delivered = 1,

    /// <summary>Every attempt within <see cref="CallbackOptions.RetryFor"/> failed; kept with the last error until redelivered.</summary>
    Dead = 2,

    /// <summary>The app has no (usable) CallbackUrl; kept with the reason.</summary>
    Skipped = 3,
}

/// <summary>One stored callback event and its delivery state. Times are Unix milliseconds.</summary>
/// <param name="NextAttemptAt">When the next attempt is due; while a dispatcher holds the row, the end of its claim.</param>
/// <param name="RetryFrom">Start of the retry period (the event's creation, or its last redelivery).</param>
public sealed record CallbackOutboxEntry(
    long Id,
    long Sequence,
    uint AppId,
    string Event,
    string AgentInstanceId,
    string AgentUserId,
    string RoomId,
    string DataJson,
    CallbackDeliveryState State,
    int Attempts,
    long CreatedAt,
    long NextAttemptAt,
    long? LastAttemptAt,
    long? CompletedAt,
    string? LastError,
    long RetryFrom,
    string AgentId = "",
    string Name = "",
    string HostTag = "");

/// <summary>Which rows <see cref="ICallbackOutbox.ListAsync"/> returns: in Sequence order, after <paramref name="AfterSequence"/>.</summary>
public sealed record CallbackQuery(uint? AppId = null, CallbackDeliveryState? State = null, long AfterSequence = 0, int Limit = 100);

/// <summary>
/// The durable queue of callback events the <see cref="CallbackDispatcher"/> delivers from. A dispatcher claims due rows
/// for one attempt each (a claim is a lease: until it ends no other dispatcher, in this process or another over the
/// same store, gets the row), then records the attempt's outcome against that claim. SQLite today; a PostgreSQL store
/// (<c>FOR UPDATE SKIP LOCKED</c>) implements the same contract.
/// </summary>
public interface ICallbackOutbox : ICallbackPublisher
{
    /// <summary>Raised after rows became due without waiting (new events, redelivered ones), to wake the dispatcher.</summary>
    event Action? Published;

    /// <summary>Creates the store's tables when needed. Every other member may assume it ran.</summary>
    Task EnsureInitializedAsync(CancellationToken cancellationToken);

    /// <summary>Apps that have pending rows due at <paramref name="nowMs"/>.</summary>
    Task<IReadOnlyList<uint>> GetAppsWithDueRowsAsync(long nowMs, CancellationToken cancellationToken);

    /// <summary>
    /// Claims up to <paramref name="limit"/> pending rows of one app due at <paramref name="nowMs"/> (oldest due first,
    /// then by Sequence) until <paramref name="claimUntilMs"/>. The entries returned carry the claim
    /// (<see cref="CallbackOutboxEntry.NextAttemptAt"/> = <paramref name="claimUntilMs"/>): pass them to the outcome methods.
    /// </summary>
    Task<IReadOnlyList<CallbackOutboxEntry>> ClaimDueAsync(uint appId, long nowMs, int limit, long claimUntilMs, CancellationToken cancellationToken);

    /// <summary>The earliest time after <paramref name="nowMs"/> a pending row becomes due (or a claim ends), or null.</summary>
    Task<long?> GetNextDueAfterAsync(long nowMs, CancellationToken cancellationToken);

    // Outcomes of one claimed attempt. Each returns false when the claim is no longer held (it ended and another
    // dispatcher took the row), in which case nothing is changed.

    /// <summary>The attempt got a 2xx.</summary>
    Task<bool> MarkDeliveredAsync(CallbackOutboxEntry claimed, long nowMs, CancellationToken cancellationToken);

    /// <summary>The attempt failed; the next one is due at <paramref name="nextAttemptAtMs"/>.</summary>
    Task<bool> ScheduleRetryAsync(CallbackOutboxEntry claimed, long nowMs, long nextAttemptAtMs, string error, CancellationToken cancellationToken);

    /// <summary>The attempt failed and the retry period is over.</summary>
    Task<bool> MarkDeadAsync(CallbackOutboxEntry claimed, long nowMs, string error, CancellationToken cancellationToken);

    /// <summary>No attempt was made: the app cannot receive callbacks (<paramref name="reason"/>).</summary>
    Task<bool> MarkSkippedAsync(CallbackOutboxEntry claimed, long nowMs, string reason, CancellationToken cancellationToken);

    /// <summary>No attempt was completed (the dispatcher is stopping): the row is due again at once.</summary>
    Task<bool> ReleaseAsync(CallbackOutboxEntry claimed, long nowMs, CancellationToken cancellationToken);

    /// <summary>Removes delivered and skipped rows completed before <paramref name="beforeMs"/>. Dead rows stay.</summary>
    Task<int> PurgeCompletedAsync(long beforeMs, CancellationToken cancellationToken);

    /// <summary>The row with this Sequence, or null.</summary>
    Task<CallbackOutboxEntry?> GetAsync(long sequence, CancellationToken cancellationToken);

    Task<IReadOnlyList<CallbackOutboxEntry>> ListAsync(CallbackQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// Dead rows of <paramref name="appId"/> (all of them, or those whose Sequence is in <paramref name="sequences"/>)
    /// become pending again, due at <paramref name="nowMs"/>, with a fresh retry schedule counted from then.
    /// Returns how many.
    /// </summary>
    Task<int> RedeliverAsync(uint appId, IReadOnlyCollection<long>? sequences, long nowMs, CancellationToken cancellationToken);
}
