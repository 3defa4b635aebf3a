using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
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

namespace Parley.Testing.FakeLlm;

/// <summary>One request the fake received.</summary>
public sealed record RecordedLlmRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, JsonObject Body);

/// <summary>How the fake answers one request.</summary>
public abstract record FakeLlmResponse
{
    /// <summary>A normal SSE stream of <paramref name="tokens"/>, each after <paramref name="tokenDelay"/>.</summary>
    public static FakeLlmResponse Reply(TimeSpan tokenDelay, params string[] tokens) => new StreamReply(tokens, tokenDelay, StreamEnd.Done);

    public static FakeLlmResponse Reply(params string[] tokens) => Reply(TimeSpan.Zero, tokens);

    /// <summary>
    /// A normal SSE stream with a fixed time to first token: nothing is sent for <paramref name="firstToken"/>, then the
    /// first token, then one token every <paramref name="tokenInterval"/> (a model's latency and token rate).
    /// </summary>
    public static FakeLlmResponse Timed(TimeSpan firstToken, TimeSpan tokenInterval, params string[] tokens) =>
        new StreamReply(tokens, tokenInterval, StreamEnd.Done) { FirstTokenDelay = firstToken };

    /// <summary>An HTTP error with an OpenAI-style JSON error body.</summary>
    public static FakeLlmResponse Error(int status, string message, string type = "invalid_request_error") => new ErrorReply(status, message, type);

    /// <summary>Streams <paramref name="tokens"/> then aborts the connection (no finish_reason, no [DONE]).</summary>
    public static FakeLlmResponse BreakAfter(params string[] tokens) => new StreamReply(tokens, TimeSpan.Zero, StreamEnd.Abort);

    /// <summary>Streams <paramref name="tokens"/> then sends nothing more until the client gives up.</summary>
    public static FakeLlmResponse StallAfter(params string[] tokens) => new StreamReply(tokens, TimeSpan.Zero, StreamEnd.Stall);

    /// <summary>A redirect (<paramref name="status"/>, e.g. 302) to <paramref name="location"/>.</summary>
    public static FakeLlmResponse Redirect(string location, int status = 302) => new RedirectReply(status, location);

    /// <summary>
    /// <paramref name="prefix"/> then <paramref name="bytes"/> bytes of 'x' without a newline, in 64 KiB writes (a huge
    /// error body or SSE line); <see cref="FakeLlmServer.TransportBytesSent"/> tells what the client could have taken.
    /// </summary>
    public static FakeLlmResponse Flood(int status, string contentType, string prefix, long bytes) => new FloodReply(status, contentType, prefix, bytes);

    internal enum StreamEnd
    {
        Done,
        Abort,
        Stall,
    }

    internal sealed record StreamReply(string[] Tokens, TimeSpan TokenDelay, StreamEnd End) : FakeLlmResponse
    {
        /// <summary>When set, the wait before the first chunk (role and first token); later tokens wait <see cref="TokenDelay"/>.</summary>
        public TimeSpan? FirstTokenDelay { get; init; }
    }

    /// <summary>
    /// An audio-output model's reply (OpenAI's audio streaming, as Qwen-Omni's compatible mode also sends it): per part
    /// a chunk <c>{"audio":{"id","transcript"}}</c> then chunks <c>{"audio":{"id","data": base64 PCM16 LE}}</c> of
    /// about 100 ms each (24 kHz), <paramref name="partDelay"/> apart; <c>content</c> stays absent.
    /// </summary>
    public static FakeLlmResponse AudioReply(TimeSpan partDelay, params (string Transcript, short[] Pcm24k)[] parts) => new AudioStreamReply(parts, partDelay);

    internal sealed record AudioStreamReply((string Transcript, short[] Pcm24k)[] Parts, TimeSpan PartDelay) : FakeLlmResponse;

    internal sealed record ErrorReply(int Status, string Message, string Type) : FakeLlmResponse;

    internal sealed record RedirectReply(int Status, string Location) : FakeLlmResponse;

    internal sealed record FloodReply(int Status, string ContentType, string Prefix, long Bytes) : FakeLlmResponse;
}

/// <summary>
/// An OpenAI-compatible Chat Completions server on 127.0.0.1 (random port) for tests: real SSE
/// (<c>data: {chat.completion.chunk}</c> lines, <c>finish_reason: "stop"</c>, <c>data: [DONE]</c>), scripted replies,
/// failure modes, and a record of every request's headers and body. Any path is served.
/// </summary>
public sealed class FakeLlmServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<FakeLlmResponse> _script = new();
    private readonly ConcurrentQueue<RecordedLlmRequest> _requests = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _started;
    private readonly CountingTransport _transport;

    private FakeLlmServer(WebApplication app, CountingTransport transport)
    {
        _app = app;
        _transport = transport;
    }

    /// <summary>Answer used when the script is empty.</summary>
    public FakeLlmResponse DefaultResponse { get; set; } = FakeLlmResponse.Reply("Hello", " there", ".");

    public string BaseAddress { get; private set; } = "";

    /// <summary>The full completions URL (what LLM.Url holds).</summary>
    public string Url => BaseAddress + "/v1/chat/completions";

    public IReadOnlyList<RecordedLlmRequest> Requests => [.. _requests];

    /// <summary>Bytes handed to the sockets (all replies): what clients could have received.</summary>
    public long TransportBytesSent => _transport.BytesSent;

    /// <summary>Number of streams currently open (started and not yet ended).</summary>
    public int OpenStreams => Volatile.Read(ref _started);

    public static async Task<FakeLlmServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var transport = new CountingTransport();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, transport.Apply));
        var app = builder.Build();
        var server = new FakeLlmServer(app, transport);
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = address.TrimEnd('/');
        return server;
    }

    /// <summary>A URL on a port nobody listens on (connection refused).</summary>
    public static string ClosedPortUrl()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"http://127.0.0.1:{port}/v1/chat/completions";
    }

    public void Enqueue(params FakeLlmResponse[] responses)
    {
        foreach (var response in responses)
        {
            _script.Enqueue(response);
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> requests arrived.</summary>
    public async Task<RecordedLlmRequest> WaitForRequestAsync(int count = 1, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (_requests.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The fake LLM received {_requests.Count} requests; expected {count}");
            }

            await Task.Delay(10);
        }

        return Requests[count - 1];
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            await _app.StopAsync(stop.Token);
        }

        await _app.DisposeAsync();
        _stopping.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var text = await reader.ReadToEndAsync(context.RequestAborted);
        JsonObject body;
        try
        {
            body = JsonNode.Parse(text) as JsonObject ?? [];
        }
        catch (JsonException)
        {
            body = new JsonObject { ["_unparsed"] = text };
        }

        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _requests.Enqueue(new RecordedLlmRequest(context.Request.Method, context.Request.Path + context.Request.QueryString, headers, body));
        var response = _script.TryDequeue(out var scripted) ? scripted : DefaultResponse;
        switch (response)
        {
            case FakeLlmResponse.ErrorReply error:
                context.Response.StatusCode = error.Status;
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(
                    new JsonObject { ["error"] = new JsonObject { ["message"] = error.Message, ["type"] = error.Type, ["code"] = null } }.ToJsonString(),
                    context.RequestAborted);
                return;
            case FakeLlmResponse.StreamReply stream:
                await StreamAsync(context, body, stream);
                return;
            case FakeLlmResponse.AudioStreamReply audio:
                await StreamAudioAsync(context, body, audio);
                return;
            case FakeLlmResponse.RedirectReply redirect:
                context.Response.StatusCode = redirect.Status;
                context.Response.Headers.Location = redirect.Location;
                return;
            case FakeLlmResponse.FloodReply flood:
                await FloodAsync(context, flood);
                return;
        }
    }

    private async Task StreamAsync(HttpContext context, JsonObject body, FakeLlmResponse.StreamReply reply)
    {
        Interlocked.Increment(ref _started);
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
            var token = linked.Token;
            context.Response.StatusCode = 200;
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            var id = "chatcmpl-" + Guid.NewGuid().ToString("N")[..12];
            var model = body["model"]?.GetValue<string>() ?? "fake";
            var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            if (reply.FirstTokenDelay is { } firstDelay && firstDelay > TimeSpan.Zero)
            {
                await Task.Delay(firstDelay, token);
            }

            await WriteChunkAsync(context, Chunk(id, model, created, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null), token);
            for (var i = 0; i < reply.Tokens.Length; i++)
            {
                var tokenText = reply.Tokens[i];
                var first = i == 0 && reply.FirstTokenDelay is not null;
                if (!first && reply.TokenDelay > TimeSpan.Zero)
                {
                    await Task.Delay(reply.TokenDelay, token);
                }

                await WriteChunkAsync(context, Chunk(id, model, created, new JsonObject { ["content"] = tokenText }, null), token);
            }

            switch (reply.End)
            {
                case FakeLlmResponse.StreamEnd.Done:
                    await WriteChunkAsync(context, Chunk(id, model, created, new JsonObject(), "stop"), token);
                    await context.Response.WriteAsync("data: [DONE]\n\n", token);
                    await context.Response.Body.FlushAsync(token);
                    break;
                case FakeLlmResponse.StreamEnd.Abort:
                    context.Abort();
                    break;
                case FakeLlmResponse.StreamEnd.Stall:
                    await Task.Delay(Timeout.Infinite, token);
                    break;
            }
        }
        catch (OperationCanceledException)
        {
            // Client went away or the server stops.
        }
        finally
        {
            Interlocked.Decrement(ref _started);
        }
    }

    private async Task StreamAudioAsync(HttpContext context, JsonObject body, FakeLlmResponse.AudioStreamReply reply)
    {
        try
        {
            var token = context.RequestAborted;
            context.Response.StatusCode = 200;
            context.Response.ContentType = "text/event-stream";
            var id = "chatcmpl-" + Guid.NewGuid().ToString("N")[..12];
            var model = body["model"]?.GetValue<string>() ?? "fake";
            var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            const string audioId = "audio_fake_1";
            await WriteChunkAsync(context, Chunk(id, model, created, new JsonObject { ["role"] = "assistant" }, null), token);
            foreach (var (transcript, pcm) in reply.Parts)
            {
                if (reply.PartDelay > TimeSpan.Zero)
                {
                    await Task.Delay(reply.PartDelay, token);
                }

                await WriteChunkAsync(context, Chunk(id, model, created, new JsonObject { ["audio"] = new JsonObject { ["id"] = audioId, ["transcript"] = transcript } }, null), token);
                for (var at = 0; at < pcm.Length; at += 2400)
                {
                    var n = Math.Min(2400, pcm.Length - at);
                    var bytes = new byte[n * 2];
                    for (var i = 0; i < n; i++)
                    {
                        System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(i * 2), pcm[at + i]);
                    }

                    await WriteChunkAsync(context, Chunk(id, model, created, new JsonObject { ["audio"] = new JsonObject { ["id"] = audioId, ["data"] = Convert.ToBase64String(bytes) } }, null), token);
                }
            }

            await WriteChunkAsync(context, Chunk(id, model, created, new JsonObject(), "stop"), token);
            await context.Response.WriteAsync("data: [DONE]\n\n", token);
            await context.Response.Body.FlushAsync(token);
        }
        catch (OperationCanceledException)
        {
            // Client went away.
        }
    }

    private async Task FloodAsync(HttpContext context, FakeLlmResponse.FloodReply flood)
    {
        context.Response.StatusCode = flood.Status;
        context.Response.ContentType = flood.ContentType;
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)'x');
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
            await context.Response.WriteAsync(flood.Prefix, linked.Token);
            for (long left = flood.Bytes; left > 0; left -= chunk.Length)
            {
                var n = (int)Math.Min(chunk.Length, left);
                await context.Response.Body.WriteAsync(chunk.AsMemory(0, n), linked.Token);
                var flushed = await context.Response.BodyWriter.FlushAsync(linked.Token);
                if (flushed.IsCanceled || flushed.IsCompleted || context.RequestAborted.IsCancellationRequested)
                {
                    break; // Kestrel discards writes once the client has gone
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The client stopped reading and closed the connection.
        }
    }

    private static JsonObject Chunk(string id, string model, long created, JsonObject delta, string? finishReason) => new()
    {
        ["id"] = id,
        ["object"] = "chat.completion.chunk",
        ["created"] = created,
        ["model"] = model,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["delta"] = delta,
            ["finish_reason"] = finishReason,
        }),
    };

    private static async Task WriteChunkAsync(HttpContext context, JsonObject chunk, CancellationToken token)
    {
        await context.Response.WriteAsync("data: " + chunk.ToJsonString() + "\n\n", token);
        await context.Response.Body.FlushAsync(token);
    }
}
