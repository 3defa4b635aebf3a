using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Parley.Server.Instances;

/// <summary>
/// Picks a TCP port that is free now and that a listener will bind a moment later. A port the kernel hands out for
/// <c>bind(0)</c> comes from its ephemeral range, the same range every outgoing connection takes its local port from:
/// between closing the probe and the real bind (seconds, for an Orleans silo that builds its host first) any
/// connection of any process can take it, and the listener fails with "address in use". So the port is drawn at
/// random from outside that range (Linux: <c>/proc/sys/net/ipv4/ip_local_port_range</c>; elsewhere IANA's
/// 49152–65535), above the well-known service ports, and probed before it is returned.
/// </summary>
public static class FreePorts
{
    private const int Lowest = 10000;
    private const int Highest = 65535;

    /// <summary>A port free on every address (so on <paramref name="address"/> too), outside the ephemeral range.</summary>
    public static int Pick(IPAddress? address = null)
    {
        var (ephemeralLow, ephemeralHigh) = EphemeralRange();
        var below = Math.Max(0, ephemeralLow - Lowest);
        var above = Math.Max(0, Highest - ephemeralHigh);
        for (var attempt = 0; attempt < 64 && below + above > 0; attempt++)
        {
            var n = Random.Shared.Next(below + above);
            var port = n < below ? Lowest + n : ephemeralHigh + 1 + (n - below);
            if (IsFree(IPAddress.Any, port) && (address is null || address.Equals(IPAddress.Any) || IsFree(address, port)))
            {
                return port;
            }
        }

        // Every draw was taken (or no port lies outside the range): the kernel's choice, with its race.
        using var listener = new TcpListener(address ?? IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The kernel's ephemeral port range, inclusive.</summary>
    public static (int Low, int High) EphemeralRange()
    {
        try
        {
            const string path = "/proc/sys/net/ipv4/ip_local_port_range";
            if (File.Exists(path))
            {
                var parts = File.ReadAllText(path).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2
                    && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var low)
                    && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var high)
                    && low > 0 && low <= high && high <= Highest)
                {
                    return (low, high);
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return (49152, Highest);
    }

    private static bool IsFree(IPAddress address, int port)
    {
        try
        {
            using var probe = new TcpListener(address, port);
            probe.Start();
            probe.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
