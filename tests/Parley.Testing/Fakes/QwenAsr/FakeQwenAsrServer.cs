// A fake of DashScope's Qwen-ASR-Realtime WebSocket (qwen3-asr-flash-realtime), written from Alibaba Cloud Model
// Studio's documentation: "Client events for Qwen-ASR-Realtime"
// (https://help.aliyun.com/en/model-studio/qwen-asr-realtime-client-events: session.update {input_audio_format pcm,
// sample_rate 16000, input_audio_transcription {language}, turn_detection null for manual mode},
// input_audio_buffer.append {audio base64}, input_audio_buffer.commit (manual mode only), session.finish) and "Server
// events for Qwen-ASR-Realtime" (https://www.alibabacloud.com/help/en/model-studio/qwen-asr-realtime-server-events:
// error {error{type, code, message, param}}, session.created, session.updated, input_audio_buffer.committed,
// conversation.item.input_audio_transcription.text {text, stash}, ….completed {transcript}); wss://dashscope.aliyuncs.com/
// api-ws/v1/realtime?model=…, Authorization: Bearer <api key> at the handshake (401 otherwise).
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Parley.Testing.Fakes.QwenAsr;

public sealed class FakeQwenAsrOptions
{
    public string ApiKey { get; set; } = "sk-fake-qwen";

    public string Transcript { get; set; } = "hello from the fake qwen recognizer";

    /// <summary>One partial (text + stash) per this much appended audio.</summary>
    public TimeSpan PartialInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan FinalDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>
/// A fake Qwen-ASR-Realtime endpoint on loopback: checks the bearer key and the model query, sends session.created,
/// requires session.update (manual mode, pcm, 16 kHz) before audio (else an invalid_request_error), decodes the base64
/// audio, answers partials while audio is appended and the transcript after each commit; can inject an error event or
/// drop the connection.
/// </summary>
public sealed class FakeQwenAsrServer : IAsyncDisposable
{
    public const string Path = "/api-ws/v1/realtime";

    private readonly LoopbackWebSocketHost _host;
    private readonly ConcurrentQueue<JsonObject> _sessionUpdates = new();
    private readonly ConcurrentQueue<string> _models = new();
    private readonly ConcurrentQueue<(string Code, string Type)> _errors = new();
    private long _accepted;
    private long _rejected;
    private long _audioBytes;
    private long _commits;
    private long _protocolErrors;
    private int _dropAfterBytes;

    private FakeQwenAsrServer(FakeQwenAsrOptions options, LoopbackWebSocketHost host)
    {
        Options = options;
        _host = host;
    }

    public FakeQwenAsrOptions Options { get; }

    /// <summary>For <c>Parley:Vendors:AliyunQwenASR:Url</c>.</summary>
    public string Url => "ws://" + _host.Authority + Path;

    public long ConnectionsAccepted => Interlocked.Read(ref _accepted);

    public long ConnectionsRejected => Interlocked.Read(ref _rejected);

    public long AudioBytesReceived => Interlocked.Read(ref _audioBytes);

    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Events out of order (audio before session.update, commit of an empty buffer, unknown types).</summary>
    public long ProtocolErrors => Interlocked.Read(ref _protocolErrors);

    public IReadOnlyList<JsonObject> SessionUpdates => [.. _sessionUpdates];

    public IReadOnlyList<string> Models => [.. _models];

    public static async Task<FakeQwenAsrServer> StartAsync(FakeQwenAsrOptions? options = null)
    {
        FakeQwenAsrServer? server = null;
        var host = await LoopbackWebSocketHost.StartAsync(context => server!.HandleAsync(context));
        server = new FakeQwenAsrServer(options ?? new FakeQwenAsrOptions(), host);
        return server;
    }

    /// <summary>The next appended audio is answered with an error event of this code and type.</summary>
    public void FailNext(string code, string type = "invalid_request_error") => _errors.Enqueue((code, type));

    /// <summary>The connection carrying the next audio is dropped after this many audio bytes.</summary>
    public void DropAfter(int bytes) => Volatile.Write(ref _dropAfterBytes, bytes);

    public ValueTask DisposeAsync() => _host.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path != Path || !context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (context.Request.Headers.Authorization.ToString() != "Bearer " + Options.ApiKey)
        {
            Interlocked.Increment(ref _rejected);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        var model = context.Request.Query["model"].ToString();
        if (model.Length == 0)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        _models.Enqueue(model);
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        Interlocked.Increment(ref _accepted);
        try
        {
            await RunAsync(socket, model, context.RequestAborted);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
        }
    }

    private async Task RunAsync(WebSocket socket, string model, CancellationToken token)
    {
        var events = 0;
        string Id() => "event_" + ++events;
        await SendAsync(socket, new JsonObject
        {
            ["event_id"] = Id(), ["type"] = "session.created",
            ["session"] = new JsonObject { ["id"] = "sess_fake", ["object"] = "realtime.session", ["model"] = model, ["input_audio_format"] = "pcm" },
        }, token);
        var buffer = new byte[256 * 1024];
        var updated = false;
        long bufferBytes = 0, sinceCommit = 0;
        var words = Options.Transcript.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var shown = 0;
        var perPartial = Math.Max(1, (long)Options.PartialInterval.TotalMilliseconds) * 32;
        var drop = -1;
        var item = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(), token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }

            var length = result.Count;
            while (!result.EndOfMessage)
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(length), token);
                length += result.Count;
            }

            var message = JsonNode.Parse(buffer.AsSpan(0, length))!.AsObject();
            var type = message["type"]?.GetValue<string>();
            switch (type)
            {
                case "session.update":
                    var session = message["session"] as JsonObject;
                    if (session is null || session["input_audio_format"]?.GetValue<string>() != "pcm" || session["sample_rate"]?.GetValue<int>() != 16000
                        || !session.ContainsKey("turn_detection") || session["turn_detection"] is not null)
                    {
                        await ErrorAsync(socket, Id(), "invalid_value", "invalid_request_error", "session.update must ask for pcm, 16000 Hz and manual mode", token);
                        continue;
                    }

                    _sessionUpdates.Enqueue((JsonObject)session.DeepClone());
                    updated = true;
                    await SendAsync(socket, new JsonObject { ["event_id"] = Id(), ["type"] = "session.updated", ["session"] = session.DeepClone() }, token);
                    break;
                case "input_audio_buffer.append" when updated:
                    var audio = Convert.FromBase64String(message["audio"]!.GetValue<string>());
                    if (drop < 0)
                    {
                        drop = Interlocked.Exchange(ref _dropAfterBytes, 0);
                    }

                    if (_errors.TryDequeue(out var error))
                    {
                        await ErrorAsync(socket, Id(), error.Code, error.Type, "fake failure", token);
                        continue;
                    }

                    bufferBytes += audio.Length;
                    sinceCommit += audio.Length;
                    Interlocked.Add(ref _audioBytes, audio.Length);
                    if (drop > 0 && bufferBytes >= drop)
                    {
                        socket.Abort();
                        return;
                    }

                    while (sinceCommit >= (shown + 1) * perPartial && shown < words.Length - 1)
                    {
                        shown++;
                        await SendAsync(socket, new JsonObject
                        {
                            ["event_id"] = Id(), ["type"] = "conversation.item.input_audio_transcription.text", ["item_id"] = "item_" + item,
                            ["content_index"] = 0, ["text"] = string.Join(' ', words[..Math.Max(0, shown - 1)]) + (shown > 1 ? " " : ""), ["stash"] = words[shown - 1],
                        }, token);
                    }

                    break;
                case "input_audio_buffer.commit" when updated && sinceCommit > 0:
                    Interlocked.Increment(ref _commits);
                    var itemId = "item_" + item++;
                    await SendAsync(socket, new JsonObject { ["event_id"] = Id(), ["type"] = "input_audio_buffer.committed", ["item_id"] = itemId }, token);
                    await Task.Delay(Options.FinalDelay, Options.TimeProvider, token);
                    await SendAsync(socket, new JsonObject
                    {
                        ["event_id"] = Id(), ["type"] = "conversation.item.input_audio_transcription.completed", ["item_id"] = itemId, ["content_index"] = 0,
                        ["transcript"] = Options.Transcript,
                    }, token);
                    sinceCommit = 0;
                    shown = 0;
                    break;
                default:
                    Interlocked.Increment(ref _protocolErrors);
                    await ErrorAsync(socket, Id(), "invalid_event", "invalid_request_error", $"unexpected {type}", token);
                    break;
            }
        }
    }

    private static Task ErrorAsync(WebSocket socket, string id, string code, string type, string message, CancellationToken token) =>
        SendAsync(socket, new JsonObject { ["event_id"] = id, ["type"] = "error", ["error"] = new JsonObject { ["type"] = type, ["code"] = code, ["message"] = message } }, token);

    private static Task SendAsync(WebSocket socket, JsonObject message, CancellationToken token) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, endOfMessage: true, token);
}
