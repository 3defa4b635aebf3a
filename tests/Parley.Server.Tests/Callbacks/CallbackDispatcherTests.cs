using Xunit;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Callbacks;
using Parley.Testing.Callbacks;

namespace Parley.Server.Tests.Callbacks;

public sealed class CallbackDispatcherTests : IDisposable
{
    private const uint AppA = 1234567;
    private const uint AppB = 7654321;
    private readonly TempDataDirectory _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Publish_DeliversSignedCallbackWithAllCommonFields()
    {
        await using var receiver = await CallbackReceiver.StartAsync("s3cret");
        var time = FakeTime.Create();
        await using var host = await CallbackTestHost.StartAsync(_data.Path, time, new FakeAppDirectory().Add(AppA, receiver.Url, "s3cret"));

        await host.Publisher.PublishAsync(
            new CallbackEvent(AppA, CallbackEvents.AsrResult, "1912124734317838336", "agent_user_1", "room_1",
                new JsonObject { ["UserId"] = "user_1", ["Round"] = 650459806, ["Text"] = "hello" }, "agent_1", "Weather bot"),
            CancellationToken.None);

        var request = Assert.Single(await receiver.WaitForRequestsAsync(1));
        Assert.Equal("application/json", request.ContentType);
        Assert.True(request.SignatureValid);
        using var doc = JsonDocument.Parse(request.RawBody);
        var root = doc.RootElement;
        Assert.Equal(JsonValueKind.Number, root.GetProperty("AppId").ValueKind);
        Assert.Equal(AppA, root.GetProperty("AppId").GetUInt32());
        Assert.Equal("ASRResult", root.GetProperty("Event").GetString());
        Assert.Equal(JsonValueKind.String, root.GetProperty("Nonce").ValueKind);
        Assert.False(string.IsNullOrEmpty(root.GetProperty("Nonce").GetString()));
        Assert.Equal(JsonValueKind.Number, root.GetProperty("Timestamp").ValueKind);
        Assert.Equal(FakeTime.Start.ToUnixTimeMilliseconds(), root.GetProperty("Timestamp").GetInt64());
        Assert.Matches("^[0-9a-f]{40}$", root.GetProperty("Signature").GetString());
        Assert.Equal(
            CallbackSignature.Compute(root.GetProperty("Nonce").GetString()!, root.GetProperty("Timestamp").GetRawText(), "s3cret"),
            root.GetProperty("Signature").GetString());
        Assert.Equal("1912124734317838336", root.GetProperty("AgentInstanceId").GetString());
        Assert.Equal("agent_user_1", root.GetProperty("AgentUserId").GetString());
        Assert.Equal("room_1", root.GetProperty("RoomId").GetString());
        Assert.Equal("agent_1", root.GetProperty("AgentId").GetString());
        Assert.Equal("Weather bot", root.GetProperty("Name").GetString());
        Assert.Equal(JsonValueKind.Number, root.GetProperty("Sequence").ValueKind);
        Assert.True(root.GetProperty("Sequence").GetInt64() > 1_000_000_000_000_000_000L, "Sequence is a time-based int64 like ZEGO's ~1.9e18");
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"UserId":"user_1","Round":650459806,"Text":"hello"}"""),
            JsonNode.Parse(root.GetProperty("Data").GetRawText())));

        await host.IdleAsync();
        var row = await host.Outbox.GetAsync(request.Sequence, CancellationToken.None);
        Assert.NotNull(row);
        Assert.Equal(CallbackDeliveryState.Delivered, row.State);
        Assert.Equal(1, row.Attempts);
    }

    [Fact]
    public async Task Publish_SequencesAreUniqueIncreasingAndTimeBased()
    {
        var time = FakeTime.Create();
        await using var host = await CallbackTestHost.StartAsync(_data.Path, time, new FakeAppDirectory(), start: false);

        for (var i = 0; i < 5; i++)
        {
            await host.Publisher.PublishAsync(CallbackTestHost.Event(AppA, round: i), CancellationToken.None);
        }

        time.Advance(TimeSpan.FromMilliseconds(3));
        await host.Publisher.PublishAsync(CallbackTestHost.Event(AppA, round: 5), CancellationToken.None);

        var rows = await host.Outbox.ListAsync(null, 100, CancellationToken.None);
        Assert.Equal(6, rows.Count);
        var first = (FakeTime.Start.ToUnixTimeMilliseconds() - 1288834974657L) << 22;
        Assert.Equal(first, rows[0].Sequence);
        for (var i = 1; i < rows.Count; i++)
        {
            Assert.True(rows[i].Sequence > rows[i - 1].Sequence);
        }

        Assert.Equal((FakeTime.Start.ToUnixTimeMilliseconds() + 3 - 1288834974657L) << 22, rows[5].Sequence);
        Assert.All(rows, r => Assert.Equal(CallbackDeliveryState.Pending, r.State));
    }

    [Fact]
    public async Task FailingReceiver_IsRetriedAfter2And4And8Seconds_DeliveredOnFourthAttempt()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        receiver.FailNext(3, HttpStatusCode.ServiceUnavailable);
        var time = FakeTime.Create();
        await using var host = await CallbackTestHost.StartAsync(_data.Path, time, new FakeAppDirectory().Add(AppA, receiver.Url, receiver.Secret));

        await host.Publisher.PublishAsync(CallbackTestHost.Event(AppA), CancellationToken.None);
        await receiver.WaitForRequestsAsync(1);
        await host.IdleAsync();

        time.Advance(TimeSpan.FromMilliseconds(1999));
        await host.IdleAsync();
        Assert.Single(receiver.Requests);

        time.Advance(TimeSpan.FromMilliseconds(1));
        await receiver.WaitForRequestsAsync(2);
        await host.IdleAsync();

        time.Advance(TimeSpan.FromSeconds(4));
        await receiver.WaitForRequestsAsync(3);
        await host.IdleAsync();

        time.Advance(TimeSpan.FromSeconds(8));
        var requests = await receiver.WaitForRequestsAsync(4);
        await host.IdleAsync();

        var t0 = FakeTime.Start.ToUnixTimeMilliseconds();
        Assert.Equal([t0, t0 + 2000, t0 + 6000, t0 + 14000], requests.Select(r => r.Timestamp));
        Assert.Equal([503, 503, 503, 200], requests.Select(r => r.ResponseStatus));
        Assert.All(requests, r => Assert.True(r.SignatureValid));
        Assert.Equal(4, requests.Select(r => r.Nonce).Distinct().Count());
        Assert.Single(requests.Select(r => r.Sequence).Distinct());

        var row = await host.Outbox.GetAsync(requests[0].Sequence, CancellationToken.None);
        Assert.Equal(CallbackDeliveryState.Delivered, row!.State);
        Assert.Equal(4, row.Attempts);

        time.Advance(TimeSpan.FromMinutes(5));
        await host.IdleAsync();
        Assert.Equal(4, receiver.Requests.Count);
    }

    [Fact]
    public async Task WithoutRetryPeriod_ReceiverThatAlwaysFails_IsMarkedDeadAfterZegosFiveRetries_AndKept()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        receiver.FailNext(int.MaxValue);
        var time = FakeTime.Create();
        var config = new Dictionary<string, string?> { ["Parley:Callbacks:RetryFor"] = "00:00:00" };
        await using var host = await CallbackTestHost.StartAsync(_data.Path, time, new FakeAppDirectory().Add(AppA, receiver.Url, receiver.Secret), config);

        await host.Publisher.PublishAsync(CallbackTestHost.Event(AppA), CancellationToken.None);
        var expectedOffsets = new List<long> { 0 };
        var attempts = 1;
        foreach (var delay in new[] { 2, 4, 8, 16, 32 })
        {
            await receiver.WaitForRequestsAsync(attempts);
            await host.IdleAsync();
            time.Advance(TimeSpan.FromSeconds(delay));
            expectedOffsets.Add(expectedOffsets[^1] + delay * 1000);
            attempts++;
        }

        var requests = await receiver.WaitForRequestsAsync(6);
        await host.IdleAsync();
        time.Advance(TimeSpan.FromMinutes(10));
        await host.IdleAsync();

        Assert.Equal(6, receiver.Requests.Count);
        var t0 = FakeTime.Start.ToUnixTimeMilliseconds();
        Assert.Equal(expectedOffsets.Select(o => t0 + o), requests.Select(r => r.Timestamp));
        var dead = Assert.Single(await host.Outbox.ListAsync(CallbackDeliveryState.Dead, 10, CancellationToken.None));
        Assert.Equal(6, dead.Attempts);
        Assert.Contains("500", dead.LastError);
    }

    [Fact]
    public async Task PendingCallbacks_SurviveRestart_AndAreDeliveredExactlyOnce()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        receiver.FailNext(int.MaxValue); // "down"
        var apps = new FakeAppDirectory().Add(AppA, receiver.Url, receiver.Secret);

        var time1 = FakeTime.Create();
        var first = await CallbackTestHost.StartAsync(_data.Path, time1, apps);
        for (var i = 0; i < 3; i++)
        {
            await first.Publisher.PublishAsync(CallbackTestHost.Event(AppA, round: i), CancellationToken.None);
        }

        await receiver.WaitForRequestsAsync(3);
        await first.IdleAsync();
        await first.DisposeAsync();

        // Published while no dispatcher runs (the previous process has stopped).
        await first.Publisher.PublishAsync(CallbackTestHost.Event(AppA, round: 3), CancellationToken.None);
        Assert.Equal(3, receiver.Requests.Count);

        receiver.FailNext(0); // receiver comes up
        var time2 = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(FakeTime.Start.AddMinutes(1));
        await using var second = await CallbackTestHost.StartAsync(_data.Path, time2, apps);
        await receiver.WaitForRequestsAsync(7);
        await second.IdleAsync();
        time2.Advance(TimeSpan.FromMinutes(10));
        await second.IdleAsync();

        var delivered = receiver.Requests.Where(r => r.ResponseStatus == 200).ToList();
        Assert.Equal(4, delivered.Count);
        Assert.Equal(4, delivered.Select(r => r.Sequence).Distinct().Count());
        Assert.Equal([0, 1, 2, 3], delivered.Select(r => r.Data!["Round"]!.GetValue<int>()).Order());
        Assert.Equal(7, receiver.Requests.Count);
        var rows = await second.Outbox.ListAsync(null, 100, CancellationToken.None);
        Assert.All(rows, r => Assert.Equal(CallbackDeliveryState.Delivered, r.State));
    }

    [Fact]
    public async Task HangingReceiverOfOneApp_DoesNotDelayAnotherApp_AndTimesOutAfterFiveSeconds()
    {
        await using var slow = await CallbackReceiver.StartAsync();
        slow.Hang = true;
        await using var fast = await CallbackReceiver.StartAsync();
        var time = FakeTime.Create();
        var apps = new FakeAppDirectory().Add(AppA, slow.Url, slow.Secret).Add(AppB, fast.Url, fast.Secret);
        await using var host = await CallbackTestHost.StartAsync(_data.Path, time, apps);

        for (var i = 0; i < 10; i++)
        {
            await host.Publisher.PublishAsync(CallbackTestHost.Event(AppA, round: i), CancellationToken.None);
        }

        await slow.WaitForStartedAsync(4);
        await host.Publisher.PublishAsync(CallbackTestHost.Event(AppB, CallbackEvents.LlmResult), CancellationToken.None);

        var delivered = Assert.Single(await fast.WaitForRequestsAsync(1, TimeSpan.FromSeconds(5)));
        Assert.Equal("LLMResult", delivered.Event);
        Assert.Equal(4, slow.StartedCount); // per-app cap: the other six wait their turn

        // Let app B's attempt see its 200 before the fake clock moves, or its own 5 s timeout would fire too.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await host.Outbox.GetAsync(delivered.Sequence, CancellationToken.None))!.State != CallbackDeliveryState.Delivered)
        {
            Assert.True(DateTime.UtcNow < deadline, "app B's callback was not marked delivered");
            await Task.Delay(10);
        }

        time.Advance(TimeSpan.FromSeconds(5));
        deadline = DateTime.UtcNow.AddSeconds(10);
        IReadOnlyList<CallbackOutboxEntry> timedOut;
        do
        {
            await Task.Delay(20);
            timedOut = [.. (await host.Outbox.ListAsync(CallbackDeliveryState.Pending, 100, CancellationToken.None)).Where(r => r.Attempts == 1)];
        }
        while (timedOut.Count < 4 && DateTime.UtcNow < deadline);

        Assert.True(timedOut.Count == 4, string.Join("; ", timedOut.Select(r => $"{r.Sequence} {r.LastError} {r.NextAttemptAt}")));
        Assert.All(timedOut, r => Assert.Equal("no response within 5 s", r.LastError));
        Assert.All(timedOut, r => Assert.Equal(FakeTime.Start.AddSeconds(7).ToUnixTimeMilliseconds(), r.NextAttemptAt));
    }

    [Fact]
    public async Task AppWithoutCallbackUrl_AndUnknownApp_RowsAreMarkedSkipped()
    {
        var time = FakeTime.Create();
        var apps = new FakeAppDirectory().Add(AppA, callbackUrl: null, secret: null);
        await using var host = await CallbackTestHost.StartAsync(_data.Path, time, apps);

        await host.Publisher.PublishAsync(CallbackTestHost.Event(AppA), CancellationToken.None);
        await host.Publisher.PublishAsync(CallbackTestHost.Event(AppB), CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        IReadOnlyList<CallbackOutboxEntry> skipped;
        do
        {
            await host.IdleAsync();
            skipped = await host.Outbox.ListAsync(CallbackDeliveryState.Skipped, 10, CancellationToken.None);
        }
        while (skipped.Count < 2 && DateTime.UtcNow < deadline);

        Assert.Equal(2, skipped.Count);
        Assert.Equal("the app has no CallbackUrl", skipped.Single(r => r.AppId == AppA).LastError);
        Assert.Equal("the app is not configured", skipped.Single(r => r.AppId == AppB).LastError);
        Assert.All(skipped, r => Assert.Equal(0, r.Attempts));
    }

    [Fact]
    public async Task RetryDelays_AreConfigurable()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        receiver.FailNext(int.MaxValue);
        var time = FakeTime.Create();
        var config = new Dictionary<string, string?>
        {
            ["Parley:Callbacks:RetryDelays:0"] = "00:00:01",
            ["Parley:Callbacks:RetryDelays:1"] = "00:00:03",
            ["Parley:Callbacks:RetryFor"] = "00:00:00",
        };
        await using var host = await CallbackTestHost.StartAsync(_data.Path, time, new FakeAppDirectory().Add(AppA, receiver.Url, receiver.Secret), config);

        await host.Publisher.PublishAsync(CallbackTestHost.Event(AppA), CancellationToken.None);
        await receiver.WaitForRequestsAsync(1);
        await host.IdleAsync();
        time.Advance(TimeSpan.FromSeconds(1));
        await receiver.WaitForRequestsAsync(2);
        await host.IdleAsync();
        time.Advance(TimeSpan.FromSeconds(3));
        var requests = await receiver.WaitForRequestsAsync(3);
        await host.IdleAsync();
        time.Advance(TimeSpan.FromMinutes(5));
        await host.IdleAsync();

        Assert.Equal(3, receiver.Requests.Count);
        var t0 = FakeTime.Start.ToUnixTimeMilliseconds();
        Assert.Equal([t0, t0 + 1000, t0 + 4000], requests.Select(r => r.Timestamp));
        Assert.Single(await host.Outbox.ListAsync(CallbackDeliveryState.Dead, 10, CancellationToken.None));
    }
}
