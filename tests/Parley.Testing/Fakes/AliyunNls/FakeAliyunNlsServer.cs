// A fake Alibaba Intelligent Speech Interaction (NLS) back end: the meta service's CreateToken and the WebSocket
// gateway's SpeechSynthesizer, written from Alibaba's own documentation:
//   - "Obtain a token using OpenAPI": https://help.aliyun.com/en/isi/getting-started/use-http-or-https-to-obtain-an-access-token
//     (http(s)://nls-meta.cn-shanghai.aliyuncs.com/, GET/POST, AccessKeyId, Action=CreateToken, Version=2019-02-28,
//     Format=JSON, RegionId=cn-shanghai, Timestamp, SignatureMethod=HMAC-SHA1, SignatureVersion=1.0, SignatureNonce,
//     Signature = Base64(HMAC-SHA1(secret + "&", METHOD&%2F&percentEncode(sorted canonical query)));
//     answer {"Token":{"Id","ExpireTime" (Unix s),"UserId"}} or {"Code","Message"} with an HTTP error)
//   - speech synthesis API reference and WebSocket protocol: https://help.aliyun.com/en/isi/user-guide/overview-of-speech-synthesis,
//     https://help.aliyun.com/zh/isi/developer-reference/streaming-text-tts-wss (wss://nls-gateway-cn-shanghai.aliyuncs.com/ws/v1,
//     token in the URL query, header {message_id, task_id, namespace, name, appkey}, payload {text, voice, format,
//     sample_rate, volume, speech_rate, pitch_rate, enable_subtitle}, binary audio, MetaInfo subtitles with
//     begin_time/end_time, SynthesisCompleted, TaskFailed with header.status/status_text, status 20000000 = success)
using System.Collections.Concurrent;
using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Parley.Testing.Fakes.AliyunNls;

/// <summary>Behaviour of a <see cref="FakeAliyunNlsServer"/>; may be changed while it runs.</summary>
public sealed class FakeAliyunNlsOptions
{
    public string AccessKeyId { get; set; } = "fake-ak-id";

    public string AccessKeySecret { get; set; } = "fake-ak-secret";

    public string AppKey { get; set; } = "fake-appkey";

    /// <summary>How long an issued token is valid.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Audio per character of text.</summary>
    public TimeSpan AudioPerCharacter { get; set; } = TimeSpan.FromMilliseconds(60);

    public TimeSpan FrameDuration { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>From StartSynthesis to the first audio frame.</summary>
    public TimeSpan FirstAudio { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Clock for token expiry and timestamps (tests pass a FakeTimeProvider).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Clock for latencies (real time by default, so a FakeTimeProvider for tokens does not stall audio).</summary>
    public TimeProvider DelayTimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>
/// Fake NLS meta (POST/GET <c>/</c>: CreateToken with the POP signature recomputed and checked, nonces never reused,
/// timestamps within 15 minutes) and gateway (<c>/ws/v1</c>: the token must be one issued and unexpired, the
/// StartSynthesis header and payload well formed; audio is a 220 Hz tone in binary frames at the asked rate, then a
/// MetaInfo with one subtitle per character and SynthesisCompleted). TaskFailed and revoked tokens can be injected.
/// </summary>
public sealed class FakeAliyunNlsServer : IAsyncDisposable
{
    public const string GatewayPath = "/ws/v1";

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _tokens = new();
    private readonly ConcurrentDictionary<string, byte> _nonces = new();
    private readonly ConcurrentQueue<(int Status, string Text)> _failures = new();
    private readonly List<JsonObject> _starts = [];
    private readonly List<WaitingConnection> _waiting = [];
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _closedWaiting;
    private long _tokensIssued;
    private long _tokenRefusals;
    private long _connections;

    private FakeAliyunNlsServer(WebApplication app, FakeAliyunNlsOptions options)
    {
        _app = app;
        Options = options;
    }

    public FakeAliyunNlsOptions Options { get; }

    /// <summary>The gateway: <c>ws://127.0.0.1:port/ws/v1</c>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>The meta service: <c>http://127.0.0.1:port/</c>.</summary>
    public string TokenUrl { get; private set; } = "";

    public long TokensIssued => Interlocked.Read(ref _tokensIssued);

    /// <summary>CreateToken calls refused (bad signature, unknown key, replayed nonce, stale timestamp).</summary>
    public long TokenRefusals => Interlocked.Read(ref _tokenRefusals);

    public long GatewayConnections => Interlocked.Read(ref _connections);

    /// <summary>Connections closed by <see cref="CloseWaitingConnectionsAsync"/> before they carried a task.</summary>
    public long ClosedWaiting => Interlocked.Read(ref _closedWaiting);

    /// <summary>The last refusal reason (for assertions).</summary>
    public string? LastRefusal { get; private set; }

    /// <summary>Every StartSynthesis received (copies), in order.</summary>
    public IReadOnlyList<JsonObject> Starts
    {
        get
        {
            lock (_starts)
            {
                return [.. _starts.Select(s => s.DeepClone().AsObject())];
            }
        }
    }

    public static async Task<FakeAliyunNlsServer> StartAsync(FakeAliyunNlsOptions? options = null, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeAliyunNlsServer(app, options ?? new FakeAliyunNlsOptions());
        app.UseWebSockets();
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        server.TokenUrl = address + "/";
        server.Url = "ws://" + address["http://".Length..] + GatewayPath;
        return server;
    }

    /// <summary>The next StartSynthesis is answered with TaskFailed carrying this status.</summary>
    public void FailNextTask(int status = 50000000, string text = "SERVER_ERROR") => _failures.Enqueue((status, text));

    /// <summary>
    /// Waits (at most <paramref name="timeout"/>) until <paramref name="count"/> gateway connections are open without a
    /// StartSynthesis yet, then closes them from the gateway's side (a close frame, as a gateway does to a connection
    /// idle too long) and returns once the close frames are sent. Whatever the client sends on them afterwards is not
    /// answered.
    /// </summary>
    public async Task CloseWaitingConnectionsAsync(int count, TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        List<WaitingConnection> closing;
        while (true)
        {
            Task arrived;
            lock (_waiting)
            {
                if (_waiting.Count >= count)
                {
                    closing = [.. _waiting];
                    _waiting.Clear();
                    break;
                }

                arrived = _arrived.Task;
            }

            await arrived.WaitAsync(limit.Token);
        }

        foreach (var connection in closing)
        {
            connection.CloseRequested.TrySetResult();
        }

        await Task.WhenAll(closing.Select(c => c.Closed.Task)).WaitAsync(limit.Token);
    }

    /// <summary>Forgets every issued token (the gateway refuses them from now on).</summary>
    public void RevokeTokens() => _tokens.Clear();

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            try
            {
                await _app.StopAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await _app.DisposeAsync();
        _stopping.Dispose();
    }

    private Task HandleAsync(HttpContext context) =>
        context.Request.Path.Equals(GatewayPath, StringComparison.Ordinal) ? GatewayAsync(context)
        : context.Request.Path.Equals("/", StringComparison.Ordinal) ? CreateTokenAsync(context)
        : NotFound(context);

    private static Task NotFound(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    private async Task CreateTokenAsync(HttpContext context)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in context.Request.Query)
        {
            parameters[k] = v.ToString();
        }

        if (context.Request.HasFormContentType)
        {
            foreach (var (k, v) in await context.Request.ReadFormAsync())
            {
                parameters[k] = v.ToString();
            }
        }

        string? Get(string name) => parameters.TryGetValue(name, out var value) ? value : null;
        var now = Options.TimeProvider.GetUtcNow();
        string? refusal = null;
        var status = StatusCodes.Status400BadRequest;
        if (Get("Action") != "CreateToken" || Get("Version") != "2019-02-28" || Get("Format") != "JSON" || Get("RegionId") is null
            || Get("SignatureMethod") != "HMAC-SHA1" || Get("SignatureVersion") != "1.0")
        {
            refusal = "MissingParameter";
        }
        else if (Get("AccessKeyId") != Options.AccessKeyId)
        {
            refusal = "InvalidAccessKeyId.NotFound";
            status = StatusCodes.Status404NotFound;
        }
        else if (!DateTimeOffset.TryParseExact(Get("Timestamp"), "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var stamp)
            || (now - stamp).Duration() > TimeSpan.FromMinutes(15))
        {
            refusal = "InvalidTimeStamp.Expired";
        }
        else if (Get("SignatureNonce") is not { Length: > 0 } nonce || !_nonces.TryAdd(nonce, 0))
        {
            refusal = "SignatureNonceUsed";
        }
        else if (Get("Signature") != Signature(context.Request.Method, parameters, Options.AccessKeySecret))
        {
            refusal = "SignatureDoesNotMatch";
        }

        if (refusal is not null)
        {
            Interlocked.Increment(ref _tokenRefusals);
            LastRefusal = refusal;
            context.Response.StatusCode = status;
            await context.Response.WriteAsJsonAsync(new JsonObject { ["RequestId"] = Guid.NewGuid().ToString(), ["Code"] = refusal, ["Message"] = refusal });
            return;
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var expires = now + Options.TokenLifetime;
        _tokens[id] = expires;
        Interlocked.Increment(ref _tokensIssued);
        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["NlsRequestId"] = Guid.NewGuid().ToString("N"),
            ["RequestId"] = Guid.NewGuid().ToString(),
            ["Token"] = new JsonObject { ["ExpireTime"] = expires.ToUnixTimeSeconds(), ["Id"] = id, ["UserId"] = "123456" },
        });
    }

    /// <summary>The POP signature, computed here from the documented algorithm (independently of Parley's code).</summary>
    private static string Signature(string method, Dictionary<string, string> parameters, string secret)
    {
        static string Encode(string s) => Uri.EscapeDataString(s); // RFC 3986 unreserved kept, the rest %XX upper-case
        var canonical = string.Join("&", parameters.Where(p => p.Key != "Signature").OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Encode(p.Key) + "=" + Encode(p.Value)));
        var toSign = method.ToUpperInvariant() + "&" + Encode("/") + "&" + Encode(canonical);
        return Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret + "&"), Encoding.UTF8.GetBytes(toSign)));
    }

    private async Task GatewayAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var token = context.Request.Query["token"].ToString();
        if (token.Length == 0)
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        Interlocked.Increment(ref _connections);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        try
        {
            await SynthesizeAsync(socket, token, linked.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
        }
    }

    private async Task SynthesizeAsync(WebSocket socket, string token, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        var waiting = new WaitingConnection();
        lock (_waiting)
        {
            _waiting.Add(waiting);
            _arrived.TrySetResult();
            _arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        var receiving = socket.ReceiveAsync(buffer.AsMemory(), ct).AsTask();
        if (await Task.WhenAny(receiving, waiting.CloseRequested.Task) != receiving)
        {
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "idle timeout", ct);
            Interlocked.Increment(ref _closedWaiting);
            waiting.Closed.TrySetResult();
            await ((Task)receiving).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // a StartSynthesis sent after the close is not answered
            return;
        }

        lock (_waiting)
        {
            _waiting.Remove(waiting);
        }

        var received = await receiving;
        if (received.MessageType != WebSocketMessageType.Text)
        {
            return;
        }

        var message = JsonNode.Parse(buffer.AsSpan(0, received.Count))!.AsObject();
        lock (_starts)
        {
            _starts.Add(message.DeepClone().AsObject());
        }

        var header = message["header"] as JsonObject;
        var payload = message["payload"] as JsonObject;
        var taskId = header?["task_id"]?.GetValue<string>() ?? "";
        var valid = !_tokens.TryGetValue(token, out var expires) || Options.TimeProvider.GetUtcNow() >= expires
            ? (40000001, $"Gateway:ACCESS_DENIED:The token '{token}' is invalid!")
            : header?["namespace"]?.GetValue<string>() != "SpeechSynthesizer" || header["name"]?.GetValue<string>() != "StartSynthesis"
              || header["message_id"]?.GetValue<string>() is not { Length: 32 } || taskId.Length != 32
                ? (40000002, "Gateway:MESSAGE_INVALID:bad header")
                : header["appkey"]?.GetValue<string>() != Options.AppKey
                    ? (40020105, "Meta:APPKEY_NOT_EXIST:Appkey not exist!")
                    : payload?["text"]?.GetValue<string>() is not { Length: > 0 } || payload["format"]?.GetValue<string>() != "pcm"
                        ? (40000003, "Gateway:PARAMETER_INVALID:bad payload")
                        : _failures.TryDequeue(out var failure) ? failure : (0, "");
        if (valid.Item1 != 0)
        {
            await SendAsync(socket, Event("TaskFailed", taskId, valid.Item1, valid.Item2), ct);
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct);
            return;
        }

        var text = payload!["text"]!.GetValue<string>();
        var rate = payload["sample_rate"]?.GetValue<int>() ?? 16000;
        await Task.Delay(Options.FirstAudio, Options.DelayTimeProvider, ct);
        var perChar = Options.AudioPerCharacter;
        var total = (int)(rate * perChar.TotalSeconds * text.Length);
        var frame = Math.Max(1, (int)(rate * Options.FrameDuration.TotalSeconds));
        var bytes = new byte[frame * 2];
        for (var sent = 0; sent < total; sent += frame)
        {
            var count = Math.Min(frame, total - sent);
            for (var i = 0; i < count; i++)
            {
                var sample = (short)(9000 * Math.Sin(2 * Math.PI * 220 * (sent + i) / rate));
                System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(i * 2), sample);
            }

            await socket.SendAsync(bytes.AsMemory(0, count * 2), WebSocketMessageType.Binary, true, ct);
        }

        if (payload["enable_subtitle"]?.GetValue<bool>() == true)
        {
            var subtitles = new JsonArray();
            for (var i = 0; i < text.Length; i++)
            {
                subtitles.Add(new JsonObject
                {
                    ["text"] = text[i].ToString(),
                    ["begin_index"] = i,
                    ["end_index"] = i + 1,
                    ["begin_time"] = (long)(perChar.TotalMilliseconds * i),
                    ["end_time"] = (long)(perChar.TotalMilliseconds * (i + 1)),
                    ["sentence"] = false,
                    ["phoneme_list"] = new JsonArray(),
                });
            }

            var meta = Event("MetaInfo", taskId, 20000000, "GATEWAY|SUCCESS|Success.");
            meta["payload"] = new JsonObject { ["subtitles"] = subtitles };
            await SendAsync(socket, meta, ct);
        }

        await SendAsync(socket, Event("SynthesisCompleted", taskId, 20000000, "GATEWAY|SUCCESS|Success."), ct);
        var close = await socket.ReceiveAsync(buffer.AsMemory(), ct); // the client closes
        if (close.MessageType == WebSocketMessageType.Close)
        {
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct);
        }
    }

    private static JsonObject Event(string name, string taskId, int status, string text) => new()
    {
        ["header"] = new JsonObject
        {
            ["message_id"] = Guid.NewGuid().ToString("N"),
            ["task_id"] = taskId,
            ["namespace"] = "SpeechSynthesizer",
            ["name"] = name,
            ["status"] = status,
            ["status_text"] = text,
        },
    };

    private static Task SendAsync(WebSocket socket, JsonObject message, CancellationToken ct) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, ct);

    private sealed class WaitingConnection
    {
        public TaskCompletionSource CloseRequested { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
