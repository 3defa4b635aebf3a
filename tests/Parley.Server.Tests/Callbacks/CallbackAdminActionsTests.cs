using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Parley.Server.Callbacks;
using Parley.Testing;
using Parley.Testing.Callbacks;

namespace Parley.Server.Tests.Callbacks;

/// <summary>ParleyListCallbacks and ParleyRedeliverCallbacks: signed like every action, scoped to the calling app.</summary>
public sealed class CallbackAdminActionsTests
{
    [Fact]
    public async Task AnAppListsItsDeadCallbacks_AndRedeliversThem_ButSeesAndTouchesNoOtherAppsEvents()
    {
        await using var receiverA = await CallbackReceiver.StartAsync("secret-a");
        await using var receiverB = await CallbackReceiver.StartAsync("secret-b");
        receiverA.FailNext(int.MaxValue, HttpStatusCode.ServiceUnavailable);
        receiverB.FailNext(int.MaxValue);
        var appA = new TestApp(4000001, "a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4a4", receiverA.Url.ToString(), receiverA.Secret);
        var appB = new TestApp(4000002, "b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4", receiverB.Url.ToString(), receiverB.Secret);
        await using var server = await ParleyTestServer.StartAsync([appA, appB], new Dictionary<string, string?>
        {
            ["Parley:RateLimitPerSecond"] = "1000",
            ["Parley:Callbacks:RetryDelays:0"] = "00:00:00",
            ["Parley:Callbacks:RetryFor"] = "00:00:00",
        });
        var publisher = server.Services.GetRequiredService<ICallbackPublisher>();
        var outbox = server.Services.GetRequiredService<ICallbackOutbox>();
        await publisher.PublishAsync(CallbackTestHost.Event(appA.AppId, round: 1), CancellationToken.None);
        await publisher.PublishAsync(CallbackTestHost.Event(appA.AppId, round: 2), CancellationToken.None);
        await publisher.PublishAsync(CallbackTestHost.Event(appB.AppId, round: 3), CancellationToken.None);
        await WaitForDeadAsync(outbox, 3);

        var a = new RawApi(server.CreateHttpClient(), appA);
        var b = new RawApi(server.CreateHttpClient(), appB);
        var listA = (await a.CallAsync("ParleyListCallbacks")).Data().GetProperty("Callbacks");
        Assert.Equal(2, listA.GetArrayLength());
        Assert.All(listA.EnumerateArray(), c => Assert.Equal("Dead", c.GetProperty("State").GetString()));
        Assert.All(listA.EnumerateArray(), c => Assert.Equal(2, c.GetProperty("Attempts").GetInt32()));
        Assert.All(listA.EnumerateArray(), c => Assert.Equal("HTTP 503 Service Unavailable", c.GetProperty("LastError").GetString()));
        Assert.Equal([1, 2], listA.EnumerateArray().Select(c => c.GetProperty("Data").GetProperty("Round").GetInt32()));
        var sequenceB = Assert.Single((await b.CallAsync("ParleyListCallbacks")).Data().GetProperty("Callbacks").EnumerateArray()).GetProperty("Sequence").GetInt64();

        // A's signature reaches only A's rows: B's dead event is not A's to redeliver.
        var foreign = await a.CallAsync("ParleyRedeliverCallbacks", new { Sequences = new[] { sequenceB } });
        Assert.Equal(0, foreign.Code());
        Assert.Equal(0, foreign.Data().GetProperty("Redelivered").GetInt32());
        Assert.Equal(CallbackDeliveryState.Dead, (await outbox.GetAsync(sequenceB, CancellationToken.None))!.State);

        receiverA.FailNext(0);
        var redelivered = await a.CallAsync("ParleyRedeliverCallbacks", new { All = true });
        Assert.Equal(2, redelivered.Data().GetProperty("Redelivered").GetInt32());
        var delivered = (await receiverA.WaitForRequestsAsync(6)).Where(r => r.ResponseStatus == 200).ToList();
        Assert.Equal([1, 2], delivered.Select(r => r.Data!["Round"]!.GetValue<int>()).Order());
        Assert.All(delivered, r => Assert.True(r.SignatureValid));

        await WaitForStateAsync(outbox, appA.AppId, CallbackDeliveryState.Delivered, 2);
        Assert.Equal(0, (await a.CallAsync("ParleyListCallbacks")).Data().GetProperty("Callbacks").GetArrayLength());
        var all = (await a.CallAsync("ParleyListCallbacks", new { State = "All" })).Data().GetProperty("Callbacks");
        Assert.All(all.EnumerateArray(), c => Assert.Equal("Delivered", c.GetProperty("State").GetString()));
        Assert.Equal(CallbackDeliveryState.Dead, (await outbox.GetAsync(sequenceB, CancellationToken.None))!.State);
    }

    [Fact]
    public async Task RedeliverAndList_RefuseBadArguments_NamingTheField()
    {
        await using var server = await ParleyTestServer.StartAsync();
        var api = new RawApi(server.CreateHttpClient(), ParleyTestServer.DefaultApp);

        await AssertRefusedAsync(api, "ParleyRedeliverCallbacks", new { }, "Sequences");
        await AssertRefusedAsync(api, "ParleyRedeliverCallbacks", new { All = true, Sequences = new[] { 1 } }, "Sequences");
        await AssertRefusedAsync(api, "ParleyRedeliverCallbacks", new { Sequences = Array.Empty<long>() }, "Sequences");
        await AssertRefusedAsync(api, "ParleyRedeliverCallbacks", new { Sequences = new object[] { 1, "x" } }, "Sequences[1]");
        await AssertRefusedAsync(api, "ParleyListCallbacks", new { State = "Lost" }, "State");
        await AssertRefusedAsync(api, "ParleyListCallbacks", new { Limit = 501 }, "Limit");
        await AssertRefusedAsync(api, "ParleyListCallbacks", new { AfterSequence = -1 }, "AfterSequence");

        // A Sequence may come as a decimal string, for clients whose numbers are doubles.
        var reply = await api.CallAsync("ParleyRedeliverCallbacks", new { Sequences = new[] { "1915401643881398272" } });
        Assert.Equal(0, reply.Code());
    }

    private static async Task AssertRefusedAsync(RawApi api, string action, object body, string field)
    {
        var reply = await api.CallAsync(action, body);
        Assert.Equal(410000003, reply.Code());
        Assert.StartsWith(field, reply.Message(), StringComparison.Ordinal);
    }

    private static Task WaitForDeadAsync(ICallbackOutbox outbox, int count) => WaitForStateAsync(outbox, null, CallbackDeliveryState.Dead, count);

    private static async Task WaitForStateAsync(ICallbackOutbox outbox, uint? appId, CallbackDeliveryState state, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await outbox.ListAsync(new CallbackQuery(appId, state), CancellationToken.None)).Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"expected {count} callbacks in state {state}");
            await Task.Delay(20);
        }
    }
}
