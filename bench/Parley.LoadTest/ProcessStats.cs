using System.Globalization;

namespace Parley.LoadTest;

/// <summary>One reading of a process's CPU time and resident memory from /proc (Linux).</summary>
public readonly record struct ProcessSample(long Timestamp, TimeSpan CpuTime, long RssBytes)
{
    private const double ClockTicksPerSecond = 100; // USER_HZ: 100 on every Linux the server targets.

    /// <summary>Reads /proc/PID/stat (utime + stime) and /proc/PID/status (VmRSS); null when not readable.</summary>
    public static ProcessSample? Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name "(...)": state is field 3, utime 14, stime 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            long rss = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                    break;
                }
            }

            return new ProcessSample(System.Diagnostics.Stopwatch.GetTimestamp(), TimeSpan.FromSeconds(ticks / ClockTicksPerSecond), rss);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Share of one core used between <paramref name="earlier"/> and this sample (1.0 = one core busy).</summary>
    public double CoresSince(ProcessSample earlier)
    {
        var wall = System.Diagnostics.Stopwatch.GetElapsedTime(earlier.Timestamp, Timestamp);
        return wall > TimeSpan.Zero ? (CpuTime - earlier.CpuTime) / wall : 0;
    }
}
