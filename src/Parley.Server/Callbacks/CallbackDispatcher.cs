using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Parley.Server.Apps;

namespace Parley.Server.Callbacks;

/// <summary>
/// Delivers outbox rows: a signed JSON POST to the app's CallbackUrl (spec 6.1–6.3), 2xx = delivered, anything else
/// or no answer within <see cref="CallbackOptions.RequestTimeout"/> = retry: ZEGO's schedule (<see cref="CallbackOptions.RetryDelays"/>),
/// then a slow one until <see cref="CallbackOptions.RetryFor"/> has passed, then dead (kept; redeliverable).
/// Sends run concurrently with a per-app cap, so one slow or failing receiver does not hold back other apps. Each
/// attempt works on a claimed row (<see cref="ICallbackOutbox.ClaimDueAsync"/>), so no row is sent twice at once.
/// Rows left pending by a stopped or killed process are picked up by the next one (at-least-once delivery).
/// </summary>
public sealed class CallbackDispatcher : BackgroundService
{
    /// <summary>Name of the <see cref="IHttpClientFactory"/> client used for deliveries.</summary>
    public const string HttpClientName = "Parley.Callbacks";

    private static readonly TimeSpan ErrorBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromHours(1);

    /// <summary>A claim outlasts the attempt's own timeout by this much (the outcome's write included).</summary>
    private static readonly TimeSpan ClaimMargin = TimeSpan.FromSeconds(30);

    private readonly ICallbackOutbox _outbox;
    private readonly IAppDirectory _apps;
    private readonly IHttpClientFactory _httpClientFactory;
    private readonly TimeProvider _time;
    private readonly CallbackOptions _options;
    private readonly ILogger<CallbackDispatcher> _logger;

    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly HashSet<long> _inFlight = [];
    private readonly Dictionary<uint, int> _inFlightPerApp = [];
    private readonly Dictionary<long, Task> _running = [];
    private TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextPurgeAt;

    public CallbackDispatcher(
        ICallbackOutbox outbox,
        IAppDirectory apps,
        IHttpClientFactory httpClientFactory,
        TimeProvider time,
        IOptions<CallbackOptions> options,
        ILogger<CallbackDispatcher> logger)
    {
        _outbox = outbox;
        _apps = apps;
        _httpClientFactory = httpClientFactory;
        _time = time;
        _options = options.Value;
        _logger = logger;
        _outbox.Published += Signal;
    }

    /// <summary>Completes when the dispatcher waits with nothing in flight and nothing due (for tests).</summary>
    internal Task WhenIdleAsync()
    {
        lock (_gate)
        {
            return _idle.Task;
        }
    }

    public override void Dispose()
    {
        _outbox.Published -= Signal;
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await _outbox.EnsureInitializedAsync(stoppingToken);
        CallbackLog.DispatcherStarted(_logger, _options.EffectiveRetryDelays.Count, _options.RetryFor);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                TimeSpan wait;
                try
                {
                    wait = await DispatchDueAsync(stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    CallbackLog.DispatchLoopFailed(_logger, ex);
                    wait = ErrorBackoff;
                }

                await WaitAsync(wait, stoppingToken);
            }
        }
        finally
        {
            Task[] running;
            lock (_gate)
            {
                running = [.. _running.Values];
            }

            try
            {
                await Task.WhenAll(running);
            }
            catch (Exception)
            {
                // Each delivery logs its own failure.
            }
        }
    }

    private async Task<TimeSpan> DispatchDueAsync(CancellationToken stoppingToken)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (now >= _nextPurgeAt)
        {
            var purged = await _outbox.PurgeCompletedAsync(now - (long)_options.DeliveredRetention.TotalMilliseconds, stoppingToken);
            if (purged > 0)
            {
                CallbackLog.Purged(_logger, purged);
            }

            _nextPurgeAt = now + (long)PurgeInterval.TotalMilliseconds;
        }

        foreach (var appId in await _outbox.GetAppsWithDueRowsAsync(now, stoppingToken))
        {
            int free;
            lock (_gate)
            {
                free = Math.Min(
                    _options.MaxConcurrentDeliveriesPerApp - _inFlightPerApp.GetValueOrDefault(appId),
                    _options.MaxConcurrentDeliveries - _inFlight.Count);
            }

            if (free <= 0)
            {
                continue; // a completing delivery signals the loop
            }

            // Claimed rows are not due for anyone else until the claim ends, so none is in flight already.
            var claimUntil = now + (long)(_options.RequestTimeout + ClaimMargin).TotalMilliseconds;
            foreach (var row in await _outbox.ClaimDueAsync(appId, now, free, claimUntil, stoppingToken))
            {
                lock (_gate)
                {
                    _inFlight.Add(row.Id);
                    _inFlightPerApp[appId] = _inFlightPerApp.GetValueOrDefault(appId) + 1;
                    var task = Task.Run(() => DeliverAsync(row, stoppingToken), CancellationToken.None);
                    _running[row.Id] = task;
                }
            }
        }

        var next = await _outbox.GetNextDueAfterAsync(now, stoppingToken);
        return next is { } due ? TimeSpan.FromMilliseconds(due - now) : Timeout.InfiniteTimeSpan;
    }

    private async Task WaitAsync(TimeSpan wait, CancellationToken stoppingToken)
    {
        if (wait == TimeSpan.Zero || (wait < TimeSpan.Zero && wait != Timeout.InfiniteTimeSpan))
        {
            return;
        }

        using var timeout = wait == Timeout.InfiniteTimeSpan ? null : new CancellationTokenSource(wait, _time);
        using var linked = timeout is null
            ? CancellationTokenSource.CreateLinkedTokenSource(stoppingToken)
            : CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timeout.Token);
        lock (_gate)
        {
            if (_signal.CurrentCount == 0 && _inFlight.Count == 0)
            {
                _idle.TrySetResult();
            }
        }

        try
        {
            await _signal.WaitAsync(linked.Token);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // The next retry is due.
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }

        lock (_gate)
        {
            if (_idle.Task.IsCompleted)
            {
                _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    private void Signal()
    {
        lock (_gate)
        {
            if (_idle.Task.IsCompleted)
            {
                _idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            if (_signal.CurrentCount == 0)
            {
                _signal.Release();
            }
        }
    }

    private async Task DeliverAsync(CallbackOutboxEntry row, CancellationToken stoppingToken)
    {
        try
        {
            await DeliverOnceAsync(row, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: the row is due again at once, for the next process.
            await ReleaseAsync(row);
        }
        catch (Exception ex)
        {
            CallbackLog.DeliveryCrashed(_logger, ex, row.AppId, row.Sequence);
        }
        finally
        {
            lock (_gate)
            {
                _inFlight.Remove(row.Id);
                _running.Remove(row.Id);
                if (_inFlightPerApp.TryGetValue(row.AppId, out var count) && count > 1)
                {
                    _inFlightPerApp[row.AppId] = count - 1;
                }
                else
                {
                    _inFlightPerApp.Remove(row.AppId);
                }
            }

            Signal();
        }
    }

    private async Task ReleaseAsync(CallbackOutboxEntry row)
    {
        try
        {
            await _outbox.ReleaseAsync(row, _time.GetUtcNow().ToUnixTimeMilliseconds(), CancellationToken.None);
        }
        catch (Exception ex)
        {
            // The claim ends by itself; the row is sent after it.
            CallbackLog.DeliveryCrashed(_logger, ex, row.AppId, row.Sequence);
        }
    }

    private async Task DeliverOnceAsync(CallbackOutboxEntry row, CancellationToken stoppingToken)
    {
        if (!_apps.TryGet(row.AppId, out var app))
        {
            await SkipAsync(row, "the app is not configured");
            return;
        }

        var target = app.CallbackUrlFor(row.HostTag);
        if (string.IsNullOrWhiteSpace(target))
        {
            await SkipAsync(row, string.IsNullOrEmpty(row.HostTag) ? "the app has no CallbackUrl" : $"the app has no CallbackUrls entry for HostTag '{row.HostTag}'");
            return;
        }

        if (!Uri.TryCreate(target, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            await SkipAsync(row, "the app's CallbackUrl is not an absolute http or https URL");
            return;
        }

        var attempt = row.Attempts + 1;
        var error = await SendAsync(row, url, app.CallbackSecret ?? "", stoppingToken);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (error is null)
        {
            if (await _outbox.MarkDeliveredAsync(row, now, CancellationToken.None))
            {
                CallbackLog.Delivered(_logger, row.Event, row.AppId, row.Sequence, attempt);
            }
            else
            {
                CallbackLog.ClaimLost(_logger, row.AppId, row.Sequence);
            }

            return;
        }

        if (_options.NextRetryDelay(attempt, row.RetryFrom, now) is not { } delay)
        {
            if (await _outbox.MarkDeadAsync(row, now, error, CancellationToken.None))
            {
                CallbackLog.Dead(_logger, row.Event, row.AppId, row.Sequence, attempt, error);
            }

            return;
        }

        if (!await _outbox.ScheduleRetryAsync(row, now, now + (long)delay.TotalMilliseconds, error, CancellationToken.None))
        {
            CallbackLog.ClaimLost(_logger, row.AppId, row.Sequence);
        }
        else if (!_options.IsSlowRetry(attempt))
        {
            CallbackLog.RetryScheduled(_logger, row.Event, row.AppId, row.Sequence, attempt, error, delay.TotalSeconds);
        }
        else if (attempt == _options.EffectiveRetryDelays.Count + 1)
        {
            var until = DateTimeOffset.FromUnixTimeMilliseconds(row.RetryFrom) + _options.RetryFor;
            CallbackLog.SlowRetryStarted(_logger, row.Event, row.AppId, row.Sequence, attempt, error, delay.TotalMinutes, until);
        }
        else
        {
            CallbackLog.SlowRetryScheduled(_logger, row.Event, row.AppId, row.Sequence, attempt, error, delay.TotalMinutes);
        }
    }

    private async Task SkipAsync(CallbackOutboxEntry row, string reason)
    {
        if (await _outbox.MarkSkippedAsync(row, _time.GetUtcNow().ToUnixTimeMilliseconds(), reason, CancellationToken.None))
        {
            CallbackLog.Skipped(_logger, row.Event, row.AppId, row.Sequence, reason);
        }
    }

    /// <summary>One attempt; null on 2xx, otherwise the reason it failed.</summary>
    private async Task<string?> SendAsync(CallbackOutboxEntry row, Uri url, string secret, CancellationToken stoppingToken)
    {
        var nonce = NewNonce();
        var timestamp = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var signature = CallbackSignature.Compute(nonce, timestamp, secret);
        var body = BuildBody(row, nonce, timestamp, signature);

        using var request = new HttpRequestMessage(HttpMethod.Post, url);
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timeout.Token);
        try
        {
            var client = _httpClientFactory.CreateClient(HttpClientName);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            return response.IsSuccessStatusCode
                ? null
                : string.Create(CultureInfo.InvariantCulture, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            return string.Create(CultureInfo.InvariantCulture, $"no response within {_options.RequestTimeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException ex)
        {
            return ex.HttpRequestError == HttpRequestError.Unknown ? ex.Message : $"{ex.HttpRequestError}: {ex.Message}";
        }
    }

    internal static byte[] BuildBody(CallbackOutboxEntry row, string nonce, long timestamp, string signature)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + row.DataJson.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("AppId", row.AppId);
            writer.WriteString("Event", row.Event);
            writer.WriteString("Nonce", nonce);
            writer.WriteNumber("Timestamp", timestamp);
            writer.WriteString("Signature", signature);
            writer.WriteString("AgentInstanceId", row.AgentInstanceId);
            writer.WriteString("AgentUserId", row.AgentUserId);
            writer.WriteString("AgentId", row.AgentId);
            writer.WriteString("Name", row.Name);
            writer.WriteString("RoomId", row.RoomId);
            writer.WriteNumber("Sequence", row.Sequence);
            writer.WritePropertyName("Data");
            writer.WriteRawValue(row.DataJson, skipInputValidation: false);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A random positive int64 in decimal, like ZEGO's example nonces ("7450395512627324902").</summary>
    private static string NewNonce()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        var value = BitConverter.ToInt64(bytes) & long.MaxValue;
        return value.ToString(CultureInfo.InvariantCulture);
    }
}
