using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Parley.Server.Api;
using Parley.Testing;

namespace Parley.Server.Tests.Api;

/// <summary>The replay guard through the API: a signed request can be used once within the signature window.</summary>
public sealed class ReplayGuardApiTests
{
    private static readonly TestApp App = new(1000601, "a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6");
    private static readonly TestApp Other = new(1000602, "b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6");

    private static Task<ParleyTestServer> StartAsync(FakeTimeProvider time, bool? guard = null) =>
        ParleyTestServer.StartAsync(
            [App, Other],
            guard is null ? new Dictionary<string, string?>() : new Dictionary<string, string?> { ["Parley:ReplayGuard"] = guard.Value ? "true" : "false" },
            TestServerConfiguration.WithTime(time));

    [Fact]
    public async Task ReplayedRequest_IsRefusedWith100000004_WhileFreshNoncesAreServed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartAsync(time);
        var api = new RawApi(server.CreateHttpClient(), App, time);
        var query = api.Query("ListAgents");

        Assert.Equal(0, (await api.SendAsync(query, "{}")).Code());
        var replayed = await api.SendAsync(query, "{}");

        Assert.Equal(ReturnCodes.NonceReused, replayed.Code());
        Assert.Equal(ReturnCodes.SignatureExpired, ReturnCodes.NonceReused);
        Assert.Contains("SignatureNonce was already used", replayed.Message());
        Assert.Equal(0, (await api.CallAsync("ListAgents")).Code());
    }

    [Fact]
    public async Task ANonceResignedWithAnotherTimestamp_IsRefused_UntilTheWindowHasPassed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartAsync(time);
        var api = new RawApi(server.CreateHttpClient(), App, time);
        var start = time.GetUtcNow().ToUnixTimeSeconds();
        Assert.Equal(0, (await api.SendAsync(api.Query("ListAgents", nonce: "n-1"), "{}")).Code());

        time.Advance(TimeSpan.FromSeconds(600));
        Assert.Equal(ReturnCodes.NonceReused, (await api.SendAsync(api.Query("ListAgents", nonce: "n-1"), "{}")).Code());

        // At start + 601 s the first request's timestamp is outside the window: it cannot be replayed, the nonce is forgotten.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ReturnCodes.SignatureExpired, (await api.SendAsync(api.Query("ListAgents", nonce: "n-2", timestamp: start), "{}")).Code());
        Assert.Equal(0, (await api.SendAsync(api.Query("ListAgents", nonce: "n-1"), "{}")).Code());
        Assert.Equal(1, server.Services.GetRequiredService<ReplayGuard>().Remembered(App.AppId));
    }

    [Fact]
    public async Task Nonces_ArePerApp()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartAsync(time);
        var a = new RawApi(server.CreateHttpClient(), App, time);
        var b = new RawApi(server.CreateHttpClient(), Other, time);

        Assert.Equal(0, (await a.SendAsync(a.Query("ListAgents", nonce: "shared"), "{}")).Code());
        Assert.Equal(0, (await b.SendAsync(b.Query("ListAgents", nonce: "shared"), "{}")).Code());
    }

    [Fact]
    public async Task ABadSignature_DoesNotSpendTheNonce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartAsync(time);
        var api = new RawApi(server.CreateHttpClient(), App, time);
        var forged = api.Query("ListAgents", nonce: "victim");
        forged["Signature"] = new string('0', 32);

        Assert.Equal(ReturnCodes.SignatureWrong, (await api.SendAsync(forged, "{}")).Code());
        Assert.Equal(0, (await api.SendAsync(api.Query("ListAgents", nonce: "victim"), "{}")).Code());
    }

    [Fact]
    public async Task TheGuardCanBeTurnedOff()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await StartAsync(time, guard: false);
        var api = new RawApi(server.CreateHttpClient(), App, time);
        var query = api.Query("ListAgents");

        Assert.Equal(0, (await api.SendAsync(query, "{}")).Code());
        Assert.Equal(0, (await api.SendAsync(query, "{}")).Code());
    }
}

/// <summary>The guard's memory: bounded by the window and by the per-app cap, allocation-free at a steady rate.</summary>
public sealed class ReplayGuardTests
{
    private const long Now = 1_800_000_000;

    [Fact]
    public void ANonce_IsRememberedForExactlyTheTimeItsTimestampIsInTheWindow()
    {
        var guard = new ReplayGuard(windowSeconds: 600, noncesPerApp: 100);

        Assert.Equal(ReplayVerdict.Fresh, guard.Admit(1, "n", Now + 30, Now));
        Assert.Equal(ReplayVerdict.Replayed, guard.Admit(1, "n", Now, Now + 630));
        Assert.Equal(ReplayVerdict.Fresh, guard.Admit(1, "n", Now + 631, Now + 631));
        Assert.Equal(1, guard.Remembered(1));
    }

    [Fact]
    public void BeyondTheCap_TheOldestTimestampsAreDroppedAndRefused_ButNoReplayGetsThrough()
    {
        var guard = new ReplayGuard(windowSeconds: 600, noncesPerApp: 4);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(ReplayVerdict.Fresh, guard.Admit(7, $"n{i}", Now - 10 + i, Now));
        }

        // A fifth nonce: the oldest second (Now − 10) is forgotten, so its timestamp can no longer be checked.
        Assert.Equal(ReplayVerdict.Fresh, guard.Admit(7, "n4", Now, Now));
        Assert.Equal(4, guard.Remembered(7));
        Assert.Equal(ReplayVerdict.TooOld, guard.Admit(7, "n0", Now - 10, Now));
        Assert.Equal(ReplayVerdict.TooOld, guard.Admit(7, "fresh", Now - 10, Now));
        for (var i = 1; i < 5; i++)
        {
            Assert.Equal(ReplayVerdict.Replayed, guard.Admit(7, $"n{i}", Now - 10 + Math.Min(i, 4), Now));
        }

        // Other apps have their own cap.
        Assert.Equal(ReplayVerdict.Fresh, guard.Admit(8, "n0", Now - 10, Now));
    }

    [Fact]
    public void AtASteadyRate_MemoryStaysBounded_AndAdmittingAllocatesNothing()
    {
        const int PerSecond = 500;
        const int Window = 20;
        var guard = new ReplayGuard(windowSeconds: Window, noncesPerApp: 1_000_000);
        var nonces = Enumerable.Range(0, PerSecond * 200).Select(i => $"{i:x16}").ToArray();
        var next = 0;

        void RunSeconds(long from, int seconds)
        {
            for (var second = from; second < from + seconds; second++)
            {
                for (var i = 0; i < PerSecond; i++)
                {
                    if (guard.Admit(3, nonces[next++], second, second) != ReplayVerdict.Fresh)
                    {
                        throw new InvalidOperationException("a fresh nonce was refused");
                    }
                }
            }
        }

        RunSeconds(Now, 3 * Window);
        var before = GC.GetAllocatedBytesForCurrentThread();
        RunSeconds(Now + (3 * Window), 100);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.InRange(guard.Remembered(3), Window * PerSecond, (Window + 1) * PerSecond);
    }
}
