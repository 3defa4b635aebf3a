// A fake MiniMax T2A v2 WebSocket endpoint, written from MiniMax's own documentation:
//   - https://platform.minimax.io/docs/api-reference/speech-t2a-websocket (events: connected_success, task_start →
//     task_started, task_continue → audio messages with data.audio (hex) and is_final, task_finish → task_finished and
//     the connection closes, task_failed → the client must close; several task_continue per task; 120 s idle close)
//   - https://platform.minimax.io/docs/api-reference/speech/t2a/api/asyncapi.json (host api.minimax.io / api.minimaxi.com,
//     path /ws/v1/t2a_v2, bearer authentication) and .../speech-t2a-websocket-bidi (message shapes, base_resp, extra_info)
//   - https://platform.minimax.io/docs/api-reference/errorcode (1002 rate limit, 1004 not authorized, 2013 invalid params)
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Parley.Testing.Fakes.MiniMax;

/// <summary>Behaviour of a <see cref="FakeMiniMaxServer"/>; may be changed while it runs.</summary>
public sealed class FakeMiniMaxOptions
{
    /// <summary>The key the handshake must carry as <c>Authorization: Bearer &lt;key&gt;</c>; otherwise HTTP 401.</summary>
    public string ApiKey { get; set; } = "fake-minimax-key";

    /// <summary>From a task_continue to its first audio message.</summary>
    public TimeSpan FirstAudio { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Audio per character of text.</summary>
    public TimeSpan AudioPerCharacter { get; set; } = TimeSpan.FromMilliseconds(60);

    /// <summary>Audio per message.</summary>
    public TimeSpan FrameDuration { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Pause between two audio messages (a slow server); zero = as fast as possible.</summary>
    public TimeSpan FrameGap { get; set; } = TimeSpan.Zero;

    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>
/// A fake MiniMax T2A v2 WebSocket server on 127.0.0.1 (Kestrel, random port): checks the bearer key, the event order
/// (task_start before task_continue, one task per connection, PCM mono asked for), answers every task_continue with a
/// 220 Hz tone as hex PCM in <c>data.audio</c> up to <c>is_final</c>; failures (task_failed with a base_resp code),
/// drops and slow frames can be injected. Records every event received, per connection.
/// </summary>
public sealed class FakeMiniMaxServer : IAsyncDisposable
{
    public const string Path = "/ws/v1/t2a_v2";

    private static readonly ConcurrentDictionary<int, byte[]> Tones = new();

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentQueue<(int Code, string Message)> _failures = new();
    private readonly ConcurrentDictionary<int, WebSocket> _open = new();
    private readonly List<JsonObject> _events = [];
    private int _dropNextContinue;
    private int _connectionIds;
    private long _accepted;
    private long _rejected;
    private long _taskStarts;

    private FakeMiniMaxServer(WebApplication app, FakeMiniMaxOptions options)
    {
        _app = app;
        Options = options;
    }

    public FakeMiniMaxOptions Options { get; }

    /// <summary><c>ws://127.0.0.1:port/ws/v1/t2a_v2</c>.</summary>
    public string Url { get; private set; } = "";

    public long ConnectionsAccepted => Interlocked.Read(ref _accepted);

    public long ConnectionsRejected => Interlocked.Read(ref _rejected);

    public long TaskStarts => Interlocked.Read(ref _taskStarts);

    /// <summary>The GroupId query of the last accepted handshake (legacy group_id), or null.</summary>
    public string? LastGroupId { get; private set; }

    /// <summary>Every event received (copies, with <c>_connection</c> added: the connection's number), in order.</summary>
    public IReadOnlyList<JsonObject> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events.Select(e => e.DeepClone().AsObject())];
            }
        }
    }

    public static async Task<FakeMiniMaxServer> StartAsync(FakeMiniMaxOptions? options = null, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeMiniMaxServer(app, options ?? new FakeMiniMaxOptions());
        app.UseWebSockets();
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = "ws://" + address.TrimEnd('/')["http://".Length..] + Path;
        return server;
    }

    /// <summary>The next task_start or task_continue is answered with task_failed carrying this base_resp.</summary>
    public void FailNext(int statusCode = 1000, string message = "unknown error") => _failures.Enqueue((statusCode, message));

    /// <summary>The next task_continue is not answered: the connection is aborted instead.</summary>
    public void DropNextContinue() => Interlocked.Exchange(ref _dropNextContinue, 1);

    /// <summary>Aborts every open connection (as MiniMax does with idle ones).</summary>
    public void DropAllConnections()
    {
        foreach (var socket in _open.Values)
        {
            socket.Abort();
        }
    }

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
        if (!context.Request.Path.Equals(Path, StringComparison.Ordinal) || !context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var authorization = context.Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal) || authorization["Bearer ".Length..] != Options.ApiKey)
        {
            Interlocked.Increment(ref _rejected);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        LastGroupId = context.Request.Query["GroupId"].FirstOrDefault();
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        Interlocked.Increment(ref _accepted);
        var id = Interlocked.Increment(ref _connectionIds);
        _open[id] = socket;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        try
        {
            await RunAsync(socket, id, linked.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
        }
        finally
        {
            _open.TryRemove(id, out _);
        }
    }

    private async Task RunAsync(WebSocket socket, int id, CancellationToken token)
    {
        var session = Guid.NewGuid().ToString("N");
        await SendAsync(socket, Event("connected_success", session), token);
        var started = false;
        var rate = 0;
        var buffer = new byte[256 * 1024];
        while (true)
        {
            var length = 0;
            WebSocketReceiveResult result;
            do
            {
                var r = await socket.ReceiveAsync(buffer.AsMemory(length), token);
                result = new WebSocketReceiveResult(r.Count, r.MessageType, r.EndOfMessage);
                length += result.Count;
            }
            while (!result.EndOfMessage && length < buffer.Length);

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }

            var message = JsonNode.Parse(buffer.AsSpan(0, length))!.AsObject();
            var name = message["event"]?.GetValue<string>();
            var copy = message.DeepClone().AsObject();
            copy["_connection"] = id;
            lock (_events)
            {
                _events.Add(copy);
            }

            switch (name)
            {
                case "task_start" when !started:
                    if (_failures.TryDequeue(out var failure))
                    {
                        await FailAsync(socket, session, failure.Code, failure.Message, token);
                        return;
                    }

                    var audioSetting = message["audio_setting"] as JsonObject;
                    rate = audioSetting?["sample_rate"]?.GetValue<int>() ?? 32000;
                    if (message["model"] is null || message["voice_setting"]?["voice_id"] is null
                        || audioSetting?["format"]?.GetValue<string>() != "pcm" || audioSetting["channel"]?.GetValue<int>() != 1)
                    {
                        await FailAsync(socket, session, 2013, "invalid params", token);
                        return;
                    }

                    started = true;
                    Interlocked.Increment(ref _taskStarts);
                    await SendAsync(socket, Event("task_started", session), token);
                    break;
                case "task_continue" when started:
                    if (Interlocked.Exchange(ref _dropNextContinue, 0) == 1)
                    {
                        socket.Abort();
                        return;
                    }

                    if (_failures.TryDequeue(out var f))
                    {
                        await FailAsync(socket, session, f.Code, f.Message, token);
                        return;
                    }

                    await SpeakAsync(socket, session, message["text"]?.GetValue<string>() ?? "", rate, token);
                    break;
                case "task_finish" when started:
                    await SendAsync(socket, Event("task_finished", session), token);
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, token);
                    return;
                default:
                    // Out of order (task_continue before task_started, a second task_start) or unknown.
                    await FailAsync(socket, session, 2013, "invalid params: unexpected event " + name, token);
                    return;
            }
        }
    }

    private async Task SpeakAsync(WebSocket socket, string session, string text, int rate, CancellationToken token)
    {
        await Task.Delay(Options.FirstAudio, Options.TimeProvider, token);
        var total = (int)(rate * Options.AudioPerCharacter.TotalSeconds * Math.Max(1, text.Length));
        var frame = Math.Max(1, (int)(rate * Options.FrameDuration.TotalSeconds));
        for (var sent = 0; sent < total; sent += frame)
        {
            var count = Math.Min(frame, total - sent);
            var tone = Tone(rate);
            var bytes = new byte[count * 2];
            for (var i = 0; i < count; i++)
            {
                var at = ((sent + i) % rate) * 2;
                bytes[i * 2] = tone[at];
                bytes[(i * 2) + 1] = tone[at + 1];
            }

            var hex = Convert.ToHexStringLower(bytes);
            var final = sent + count >= total;
            var message = Event("task_continued", session);
            message["data"] = new JsonObject { ["audio"] = hex };
            message["is_final"] = final;
            message["extra_info"] = new JsonObject { ["audio_sample_rate"] = rate, ["audio_format"] = "pcm", ["audio_channel"] = 1 };
            await SendAsync(socket, message, token);
            if (!final && Options.FrameGap > TimeSpan.Zero)
            {
                await Task.Delay(Options.FrameGap, Options.TimeProvider, token);
            }
        }
    }

    /// <summary>One second of a 220 Hz tone at <paramref name="rate"/>, PCM16 LE (loops seamlessly), cached per rate.</summary>
    private static byte[] Tone(int rate) => Tones.GetOrAdd(rate, static hz =>
    {
        var bytes = new byte[hz * 2];
        for (var i = 0; i < hz; i++)
        {
            var sample = (short)(9000 * Math.Sin(2 * Math.PI * 220 * i / hz));
            System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(i * 2), sample);
        }

        return bytes;
    });

    private static async Task FailAsync(WebSocket socket, string session, int code, string message, CancellationToken token)
    {
        var e = Event("task_failed", session);
        e["base_resp"] = new JsonObject { ["status_code"] = code, ["status_msg"] = message };
        await SendAsync(socket, e, token);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, token);
    }

    private static JsonObject Event(string name, string session) => new()
    {
        ["session_id"] = session,
        ["event"] = name,
        ["trace_id"] = Guid.NewGuid().ToString("N"),
        ["base_resp"] = new JsonObject { ["status_code"] = 0, ["status_msg"] = "success" },
    };

    private static Task SendAsync(WebSocket socket, JsonObject message, CancellationToken token) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, token);
}
