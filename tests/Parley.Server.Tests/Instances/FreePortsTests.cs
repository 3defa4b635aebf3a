using System.Net;
using System.Net.Sockets;
using Parley.Server.Instances;
using Xunit;

namespace Parley.Server.Tests.Instances;

public sealed class FreePortsTests
{
    [Fact]
    public void Pick_IsOutsideTheEphemeralRange_AndBindable()
    {
        // The kernel's bind(0) choice lies inside the range outgoing connections draw from: the race this avoids.
        var (low, high) = FreePorts.EphemeralRange();
        for (var i = 0; i < 50; i++)
        {
            var port = FreePorts.Pick(IPAddress.Loopback);
            Assert.True(port < low || port > high, $"port {port} is inside the ephemeral range {low}-{high}");
            Assert.InRange(port, 10000, 65535);
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
    }

    [Fact]
    public void Pick_NeverReturnsAPortSomeoneListensOn()
    {
        var (_, high) = FreePorts.EphemeralRange();
        var held = new List<TcpListener>();
        try
        {
            // Hold a hundred ports above the range for a moment (few: other tests pick from the same ports), then draw
            // often enough that several draws land on a held one and must be refused by the probe.
            for (var port = high + 1; port <= Math.Min(65535, high + 100); port++)
            {
                var listener = new TcpListener(IPAddress.Any, port);
                try
                {
                    listener.Start();
                    held.Add(listener);
                }
                catch (SocketException)
                {
                    listener.Dispose();
                }
            }

            var taken = held.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToHashSet();
            for (var i = 0; i < 3000; i++)
            {
                Assert.DoesNotContain(FreePorts.Pick(), taken);
            }
        }
        finally
        {
            foreach (var listener in held)
            {
                listener.Dispose();
            }
        }
    }
}
