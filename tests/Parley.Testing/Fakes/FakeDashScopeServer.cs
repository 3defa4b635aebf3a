using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Parley.Testing.Fakes;

/// <summary>Behaviour of a <see cref="FakeDashScopeServer"/>; properties may be changed while it runs (read per task).</summary>
public sealed class FakeDashScopeOptions
{
    /// <summary>The API key the handshake must carry (<c>Authorization: bearer &lt;key&gt;</c>); anything else gets HTTP 401.</summary>
    public string ApiKey { get; set; } = "fake-dashscope-key";

    /// <summary>TTS: from the first continue-task of a task to its first binary audio frame.</summary>
    public TimeSpan TtsFirstAudio { get; set; } = TimeSpan.FromMilliseconds(150);

    /// <summary>TTS: audio produced per character of text (the speech's duration is proportional to the text).</summary>
    public TimeSpan TtsAudioPerCharacter { get; set; } = TimeSpan.FromMilliseconds(60);

    /// <summary>TTS: how many times faster than real time audio is produced after the first frame; 0 = no pacing.</summary>
    public double TtsRealTimeFactor { get; set; } = 10;

    /// <summary>TTS: audio per binary frame.</summary>
    public TimeSpan TtsFrameDuration { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>ASR: from finish-task to the final sentence and task-finished.</summary>
    public TimeSpan AsrFinalDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>ASR: the text recognised in every task that carried audio (partials are growing word prefixes of it).</summary>
    public string AsrTranscript { get; set; } = "hello from the fake recognizer";

    /// <summary>ASR: one partial result per this much received audio.</summary>
    public TimeSpan AsrPartialInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>When positive, run-task is answered with one text message of this many bytes (a hostile or broken endpoint).</summary>
    public long OversizedEventBytes { get; set; }

    /// <summary>Clock for the latencies (tests may pass a FakeTimeProvider).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>
/// A fake Alibaba DashScope WebSocket inference endpoint (Kestrel on 127.0.0.1, random port) speaking the real
/// protocol of CosyVoice TTS and Paraformer real-time ASR: JSON run-task / continue-task / finish-task in, task-started /
/// result-generated / task-finished / task-failed out, PCM audio as binary frames both ways, sequential tasks per
/// connection, task-failed closes the connection. Latencies are fixed by <see cref="FakeDashScopeOptions"/>; TTS audio
/// is a 220 Hz tone with a 2 Hz envelope (clearly not silence). Cheap per connection: no per-frame allocations (audio
/// frames are slices of a cached tone table), async throughout, timers from the options' TimeProvider.
/// </summary>
public sealed class FakeDashScopeServer : IAsyncDisposable
{
    public const string Path = "/api-ws/v1/inference";

    private static readonly ConcurrentDictionary<int, byte[]> Tones = new();
    private static readonly int[] TtsSampleRates = [8000, 16000, 22050, 24000, 44100, 48000];

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentQueue<(string Code, string Message)> _failures = new();
    private long _connectionsAccepted;
    private long _connectionsRejected;
    private long _openConnections;
    private long _ttsTasks;
    private long _asrTasks;
    private long _tasksFinished;
    private long _tasksFailed;
    private long _audioBytesReceived;
    private long _audioBytesSent;
    private CountingTransport _transport = null!;
    private JsonObject? _lastRunTask;
    private readonly List<JsonObject> _runTasks = [];

    private FakeDashScopeServer(WebApplication app, FakeDashScopeOptions options)
    {
        _app = app;
        Options = options;
    }

    public FakeDashScopeOptions Options { get; }

    /// <summary>The endpoint for <c>Parley:Vendors:DashScope:Url</c>: <c>ws://127.0.0.1:port/api-ws/v1/inference</c>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>WebSocket connections accepted (handshakes with the right key).</summary>
    public long ConnectionsAccepted => Interlocked.Read(ref _connectionsAccepted);

    /// <summary>Handshakes refused with 401 (wrong or missing key).</summary>
    public long ConnectionsRejected => Interlocked.Read(ref _connectionsRejected);

    public long OpenConnections => Interlocked.Read(ref _openConnections);

    /// <summary>Tasks answered with task-started (TTS and ASR).</summary>
    public long TasksStarted => TtsTasksStarted + AsrTasksStarted;

    public long TtsTasksStarted => Interlocked.Read(ref _ttsTasks);

    public long AsrTasksStarted => Interlocked.Read(ref _asrTasks);

    public long TasksFinished => Interlocked.Read(ref _tasksFinished);

    public long TasksFailed => Interlocked.Read(ref _tasksFailed);

    /// <summary>ASR audio bytes received in binary frames.</summary>
    public long AudioBytesReceived => Interlocked.Read(ref _audioBytesReceived);

    /// <summary>TTS audio bytes sent in binary frames.</summary>
    public long AudioBytesSent => Interlocked.Read(ref _audioBytesSent);

    /// <summary>Bytes handed to the sockets (all connections): what clients could have received.</summary>
    public long TransportBytesSent => _transport.BytesSent;

    /// <summary>A copy of the last well-formed run-task received (for shape assertions).</summary>
    public JsonObject? LastRunTask => Volatile.Read(ref _lastRunTask)?.DeepClone().AsObject();

    /// <summary>Every run-task received, in order (copies).</summary>
    public IReadOnlyList<JsonObject> RunTasks
    {
        get
        {
            lock (_runTasks)
            {
                return [.. _runTasks.Select(t => t.DeepClone().AsObject())];
            }
        }
    }

    public static async Task<FakeDashScopeServer> StartAsync(FakeDashScopeOptions? options = null, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var transport = new CountingTransport();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0, transport.Apply));
        var app = builder.Build();
        var server = new FakeDashScopeServer(app, options ?? new FakeDashScopeOptions()) { _transport = transport };
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = "ws://" + address.TrimEnd('/')["http://".Length..] + Path;
        return server;
    }

    /// <summary>The next run-task (of either kind) is answered with task-failed carrying this code and message.</summary>
    public void FailNextTask(string errorCode = "InternalError", string errorMessage = "fake failure")
        => _failures.Enqueue((errorCode, errorMessage));

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
        if (!context.Request.Path.Equals(Path, StringComparison.Ordinal) && !context.Request.Path.Equals(Path + "/", StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var authorization = context.Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("bearer ", StringComparison.OrdinalIgnoreCase)
            || !string.Equals(authorization["bearer ".Length..].Trim(), Options.ApiKey, StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _connectionsRejected);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"code":"InvalidApiKey","message":"Invalid API-key provided."}""");
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        Interlocked.Increment(ref _connectionsAccepted);
        Interlocked.Increment(ref _openConnections);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var connection = new Connection(this, socket);
        try
        {
            await connection.RunAsync(linked.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
        }
        finally
        {
            await connection.StopAsync();
            Interlocked.Decrement(ref _openConnections);
        }
    }

    /// <summary>One second of a 220 Hz tone under a 2 Hz envelope at <paramref name="rate"/>, PCM16 LE (loops seamlessly).</summary>
    private static byte[] Tone(int rate) => Tones.GetOrAdd(rate, static hz =>
    {
        var bytes = new byte[hz * 2];
        for (var i = 0; i < hz; i++)
        {
            var t = (double)i / hz;
            var envelope = 0.25 + (0.75 * Math.Abs(Math.Sin(2 * Math.PI * t)));
            var sample = (short)(9000 * envelope * Math.Sin(2 * Math.PI * 220 * t));
            System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(i * 2), sample);
        }

        return bytes;
    });

    /// <summary>One accepted WebSocket: runs its tasks one after another.</summary>
    private sealed class Connection(FakeDashScopeServer server, WebSocket socket)
    {
        private readonly SemaphoreSlim _sending = new(1, 1);
        private readonly ArrayBufferWriter<byte> _json = new(512);
        private readonly CancellationTokenSource _closing = new();
        private TaskState? _current;
        private Task _background = Task.CompletedTask;

        private FakeDashScopeOptions Options => server.Options;

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
            var token = linked.Token;
            var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
            try
            {
                while (!token.IsCancellationRequested)
                {
                    var result = await socket.ReceiveAsync(buffer.AsMemory(), token);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, token);
                        return;
                    }

                    var length = result.Count;
                    while (!result.EndOfMessage)
                    {
                        if (length == buffer.Length)
                        {
                            var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                            buffer.AsSpan(0, length).CopyTo(larger);
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = larger;
                        }

                        result = await socket.ReceiveAsync(buffer.AsMemory(length), token);
                        length += result.Count;
                    }

                    if (result.MessageType == WebSocketMessageType.Binary)
                    {
                        await OnAudioAsync(length, token);
                    }
                    else
                    {
                        await OnCommandAsync(buffer.AsMemory(0, length), token);
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        public async Task StopAsync()
        {
            await _closing.CancelAsync();
            await _background.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        private async Task OnCommandAsync(ReadOnlyMemory<byte> json, CancellationToken token)
        {
            JsonObject? command;
            try
            {
                command = JsonNode.Parse(json.Span) as JsonObject;
            }
            catch (JsonException)
            {
                command = null;
            }

            var header = command?["header"] as JsonObject;
            var action = Str(header?["action"]);
            var taskId = Str(header?["task_id"]) ?? "";
            if (command is null || header is null || action is null || taskId.Length == 0 || Str(header["streaming"]) != "duplex")
            {
                await FailAsync(taskId, "InvalidParameter", "Missing or invalid header: action, task_id and streaming=duplex are required.", token);
                return;
            }

            var payload = command["payload"] as JsonObject;
            switch (action)
            {
                case "run-task":
                    await RunTaskAsync(command, taskId, payload, token);
                    break;
                case "continue-task" when Volatile.Read(ref _current) is { Id: var id, Tts: { } tts } && id == taskId:
                    var text = Str(payload?["input"]?["text"]);
                    if (text is null)
                    {
                        await FailAsync(taskId, "InvalidParameter", "continue-task requires payload.input.text.", token);
                        return;
                    }

                    tts.Add(text);
                    if (!tts.Generating)
                    {
                        tts.Generating = true;
                        _background = GenerateAsync(taskId, tts, token);
                    }

                    break;
                case "finish-task" when Volatile.Read(ref _current) is { } current && current.Id == taskId && !current.Finishing:
                    current.Finishing = true;
                    if (current.Tts is { } synthesis)
                    {
                        synthesis.Finish();
                        if (!synthesis.Generating)
                        {
                            synthesis.Generating = true;
                            _background = GenerateAsync(taskId, synthesis, token);
                        }
                    }
                    else
                    {
                        _background = FinishRecognitionAsync(current, token);
                    }

                    break;
                default:
                    await FailAsync(taskId, "InvalidParameter", $"Unexpected {action} for task {taskId}.", token);
                    break;
            }
        }

        private async Task RunTaskAsync(JsonObject command, string taskId, JsonObject? payload, CancellationToken token)
        {
            if (Volatile.Read(ref _current) is not null)
            {
                await FailAsync(taskId, "InvalidParameter", "A task is already running on this connection.", token);
                return;
            }

            var kind = Str(payload?["task"]);
            var parameters = payload?["parameters"] as JsonObject;
            var error = payload is null || Str(payload["task_group"]) != "audio" || payload["input"] is not JsonObject || parameters is null
                    || string.IsNullOrEmpty(Str(payload["model"]))
                ? "run-task needs payload.task_group=audio, payload.model, payload.input {} and payload.parameters {}."
                : kind switch
                {
                    "tts" when Str(payload["function"]) != "SpeechSynthesizer" => "TTS run-task needs function=SpeechSynthesizer.",
                    "tts" when string.IsNullOrEmpty(Str(parameters["voice"])) => "TTS run-task needs parameters.voice.",
                    "tts" when Str(parameters["format"]) != "pcm" => "This fake synthesises parameters.format=pcm only.",
                    "tts" when !(parameters["sample_rate"] is JsonValue r && r.TryGetValue<int>(out var hz) && TtsSampleRates.Contains(hz)) => "TTS run-task needs a supported parameters.sample_rate.",
                    "asr" when Str(payload["function"]) != "recognition" => "ASR run-task needs function=recognition.",
                    "asr" when Str(parameters["format"]) != "pcm" => "This fake recognises parameters.format=pcm only.",
                    "asr" when !(parameters["sample_rate"] is JsonValue r && r.TryGetValue<int>(out var hz) && hz == 16000) => "ASR run-task needs parameters.sample_rate=16000.",
                    "tts" or "asr" => null,
                    _ => "payload.task must be tts or asr.",
                };
            if (error is not null)
            {
                await FailAsync(taskId, "InvalidParameter", error, token);
                return;
            }

            if (server._failures.TryDequeue(out var failure))
            {
                await FailAsync(taskId, failure.Code, failure.Message, token);
                return;
            }

            if (Options.OversizedEventBytes > 0)
            {
                await SendOversizedAsync(Options.OversizedEventBytes, token);
                return;
            }

            Volatile.Write(ref server._lastRunTask, command);
            lock (server._runTasks)
            {
                server._runTasks.Add(command);
            }
            var state = kind == "tts"
                ? new TaskState(taskId, new Synthesis(parameters!["sample_rate"]!.GetValue<int>()))
                : new TaskState(taskId, null);
            Volatile.Write(ref _current, state);
            Interlocked.Increment(ref kind == "tts" ? ref server._ttsTasks : ref server._asrTasks);
            await SendEventAsync(taskId, "task-started", 0, static (_, _) => { }, token);
        }

        private async Task OnAudioAsync(int length, CancellationToken token)
        {
            var current = Volatile.Read(ref _current);
            if (current is null || current.Tts is not null || current.Finishing)
            {
                await FailAsync(current?.Id ?? "", "InvalidParameter", "Binary audio outside a running recognition task.", token);
                return;
            }

            Interlocked.Add(ref server._audioBytesReceived, length);
            current.AudioBytes += length;
            var interval = Math.Max(1, (long)Options.AsrPartialInterval.TotalMilliseconds) * 32;
            if (current.AudioBytes / interval > current.Partials)
            {
                current.Partials++;
                var words = Options.AsrTranscript.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var partial = string.Join(' ', words.Take((int)Math.Min(words.Length, current.Partials)));
                await SendSentenceAsync(current, partial, sentenceEnd: false, token);
            }
        }

        private async Task FinishRecognitionAsync(TaskState task, CancellationToken token)
        {
            await Task.Delay(Options.AsrFinalDelay, Options.TimeProvider, token);
            if (task.AudioBytes > 0)
            {
                await SendSentenceAsync(task, Options.AsrTranscript, sentenceEnd: true, token);
            }

            await EndTaskAsync(task.Id, token);
        }

        private async Task GenerateAsync(string taskId, Synthesis tts, CancellationToken token)
        {
            var time = Options.TimeProvider;
            await Task.Delay(Options.TtsFirstAudio, time, token);
            var tone = Tone(tts.SampleRate);
            var perCharacter = (long)(Options.TtsAudioPerCharacter.TotalSeconds * tts.SampleRate);
            var frame = Math.Max(1, (int)(Options.TtsFrameDuration.TotalSeconds * tts.SampleRate));
            var factor = Options.TtsRealTimeFactor;
            await SendEventAsync(taskId, "result-generated", tts.Characters, static (w, chars) =>
            {
                w.WriteStartObject("output");
                w.WriteStartObject("sentence");
                w.WriteNumber("index", 0);
                w.WriteStartArray("words");
                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteStartObject("usage");
                w.WriteNumber("characters", chars);
                w.WriteEndObject();
            }, token);
            var started = time.GetTimestamp();
            long sent = 0;
            while (true)
            {
                var target = tts.Characters * perCharacter;
                if (sent < target)
                {
                    if (factor > 0)
                    {
                        var due = TimeSpan.FromSeconds(sent / (tts.SampleRate * factor)) - time.GetElapsedTime(started);
                        if (due > TimeSpan.FromMilliseconds(1))
                        {
                            await Task.Delay(due, time, token);
                        }
                    }

                    var at = (int)(sent % tts.SampleRate);
                    var n = (int)Math.Min(Math.Min(frame, target - sent), tts.SampleRate - at);
                    await SendAsync(tone.AsMemory(at * 2, n * 2), WebSocketMessageType.Binary, token);
                    Interlocked.Add(ref server._audioBytesSent, n * 2);
                    sent += n;
                    continue;
                }

                if (tts.IsFinished)
                {
                    break;
                }

                await tts.Changed.WaitAsync(token);
            }

            await EndTaskAsync(taskId, token);
        }

        private async Task EndTaskAsync(string taskId, CancellationToken token)
        {
            Volatile.Write(ref _current, null);
            Interlocked.Increment(ref server._tasksFinished);
            await SendEventAsync(taskId, "task-finished", 0, static (w, _) =>
            {
                w.WriteStartObject("output");
                w.WriteEndObject();
            }, token);
        }

        private Task SendSentenceAsync(TaskState task, string text, bool sentenceEnd, CancellationToken token)
        {
            var endMs = task.AudioBytes / 32;
            return SendEventAsync(task.Id, "result-generated", (text, sentenceEnd, endMs), static (w, s) =>
            {
                w.WriteStartObject("output");
                w.WriteStartObject("sentence");
                w.WriteNumber("begin_time", 0);
                if (s.sentenceEnd)
                {
                    w.WriteNumber("end_time", s.endMs);
                }
                else
                {
                    w.WriteNull("end_time");
                }

                w.WriteString("text", s.text);
                w.WriteBoolean("heartbeat", false);
                w.WriteBoolean("sentence_end", s.sentenceEnd);
                w.WriteStartArray("words");
                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteEndObject();
                if (s.sentenceEnd)
                {
                    w.WriteStartObject("usage");
                    w.WriteNumber("duration", Math.Max(1, (s.endMs + 999) / 1000));
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNull("usage");
                }
            }, token);
        }

        /// <summary>task-failed, then the connection is closed (as DashScope does).</summary>
        private async Task FailAsync(string taskId, string code, string message, CancellationToken token)
        {
            Interlocked.Increment(ref server._tasksFailed);
            Volatile.Write(ref _current, null);
            await SendEventAsync(taskId, "task-failed", 0, static (_, _) => { }, token, code, message);
            await _sending.WaitAsync(token);
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "task failed", token);
            }
            finally
            {
                _sending.Release();
            }

            await _closing.CancelAsync();
        }

        private async Task SendEventAsync<TState>(
            string taskId, string name, TState state, Action<Utf8JsonWriter, TState> writePayload, CancellationToken token, string? errorCode = null, string? errorMessage = null)
        {
            await _sending.WaitAsync(token);
            try
            {
                _json.ResetWrittenCount();
                using (var w = new Utf8JsonWriter(_json))
                {
                    w.WriteStartObject();
                    w.WriteStartObject("header");
                    w.WriteString("task_id", taskId);
                    w.WriteString("event", name);
                    if (errorCode is not null)
                    {
                        w.WriteString("error_code", errorCode);
                        w.WriteString("error_message", errorMessage);
                    }

                    w.WriteStartObject("attributes");
                    w.WriteEndObject();
                    w.WriteEndObject();
                    w.WriteStartObject("payload");
                    writePayload(w, state);
                    w.WriteEndObject();
                    w.WriteEndObject();
                }

                await socket.SendAsync(_json.WrittenMemory, WebSocketMessageType.Text, true, token);
            }
            finally
            {
                _sending.Release();
            }
        }

        /// <summary>One text message of <paramref name="bytes"/> bytes ('{"x":"' then x's), in 64 KiB frames.</summary>
        private async Task SendOversizedAsync(long bytes, CancellationToken token)
        {
            var frame = new byte[64 * 1024];
            Array.Fill(frame, (byte)'x');
            "{\"x\":\""u8.CopyTo(frame);
            await _sending.WaitAsync(token);
            try
            {
                for (long left = bytes; left > 0; left -= frame.Length)
                {
                    var n = (int)Math.Min(frame.Length, left);
                    await socket.SendAsync(frame.AsMemory(0, n), WebSocketMessageType.Text, endOfMessage: left <= frame.Length, token);
                    if (token.IsCancellationRequested || socket.State != WebSocketState.Open)
                    {
                        break; // Kestrel discards writes once the client has gone
                    }

                    frame.AsSpan(0, 6).Fill((byte)'x');
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
            {
                // The client dropped the connection.
            }
            finally
            {
                _sending.Release();
            }
        }

        private async Task SendAsync(ReadOnlyMemory<byte> data, WebSocketMessageType type, CancellationToken token)
        {
            await _sending.WaitAsync(token);
            try
            {
                await socket.SendAsync(data, type, true, token);
            }
            finally
            {
                _sending.Release();
            }
        }

        private static string? Str(JsonNode? node) =>
            node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
    }

    private sealed class TaskState(string id, Synthesis? tts)
    {
        public string Id { get; } = id;

        public Synthesis? Tts { get; } = tts;

        public bool Finishing { get; set; }

        public long AudioBytes { get; set; }

        public long Partials { get; set; }
    }

    /// <summary>The text of a TTS task so far; the generator waits on <see cref="Changed"/> for more or for the end.</summary>
    private sealed class Synthesis(int sampleRate)
    {
        private long _characters;
        private int _finished;

        public int SampleRate { get; } = sampleRate;

        public long Characters => Interlocked.Read(ref _characters);

        public bool IsFinished => Volatile.Read(ref _finished) != 0;

        public bool Generating { get; set; }

        public SemaphoreSlim Changed { get; } = new(0);

        public void Add(string text)
        {
            Interlocked.Add(ref _characters, text.Trim().Length);
            Changed.Release();
        }

        public void Finish()
        {
            Volatile.Write(ref _finished, 1);
            Changed.Release();
        }
    }
}
