// A fake of Volcengine's speech endpoints, written from Volcengine's documentation (see FakeVolcFrames.cs for the
// frame layout sources):
// - TTS one-way streaming WebSocket V3, wss://openspeech.bytedance.com/api/v3/tts/unidirectional/stream
//   (docs 6561/1719100; headers X-Api-App-Id, X-Api-Access-Key, X-Api-Resource-Id; a full-client request with
//   req_params per sentence; TTSSentenceStart 350, TTSResponse 352, TTSSentenceEnd 351, SessionFinished 152 with
//   {"status_code":20000000}; several requests per connection; error codes 45000000 (permission, "quota exceeded for
//   types: concurrency"), 55000000).
// - TTS bidirectional WebSocket V3, wss://openspeech.bytedance.com/api/v3/tts/bidirection (docs 6561/1329505, as
//   indexed from Volcengine's page: StartConnection → ConnectionStarted, StartSession → SessionStarted, TaskRequest,
//   FinishSession → SessionFinished, FinishConnection → ConnectionFinished; sessions one after another on a
//   connection; enable_timestamp adds words {word,startTime,endTime} (seconds from the session start) to TTSSentenceEnd).
// - HTTP TTS, POST https://openspeech.bytedance.com/api/v1/tts ("Authorization: Bearer;token", {app,user,audio,request},
//   reply {code:3000, data: base64}; codes 3001 invalid, 3003 concurrency, 3031 processing error), as in the
//   documentation copy github.com/MatthewHA233/LingFlow 文档/大模型语音合成API--豆包语音-火山引擎.md and ZEGO's quick start.
// - Big-model streaming ASR, wss://openspeech.bytedance.com/api/v3/sauc/bigmodel[_async] (docs 6561/1354869;
//   X-Api-App-Key, X-Api-Access-Key, X-Api-Resource-Id; gzip JSON full client request, audio-only packets with
//   increasing sequence, the last with a negative one; responses {result:{text, utterances[{text,definite}]}}; one
//   request per connection).
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Parley.Testing.Fakes.Volcengine;

/// <summary>Behaviour of a <see cref="FakeVolcengineServer"/>; may be changed while it runs.</summary>
public sealed class FakeVolcengineOptions
{
    public string AppId { get; set; } = "fake-volc-app";

    public string AccessToken { get; set; } = "fake-volc-token";

    /// <summary>TTS: from the request (or the first text of a session) to its first audio.</summary>
    public TimeSpan TtsFirstAudio { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>TTS: audio per character of text.</summary>
    public TimeSpan TtsAudioPerCharacter { get; set; } = TimeSpan.FromMilliseconds(60);

    /// <summary>When positive, a TTS session's connection is dropped (no close handshake) after this many audio frames.</summary>
    public int DropAfterAudioFrames { get; set; }

    /// <summary>One-way TTS: close the connection right after each SessionFinished, as a server dropping idle connections.</summary>
    public bool DropAfterEachSession { get; set; }

    /// <summary>ASR: the text of every request that carried audio (partials are growing word prefixes).</summary>
    public string AsrTranscript { get; set; } = "hello from the fake volcengine recognizer";

    /// <summary>ASR: from the last packet to the final response.</summary>
    public TimeSpan AsrFinalDelay { get; set; } = TimeSpan.FromMilliseconds(50);
}

/// <summary>
/// A fake Volcengine speech service on 127.0.0.1 (random port) speaking the V3 binary protocols and the HTTP TTS:
/// checks authentication headers, the framing and the event order; injects error frames (<see cref="FailNext"/>),
/// slow answers (<see cref="FakeVolcengineOptions.TtsFirstAudio"/>) and mid-stream drops
/// (<see cref="FakeVolcengineOptions.DropAfterAudioFrames"/>). TTS audio is a 220 Hz tone.
/// </summary>
public sealed partial class FakeVolcengineServer : IAsyncDisposable
{
    public const string UnidirectionalPath = "/api/v3/tts/unidirectional/stream";
    public const string BidirectionalPath = "/api/v3/tts/bidirection";
    public const string HttpTtsPath = "/api/v1/tts";
    public const string AsrPath = "/api/v3/sauc/bigmodel";
    public const string AsrAsyncPath = "/api/v3/sauc/bigmodel_async";

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentQueue<(uint Code, string Message)> _failures = new();
    private readonly ConcurrentQueue<(uint Code, string Message)> _asrFailures = new();
    private readonly List<JsonObject> _requests = [];
    private readonly List<string> _protocolErrors = [];
    private readonly ConcurrentQueue<IReadOnlyDictionary<string, string>> _headers = new();
    private long _accepted;
    private long _rejected;
    private long _sessions;
    private long _sessionsFinished;
    private long _errorsSent;
    private long _audioBytesReceived;
    private long _audioBytesSent;
    private long _asrRequests;

    private FakeVolcengineServer(WebApplication app, FakeVolcengineOptions options)
    {
        _app = app;
        Options = options;
    }

    public FakeVolcengineOptions Options { get; }

    /// <summary><c>http://127.0.0.1:port</c>; the vendor URLs are this plus a path.</summary>
    public string BaseUrl { get; private set; } = "";

    public string UnidirectionalUrl => "ws" + BaseUrl[4..] + UnidirectionalPath;

    public string BidirectionalUrl => "ws" + BaseUrl[4..] + BidirectionalPath;

    public string HttpTtsUrl => BaseUrl + HttpTtsPath;

    public string AsrUrl => "ws" + BaseUrl[4..] + AsrPath;

    public long ConnectionsAccepted => Interlocked.Read(ref _accepted);

    /// <summary>Handshakes or HTTP requests refused for their credentials.</summary>
    public long ConnectionsRejected => Interlocked.Read(ref _rejected);

    /// <summary>TTS sessions started (one-way requests, bidirectional sessions, HTTP calls).</summary>
    public long TtsSessions => Interlocked.Read(ref _sessions);

    public long TtsSessionsFinished => Interlocked.Read(ref _sessionsFinished);

    public long AsrRequests => Interlocked.Read(ref _asrRequests);

    public long ErrorsSent => Interlocked.Read(ref _errorsSent);

    public long AudioBytesReceived => Interlocked.Read(ref _audioBytesReceived);

    public long AudioBytesSent => Interlocked.Read(ref _audioBytesSent);

    /// <summary>Every JSON request received (TTS requests and StartSession/TaskRequest payloads, ASR full client requests, HTTP bodies), in order.</summary>
    public IReadOnlyList<JsonObject> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests.Select(r => r.DeepClone().AsObject())];
            }
        }
    }

    /// <summary>Protocol violations the fake saw (wrong order, bad framing); a correct client leaves this empty.</summary>
    public IReadOnlyList<string> ProtocolErrors
    {
        get
        {
            lock (_protocolErrors)
            {
                return [.. _protocolErrors];
            }
        }
    }

    /// <summary>The request headers of every accepted connection or HTTP call (X-Api-*, Authorization).</summary>
    public IReadOnlyList<IReadOnlyDictionary<string, string>> Headers => [.. _headers];

    public static async Task<FakeVolcengineServer> StartAsync(FakeVolcengineOptions? options = null, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeVolcengineServer(app, options ?? new FakeVolcengineOptions());
        app.UseWebSockets();
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return server;
    }

    /// <summary>The next TTS session (any TTS vendor) or, with <paramref name="asr"/>, ASR request is answered with this error code and message.</summary>
    public void FailNext(uint code, string message, bool asr = false) => (asr ? _asrFailures : _failures).Enqueue((code, message));

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

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (path == HttpTtsPath)
        {
            await HandleHttpTtsAsync(context);
            return;
        }

        if (path is not (UnidirectionalPath or BidirectionalPath or AsrPath or AsrAsyncPath))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var asr = path is AsrPath or AsrAsyncPath;
        var appId = context.Request.Headers[asr ? "X-Api-App-Key" : "X-Api-App-Id"].ToString();
        var token = context.Request.Headers["X-Api-Access-Key"].ToString();
        var resource = context.Request.Headers["X-Api-Resource-Id"].ToString();
        if (appId != Options.AppId || token != Options.AccessToken || resource.Length == 0)
        {
            Interlocked.Increment(ref _rejected);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await context.Response.WriteAsync("""{"error":"invalid auth token"}""");
            return;
        }

        _headers.Enqueue(context.Request.Headers.Where(h => h.Key.StartsWith("X-Api-", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase));
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        Interlocked.Increment(ref _accepted);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, context.RequestAborted);
        try
        {
            var task = path switch
            {
                UnidirectionalPath => UnidirectionalAsync(socket, linked.Token),
                BidirectionalPath => BidirectionalAsync(socket, linked.Token),
                _ => AsrAsync(socket, linked.Token),
            };
            await task;
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
        }
        catch (InvalidDataException ex)
        {
            Violation("bad frame: " + ex.Message);
            socket.Abort();
        }
    }

    private void Record(JsonObject request)
    {
        lock (_requests)
        {
            _requests.Add(request.DeepClone().AsObject());
        }
    }

    private void Violation(string what)
    {
        lock (_protocolErrors)
        {
            _protocolErrors.Add(what);
        }
    }

    private bool TryTakeFailure(out (uint Code, string Message) failure, bool asr = false) => (asr ? _asrFailures : _failures).TryDequeue(out failure);

    private static async Task<byte[]?> ReceiveAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            if (result.MessageType != WebSocketMessageType.Binary)
            {
                throw new InvalidDataException("a text message (the V3 protocol is binary)");
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return message.ToArray();
            }
        }
    }

    private Task SendAsync(WebSocket socket, byte[] frame, CancellationToken cancellationToken) =>
        socket.SendAsync(frame, WebSocketMessageType.Binary, true, cancellationToken);

    private async Task SendErrorAsync(WebSocket socket, (uint Code, string Message) failure, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _errorsSent);
        await SendAsync(socket, FakeVolcCodec.ErrorFrame(failure.Code, failure.Message), cancellationToken);
    }

    /// <summary>PCM16 of a 220 Hz tone at <paramref name="rate"/>, <paramref name="samples"/> long, from sample <paramref name="start"/>.</summary>
    private static byte[] Tone(int rate, int start, int samples)
    {
        var bytes = new byte[samples * 2];
        for (var i = 0; i < samples; i++)
        {
            var t = (double)(start + i) / rate;
            var s = (short)(Math.Sin(2 * Math.PI * 220 * t) * 8000);
            bytes[2 * i] = (byte)s;
            bytes[(2 * i) + 1] = (byte)(s >> 8);
        }

        return bytes;
    }

    private static byte[] Json(JsonObject o) => Encoding.UTF8.GetBytes(o.ToJsonString());
}
