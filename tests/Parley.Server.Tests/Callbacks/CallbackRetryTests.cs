using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Parley.Server.Callbacks;
using Parley.Testing;
using Parley.Testing.Callbacks;

namespace Parley.Server.Tests.Callbacks;

/// <summary>After ZEGO's five retries: the slow schedule, outages, concurrent dispatchers, and what delivery logs.</summary>
public sealed class CallbackRetryTests : IDisposable
{
    private const uint AppA = 1234567;
    private readonly TempDataDirectory _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task AfterZegosSchedule_AFailingEventIsRetriedEveryFiveMinutesDoublingToAnHour_WithALastAttemptWhenRetryForEnds_ThenDead()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        receiver.FailNext(int.MaxValue);
        var time = FakeTime.Create();
        var config = new Dictionary<string, string?> { ["Parley:Callbacks:RetryFor"] = "03:00:00" };
        await using var host = await CallbackTestHost.StartAsync(_data.Path, time, new FakeAppDirectory().Add(AppA, receiver.Url, receiver.Secret), config);

        await host.Publisher.PublishAsync(CallbackTestHost.Event(AppA), CancellationToken.None);
        CallbackOutboxEntry row;
        for (var attempts = 1; ; attempts++)
        {
            await receiver.WaitForRequestsAsync(attempts);
            await host.IdleAsync();
            row = Assert.Single(await host.Outbox.ListAsync(null, 10, CancellationToken.None));
            if (row.State != CallbackDeliveryState.Pending)
            {
                break;
            }

            Assert.True(attempts < 50, "the event is retried for ever");
            time.Advance(DateTimeOffset.FromUnixTimeMilliseconds(row.NextAttemptAt) - time.GetUtcNow());
        }

        var t0 = FakeTime.Start.ToUnixTimeMilliseconds();
        long[] expectedSeconds = [0, 2, 6, 14, 30, 62, 62 + 300, 362 + 600, 962 + 1200, 2162 + 2400, 4562 + 3600, 3 * 3600];
        Assert.Equal(expectedSeconds.Select(s => t0 + (s * 1000)), receiver.Requests.Select(r => r.Timestamp));
        Assert.Equal(CallbackDeliveryState.Dead, row.State);
        Assert.Equal(12, row.Attempts);
        Assert.Single(receiver.Requests.Select(r => r.Sequence).Distinct());
    }

    [Fact]
    public async Task ReceiverDownForTenMinutes_LosesNothing_EveryEventIsDeliveredOnceWhenItIsBack()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        receiver.FailNext(int.MaxValue);
        var time = FakeTime.Create();
        await using var host = await CallbackTestHost.StartAsync(_data.Path, time, new FakeAppDirectory().Add(AppA, receiver.Url, receiver.Secret));

        // Events at 0 s, 1 min, 3 min, 5 min and 9 min 20 s; the receiver answers again from 10 min on.
        var t0 = FakeTime.Start;
        var publishAt = new Queue<TimeSpan>([TimeSpan.Zero, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(3), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(560)]);
        var upAt = t0 + TimeSpan.FromMinutes(10);
        var up = false;
        var round = 0;
        var expectedRequests = 0;
        while (true)
        {
            await receiver.WaitForRequestsAsync(expectedRequests);
            await host.IdleAsync();
            var pending = await host.Outbox.ListAsync(CallbackDeliveryState.Pending, 100, CancellationToken.None);
            DateTimeOffset? nextDue = pending.Count == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(pending.Min(r => r.NextAttemptAt));
            DateTimeOffset? nextPublish = publishAt.Count == 0 ? null : t0 + publishAt.Peek();
            if (nextDue is null && nextPublish is null)
            {
                break;
            }

            var target = new[] { nextDue, nextPublish }.Where(t => t is not null).Min()!.Value;
            Assert.True(target < t0 + TimeSpan.FromHours(1), "an event was still pending an hour after the outage began");
            if (!up && target >= upAt)
            {
                receiver.FailNext(0);
                up = true;
            }

            expectedRequests += pending.Count(r => r.NextAttemptAt <= target.ToUnixTimeMilliseconds());
            if (target > time.GetUtcNow())
            {
                time.Advance(target - time.GetUtcNow());
            }

            if (nextPublish == target)
            {
                publishAt.Dequeue();
                await host.Publisher.PublishAsync(CallbackTestHost.Event(AppA, round: round++), CancellationToken.None);
                expectedRequests++;
            }
        }

        Assert.Empty(await host.Outbox.ListAsync(CallbackDeliveryState.Dead, 10, CancellationToken.None));
        var rows = await host.Outbox.ListAsync(null, 10, CancellationToken.None);
        Assert.Equal(5, rows.Count);
        Assert.All(rows, r => Assert.Equal(CallbackDeliveryState.Delivered, r.State));
        var delivered = receiver.Requests.Where(r => r.ResponseStatus == 200).ToList();
        Assert.Equal([0, 1, 2, 3, 4], delivered.Select(r => r.Data!["Round"]!.GetValue<int>()).Order());
        Assert.Equal(5, delivered.Select(r => r.Sequence).Distinct().Count());
        Assert.All(delivered, r => Assert.True(r.Timestamp >= upAt.ToUnixTimeMilliseconds()));
    }

    [Fact]
    public async Task TwoDispatchersOverOneFile_NeverSendTheSameEventTwice()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        receiver.ResponseDelay = TimeSpan.FromMilliseconds(200);
        var time = FakeTime.Create();
        var apps = new FakeAppDirectory().Add(AppA, receiver.Url, receiver.Secret);
        await using var first = await CallbackTestHost.StartAsync(_data.Path, time, apps, start: false);
        await using var second = await CallbackTestHost.StartAsync(_data.Path, time, apps, start: false);
        for (var i = 0; i < 8; i++)
        {
            await first.Publisher.PublishAsync(CallbackTestHost.Event(AppA, round: i), CancellationToken.None);
        }

        await Task.WhenAll(first.Host.StartAsync(), second.Host.StartAsync());
        await receiver.WaitForRequestsAsync(8);
        await first.IdleAsync();
        await second.IdleAsync();

        var rows = await first.Outbox.ListAsync(null, 100, CancellationToken.None);
        Assert.All(rows, r => Assert.Equal(CallbackDeliveryState.Delivered, r.State));
        Assert.All(rows, r => Assert.Equal(1, r.Attempts));
        Assert.Equal(8, receiver.Requests.Count);
        Assert.Equal(8, receiver.Requests.Select(r => r.Sequence).Distinct().Count());
    }

    [Fact]
    public async Task Delivery_WritesNoHttpClientLines_NothingAtInformationOnSuccess_OneLinePerFailedAttempt_AndNeverTheSignature()
    {
        await using var receiver = await CallbackReceiver.StartAsync();
        receiver.FailNext(1);
        var time = FakeTime.Create();
        var logs = new CapturedLogs { MinimumLevel = Microsoft.Extensions.Logging.LogLevel.Information };
        await using var host = await CallbackTestHost.StartAsync(_data.Path, time, new FakeAppDirectory().Add(AppA, receiver.Url, receiver.Secret), logs: logs);

        await host.Publisher.PublishAsync(CallbackTestHost.Event(AppA), CancellationToken.None);
        await receiver.WaitForRequestsAsync(1);
        await host.IdleAsync();
        time.Advance(TimeSpan.FromSeconds(2));
        await receiver.WaitForRequestsAsync(2);
        await host.IdleAsync();
        await host.Publisher.PublishAsync(CallbackTestHost.Event(AppA, round: 2), CancellationToken.None);
        await receiver.WaitForRequestsAsync(3);
        await host.IdleAsync();

        var lines = logs.Entries.ToList();
        Assert.DoesNotContain(lines, l => l.Category.StartsWith("System.Net.Http", StringComparison.Ordinal));
        var delivery = lines.Where(l => l.Category == typeof(CallbackDispatcher).FullName && l.EventId.Id != 4000).ToList();
        var retry = Assert.Single(delivery);
        Assert.Contains("failed on attempt 1 (HTTP 500", retry.Message, StringComparison.Ordinal);
        foreach (var request in receiver.Requests)
        {
            var signature = request.Body["Signature"]!.GetValue<string>();
            Assert.DoesNotContain(lines, l => l.Message.Contains(signature, StringComparison.Ordinal));
        }

        Assert.DoesNotContain(lines, l => l.Message.Contains(receiver.Secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnOutboxFileFromBeforeRedelivery_IsUpgradedInPlace_AndItsPendingRowsAreDelivered()
    {
        Directory.CreateDirectory(_data.Path);
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(_data.Path, "parley.db")};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE callback_outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT, sequence INTEGER NOT NULL UNIQUE, app_id INTEGER NOT NULL,
                    event TEXT NOT NULL, agent_instance_id TEXT NOT NULL, agent_user_id TEXT NOT NULL, room_id TEXT NOT NULL,
                    data TEXT NOT NULL, state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, last_attempt_at INTEGER NULL,
                    completed_at INTEGER NULL, last_error TEXT NULL);
                INSERT INTO callback_outbox (sequence, app_id, event, agent_instance_id, agent_user_id, room_id, data, created_at, next_attempt_at)
                VALUES (7, 1234567, 'Interrupted', '1', 'agent_user_1', 'room_1', '{"Round":1}', 1745502313000, 1745502313000);
                """;
            await command.ExecuteNonQueryAsync();
        }

        await using var receiver = await CallbackReceiver.StartAsync();
        await using var host = await CallbackTestHost.StartAsync(_data.Path, FakeTime.Create(), new FakeAppDirectory().Add(AppA, receiver.Url, receiver.Secret));

        var request = Assert.Single(await receiver.WaitForRequestsAsync(1));
        Assert.Equal(7, request.Sequence);
        Assert.Equal("", request.Body["AgentId"]!.GetValue<string>()); // the agent columns were added too (null = "")
        Assert.Equal("", request.Body["Name"]!.GetValue<string>());
        await host.IdleAsync();
        var row = await host.Outbox.GetAsync(7, CancellationToken.None);
        Assert.Equal(CallbackDeliveryState.Delivered, row!.State);
        Assert.Equal(row.CreatedAt, row.RetryFrom);
    }
}
