using System.Diagnostics;

namespace Parley.Server.Instances.Placement;

/// <summary>This process's CPU use in cores (1.0 = one core busy) between two samples: the CPU half of a node's load report.</summary>
public sealed class ProcessCpuMeter(TimeProvider time)
{
    private readonly Lock _gate = new();
    private TimeSpan _lastCpu = Process.GetCurrentProcess().TotalProcessorTime;
    private long _lastAt = time.GetTimestamp();

    /// <summary>The average CPU in cores since the previous sample (or since construction).</summary>
    public double Sample()
    {
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        lock (_gate)
        {
            var now = time.GetTimestamp();
            var wall = time.GetElapsedTime(_lastAt, now);
            var used = cpu - _lastCpu;
            (_lastCpu, _lastAt) = (cpu, now);
            return Cores(used, wall);
        }
    }

    /// <summary>CPU time over wall time, 0 when no wall time passed.</summary>
    public static double Cores(TimeSpan cpu, TimeSpan wall) => wall <= TimeSpan.Zero ? 0 : Math.Max(0, cpu.TotalSeconds / wall.TotalSeconds);
}
