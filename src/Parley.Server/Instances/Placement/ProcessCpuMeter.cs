using System.Diagnostics;

namespace Parley.Server.Instances.Placement;

/// <summary>This process's CPU use in cores (1.0 = one core busy) between two samples: the CPU half of a node's load report.</summary>
public sealed class ProcessCpuMeter(TimeProvider time)
{
    private readonly Lock _gate = new();
    private TimeSpan _lastCpu = ProcessCpu();
    private long _lastAt = time.GetTimestamp();

    /// <summary>Shorter intervals than this measure nothing useful (the first report, at start): they report 0.</summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>The average CPU in cores since the previous sample (or since construction); 0 over less than <see cref="MinimumInterval"/>.</summary>
    public double Sample()
    {
        var cpu = ProcessCpu();
        lock (_gate)
        {
            var now = time.GetTimestamp();
            var wall = time.GetElapsedTime(_lastAt, now);
            var used = cpu - _lastCpu;
            (_lastCpu, _lastAt) = (cpu, now);
            return wall < MinimumInterval ? 0 : Cores(used, wall);
        }
    }

    private static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    /// <summary>CPU time over wall time, 0 when no wall time passed.</summary>
    public static double Cores(TimeSpan cpu, TimeSpan wall) => wall <= TimeSpan.Zero ? 0 : Math.Max(0, cpu.TotalSeconds / wall.TotalSeconds);
}
