using Parley.Testing;

namespace Parley.Server.Tests.Api;

/// <summary>One running server shared by the tests of a class (rate limits raised so tests don't trip them).</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public static readonly TestApp AppA = new(1000001, "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0");
    public static readonly TestApp AppB = new(1000002, "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1");

    public ParleyTestServer Server { get; private set; } = null!;

    public RawApi Api(TestApp? app = null) => new(Server.CreateHttpClient(), app ?? AppA);

    public async Task InitializeAsync() =>
        Server = await ParleyTestServer.StartAsync([AppA, AppB], new Dictionary<string, string?> { ["Parley:RateLimitPerSecond"] = "1000" });

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
