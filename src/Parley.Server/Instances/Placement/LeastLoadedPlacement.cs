using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace Parley.Server.Instances.Placement;

/// <summary>
/// Orleans placement of agent instances on the least-loaded node (by live sessions and CPU, see
/// <see cref="LeastLoadedChoice"/>), from the loads every node publishes (<see cref="INodeLoadSource"/>).
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class LeastLoadedPlacement : PlacementStrategy
{
    internal static readonly LeastLoadedPlacement Singleton = new();
}

/// <summary>Places the grain class with <see cref="LeastLoadedPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class LeastLoadedPlacementAttribute : PlacementAttribute
{
    public LeastLoadedPlacementAttribute()
        : base(LeastLoadedPlacement.Singleton)
    {
    }
}

/// <summary>The loads the nodes of the cluster publish (absent on one node with SQLite: there is only one silo).</summary>
public interface INodeLoadSource
{
    /// <summary>The latest report of every live node.</summary>
    Task<IReadOnlyList<NodeLoad>> ReadAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Chooses the node of a new agent instance. Only a <c>CreateAgentInstance</c> placement (marked in the request
/// context by <see cref="MarkCreate"/>) is weighed; any other activation of an instance grain (a call for an id that
/// is not live: it answers "not found" and goes away) stays on the calling node. Reports are read at most every
/// <see cref="SnapshotAge"/>; placements this node made in the last <see cref="PendingWindow"/> are added to them, so
/// a burst of creations spreads before the chosen nodes' own rows show the new sessions.
/// </summary>
internal sealed partial class LeastLoadedPlacementDirector(
    IServiceProvider services,
    LeastLoadedChoice choice,
    TimeProvider time,
    ILogger<LeastLoadedPlacementDirector> logger) : IPlacementDirector
{
    internal const string CreateKey = "parley.place";
    internal static readonly TimeSpan SnapshotAge = TimeSpan.FromMilliseconds(250);
    internal static readonly TimeSpan PendingWindow = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _read = new(1, 1);
    private readonly Lock _gate = new();
    private readonly List<(string Silo, long At)> _pending = [];
    private Dictionary<string, NodeLoad> _snapshot = [];
    private long _snapshotAt = long.MinValue;

    /// <summary>Marks the grain calls that follow on this async flow as a creation (weighed placement).</summary>
    public static IDisposable MarkCreate()
    {
        RequestContext.Set(CreateKey, true);
        return new Unmark();
    }

    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        if (silos.Length == 1)
        {
            return silos[0];
        }

        var isCreate = target.RequestContextData is { } data && data.TryGetValue(CreateKey, out var flag) && flag is true;
        if (!isCreate && silos.Contains(context.LocalSilo))
        {
            return context.LocalSilo;
        }

        var names = silos.Select(s => s.ToParsableString()).ToArray();
        var reports = await SnapshotAsync().ConfigureAwait(false);
        lock (_gate)
        {
            var now = time.GetTimestamp();
            _pending.RemoveAll(p => time.GetElapsedTime(p.At, now) > PendingWindow);
            var pending = _pending.GroupBy(p => p.Silo).ToDictionary(g => g.Key, g => (long)g.Count());
            var index = choice.Choose(names, reports, pending, Random.Shared);
            _pending.Add((names[index], now));
            LogPlaced(logger, target.GrainIdentity.ToString(), names[index]);
            return silos[index];
        }
    }

    private async Task<IReadOnlyDictionary<string, NodeLoad>> SnapshotAsync()
    {
        var source = services.GetService<INodeLoadSource>();
        if (source is null)
        {
            return _snapshot;
        }

        await _read.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_snapshotAt != long.MinValue && time.GetElapsedTime(_snapshotAt) < SnapshotAge)
            {
                return _snapshot;
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            var loads = await source.ReadAsync(timeout.Token).ConfigureAwait(false);
            _snapshot = loads.GroupBy(l => l.Silo).ToDictionary(g => g.Key, g => g.First());
            _snapshotAt = time.GetTimestamp();
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            // The store did not answer: place by the last reports (and this node's own recent placements).
            LogReportsUnavailable(logger, ex);
        }
        finally
        {
            _read.Release();
        }

        return _snapshot;
    }

    private sealed class Unmark : IDisposable
    {
        public void Dispose() => RequestContext.Remove(CreateKey);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Agent instance {Grain} placed on the least-loaded node {Silo}")]
    private static partial void LogPlaced(ILogger logger, string grain, string silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Node load reports could not be read; placing by the last ones")]
    private static partial void LogReportsUnavailable(ILogger logger, Exception exception);
}
