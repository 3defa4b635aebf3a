using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Parley.Server.Callbacks;

namespace Parley.Testing.Callbacks;

/// <summary>One callback POST as the receiver saw it.</summary>
public sealed record ReceivedCallback(string RawBody, JsonObject Body, string? ContentType, bool SignatureValid, int ResponseStatus)
{
    public string Event => Body["Event"]?.GetValue<string>() ?? "";

    public long Timestamp => Body["Timestamp"]?.GetValue<long>() ?? 0;

    public long Sequence => Body["Sequence"]?.GetValue<long>() ?? 0;

    public string Nonce => Body["Nonce"]?.GetValue<string>() ?? "";

    public uint AppId => Body["AppId"]?.GetValue<uint>() ?? 0;

    public JsonObject? Data => Body["Data"] as JsonObject;
}

/// <summary>
/// A real HTTP callback receiver on 127.0.0.1 (Kestrel, ephemeral port). Records every request, verifies the ZEGO
/// callback signature with <see cref="Secret"/>, and can be told to fail the next N requests or to hang.
/// </summary>
public sealed class CallbackReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly List<ReceivedCallback> _requests = [];
    private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
    private readonly CancellationTokenSource _disposing = new();
    private int _failNext;
    private HttpStatusCode _failStatus = HttpStatusCode.InternalServerError;
    private int _started;

    private CallbackReceiver(WebApplication app, string secret)
    {
        _app = app;
        Secret = secret;
    }

    public string Secret { get; }

    public Uri Url { get; private set; } = null!;

    /// <summary>When true, requests are accepted but never answered (until the sender gives up or the receiver is disposed).</summary>
    public bool Hang { get; set; }

    /// <summary>How long each answer takes (real time), so that deliveries overlap.</summary>
    public TimeSpan ResponseDelay { get; set; }

    /// <summary>Requests that reached the handler, including hanging ones.</summary>
    public int StartedCount => Volatile.Read(ref _started);

    public IReadOnlyList<ReceivedCallback> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    public static async Task<CallbackReceiver> StartAsync(string secret = "callback-secret", CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new CallbackReceiver(app, secret);
        app.MapPost("/{**path}", receiver.HandleAsync);
        await app.StartAsync(cancellationToken);
        receiver.Url = new Uri(app.Urls.First().TrimEnd('/') + "/callback");
        return receiver;
    }

    /// <summary>The next <paramref name="count"/> requests are answered with <paramref name="status"/>.</summary>
    public void FailNext(int count, HttpStatusCode status = HttpStatusCode.InternalServerError)
    {
        lock (_gate)
        {
            _failNext = count;
            _failStatus = status;
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> requests were answered.</summary>
    public async Task<IReadOnlyList<ReceivedCallback>> WaitForRequestsAsync(int count, TimeSpan? timeout = null)
    {
        Task wait;
        lock (_gate)
        {
            if (_requests.Count >= count)
            {
                return [.. _requests];
            }

            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, tcs));
            wait = tcs.Task;
        }

        var limit = timeout ?? TimeSpan.FromSeconds(10);
        if (await Task.WhenAny(wait, Task.Delay(limit)) != wait)
        {
            throw new TimeoutException($"Expected {count} callback request(s) within {limit.TotalSeconds} s, got {Requests.Count}.");
        }

        return Requests;
    }

    /// <summary>Waits until at least <paramref name="count"/> requests reached the handler (answered or hanging).</summary>
    public async Task WaitForStartedAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (StartedCount < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Expected {count} callback request(s) to start, got {StartedCount}.");
            }

            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _disposing.CancelAsync();
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(stop.Token);
        }

        await _app.DisposeAsync();
        _disposing.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _started);
        using var reader = new StreamReader(context.Request.Body);
        var raw = await reader.ReadToEndAsync(context.RequestAborted);

        if (Hang)
        {
            using var both = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _disposing.Token);
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, both.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        if (ResponseDelay > TimeSpan.Zero)
        {
            await Task.Delay(ResponseDelay, context.RequestAborted);
        }

        int status;
        lock (_gate)
        {
            if (_failNext > 0)
            {
                _failNext--;
                status = (int)_failStatus;
            }
            else
            {
                status = StatusCodes.Status200OK;
            }
        }

        JsonObject body;
        bool valid;
        try
        {
            body = JsonNode.Parse(raw) as JsonObject ?? [];
            valid = VerifySignature(body);
        }
        catch (JsonException)
        {
            body = [];
            valid = false;
        }

        var record = new ReceivedCallback(raw, body, context.Request.ContentType, valid, status);
        lock (_gate)
        {
            _requests.Add(record);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_requests.Count >= _waiters[i].Count)
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }

        context.Response.StatusCode = status;
    }

    private bool VerifySignature(JsonObject body)
    {
        if (body["Nonce"] is not JsonValue nonce || body["Timestamp"] is not JsonValue timestamp || body["Signature"] is not JsonValue signature)
        {
            return false;
        }

        // The signature covers the Timestamp's decimal text exactly as sent.
        var timestampText = timestamp.GetValueKind() == JsonValueKind.Number
            ? timestamp.ToJsonString()
            : timestamp.GetValue<string>();
        return nonce.TryGetValue<string>(out var nonceText)
            && signature.TryGetValue<string>(out var signatureText)
            && long.TryParse(timestampText, NumberStyles.None, CultureInfo.InvariantCulture, out _)
            && CallbackSignature.Verify(nonceText, timestampText, Secret, signatureText);
    }
}
