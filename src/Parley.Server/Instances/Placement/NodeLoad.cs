namespace Parley.Server.Instances.Placement;

/// <summary>
/// What one node reports about its load: the agent instances it hosts (live sessions), its process CPU in cores
/// (1.0 = one core busy), and whether it is draining. <paramref name="Silo"/> is its Orleans silo address
/// (<c>SiloAddress.ToParsableString()</c>).
/// </summary>
public sealed record NodeLoad(string Silo, long Sessions, double CpuCores, bool Draining);

/// <summary>
/// The least-loaded choice of a node for a new agent instance. A node's load is its live sessions plus its CPU in
/// units of one session's (<see cref="CpuCoresPerSession"/>), so a node whose calls run heavy local engines counts
/// as busier than its session count alone. Draining nodes are never chosen while another node can take it; a
/// candidate with no report (it just joined, or its row is stale) counts as idle. Ties go to a random one of the
/// least loaded, so equal nodes share a burst.
/// </summary>
public sealed class LeastLoadedChoice(double cpuCoresPerSession)
{
    /// <summary>The CPU (cores) one talking session costs, the exchange rate between CPU and sessions in the load.</summary>
    public double CpuCoresPerSession { get; } = cpuCoresPerSession > 0
        ? cpuCoresPerSession
        : throw new ArgumentOutOfRangeException(nameof(cpuCoresPerSession), "Parley:Cluster:PlacementCpuCoresPerSession must be positive");

    /// <summary>A node's load in sessions: its live sessions + its CPU over one session's, plus the placements made here since its report.</summary>
    public double LoadOf(NodeLoad load, long pending) => load.Sessions + pending + (Math.Max(0, load.CpuCores) / CpuCoresPerSession);

    /// <summary>
    /// The index in <paramref name="candidates"/> of the node to place on. <paramref name="reports"/> maps a silo to
    /// its report; <paramref name="pending"/> counts placements this node made since the reports were read.
    /// </summary>
    public int Choose(IReadOnlyList<string> candidates, IReadOnlyDictionary<string, NodeLoad> reports, IReadOnlyDictionary<string, long> pending, Random random)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(reports);
        ArgumentNullException.ThrowIfNull(pending);
        ArgumentNullException.ThrowIfNull(random);
        if (candidates.Count == 0)
        {
            throw new ArgumentException("no candidate node", nameof(candidates));
        }

        var anyAccepting = candidates.Any(c => !reports.TryGetValue(c, out var r) || !r.Draining);
        Span<int> best = candidates.Count <= 64 ? stackalloc int[candidates.Count] : new int[candidates.Count];
        var bestCount = 0;
        var bestLoad = double.MaxValue;
        for (var i = 0; i < candidates.Count; i++)
        {
            var report = reports.GetValueOrDefault(candidates[i]) ?? new NodeLoad(candidates[i], 0, 0, false);
            if (anyAccepting && report.Draining)
            {
                continue;
            }

            var load = LoadOf(report, pending.GetValueOrDefault(candidates[i]));
            if (load < bestLoad - 1e-9)
            {
                bestLoad = load;
                bestCount = 0;
            }

            if (Math.Abs(load - bestLoad) <= 1e-9)
            {
                best[bestCount++] = i;
            }
        }

        return best[random.Next(bestCount)];
    }
}
