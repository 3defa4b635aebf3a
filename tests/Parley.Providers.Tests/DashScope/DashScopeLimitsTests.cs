using Parley.Providers.DashScope;
using Parley.Testing.Fakes;

namespace Parley.Providers.Tests.DashScope;

/// <summary>What a DashScope endpoint can make Parley hold: one JSON message is bounded (Parley:Vendors:DashScope:MaxMessageBytes).</summary>
public sealed class DashScopeLimitsTests
{
    private const long Flood = 50L * 1024 * 1024;

    [Fact]
    public async Task OversizedMessage_FailsTheTaskAtTheLimit_WithoutReadingTheRest()
    {
        await using var fake = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions { ApiKey = "k", OversizedEventBytes = Flood });
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url, MaxMessageBytes = 64 * 1024 });
        var provider = new CosyVoiceTtsProvider(pool);
        var parameters = new System.Text.Json.Nodes.JsonObject { ["app"] = new System.Text.Json.Nodes.JsonObject { ["api_key"] = "k" } };

        var error = await Assert.ThrowsAsync<DashScopeException>(async () =>
        {
            await foreach (var chunk in provider.SynthesizeAsync("Hello.", parameters, CancellationToken.None))
            {
                chunk.Dispose();
            }
        });

        // What the server got rid of by the time the client gave up: the client's reads plus what the sockets buffer.
        var sent = fake.TransportBytesSent;
        Assert.Equal("MessageTooLarge", error.ErrorCode);
        Assert.Contains("larger than 65536 bytes", error.Message);
        Assert.True(sent < Flood / 4, $"the client took {sent} bytes of one message");
        Assert.Equal(0, pool.IdleCount);
    }

    [Fact]
    public void MaxMessageBytes_BelowOneKiB_IsRefused() =>
        Assert.Throws<ArgumentException>(() => new DashScopeOptions { MaxMessageBytes = 10 }.Validate());
}
