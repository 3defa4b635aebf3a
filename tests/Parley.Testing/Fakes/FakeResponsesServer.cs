using System.Collections.Concurrent;
using System.Net;
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
using Parley.Testing.FakeLlm;

namespace Parley.Testing.Fakes;

/// <summary>How <see cref="FakeResponsesServer"/> ends one streamed response.</summary>
public enum FakeResponsesEnd
{
    /// <summary><c>response.output_text.done</c>, <c>response.content_part.done</c>, <c>response.output_item.done</c>, <c>response.completed</c>.</summary>
    Completed,

    /// <summary><c>response.failed</c> with <c>response.error {code: server_error}</c>.</summary>
    Failed,

    /// <summary>An <c>error</c> event.</summary>
    Error,

    /// <summary>A <c>data:</c> line that is not JSON.</summary>
    Malformed,

    /// <summary>The stream just ends (no response.completed).</summary>
    Truncated,
}

/// <summary>One scripted answer of <see cref="FakeResponsesServer"/>.</summary>
/// <param name="Deltas">The text deltas (<c>response.output_text.delta</c>).</param>
/// <param name="End">How the stream ends.</param>
/// <param name="Status">When not 200, an HTTP error with an OpenAI-style error body instead of a stream.</param>
/// <param name="HoldAfter">When set, the stream waits after this many deltas until <see cref="FakeResponsesServer.Release"/>.</param>
public sealed record FakeResponsesReply(string[] Deltas, FakeResponsesEnd End = FakeResponsesEnd.Completed, int Status = 200, int? HoldAfter = null)
{
    /// <summary>A completed stream of <paramref name="deltas"/>.</summary>
    public static FakeResponsesReply Of(params string[] deltas) => new(deltas);
}

/// <summary>
/// An OpenAI Responses API server on 127.0.0.1 (random port) for tests. A POST with <c>"stream": true</c> is answered
/// with the documented server-sent events (<c>event: &lt;type&gt;</c> and <c>data: {"type": …, "sequence_number": n}</c>):
/// <c>response.created</c>, <c>response.in_progress</c>, <c>response.output_item.added</c>,
/// <c>response.content_part.added</c>, one <c>response.output_text.delta</c> per delta, then the end the script asks
/// for. Every request's headers and body are recorded.
/// </summary>
public sealed class FakeResponsesServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<FakeResponsesReply> _script = new();
    private readonly ConcurrentQueue<RecordedLlmRequest> _requests = new();
    private volatile TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private FakeResponsesServer(WebApplication app) => _app = app;

    /// <summary>Answer used when the script is empty.</summary>
    public FakeResponsesReply DefaultReply { get; set; } = FakeResponsesReply.Of("Hello", " there", ".");

    /// <summary>The Responses URL (what LLM.Url holds).</summary>
    public string Url { get; private set; } = "";

    /// <summary>Requests received so far.</summary>
    public IReadOnlyList<RecordedLlmRequest> Requests => [.. _requests];

    /// <summary>Starts the server.</summary>
    public static async Task<FakeResponsesServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeResponsesServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = address.TrimEnd('/') + "/api/v3/responses";
        return server;
    }

    /// <summary>Queues answers for the next requests.</summary>
    public void Enqueue(params FakeResponsesReply[] replies)
    {
        foreach (var reply in replies)
        {
            _script.Enqueue(reply);
        }
    }

    /// <summary>Lets a held stream (<see cref="FakeResponsesReply.HoldAfter"/>) go on.</summary>
    public void Release()
    {
        var release = _release;
        _release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        release.TrySetResult();
    }

    /// <summary>Waits until at least <paramref name="count"/> requests arrived.</summary>
    public async Task<RecordedLlmRequest> WaitForRequestAsync(int count = 1, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (_requests.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The fake Responses server received {_requests.Count} requests; expected {count}");
            }

            await Task.Delay(10);
        }

        return Requests[count - 1];
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _release.TrySetResult();
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            await _app.StopAsync(stop.Token);
        }

        await _app.DisposeAsync();
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
        var reply = _script.TryDequeue(out var scripted) ? scripted : DefaultReply;
        if (reply.Status != 200)
        {
            context.Response.StatusCode = reply.Status;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"error":{"message":"scripted failure","type":"invalid_request_error","code":null}}""", context.RequestAborted);
            return;
        }

        if (body["stream"] is not JsonValue stream || !stream.TryGetValue<bool>(out var streaming) || !streaming || body["input"] is not JsonArray)
        {
            context.Response.StatusCode = 400;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"error":{"message":"this fake needs stream:true and an input array","type":"invalid_request_error"}}""", context.RequestAborted);
            return;
        }

        await StreamAsync(context, body, reply);
    }

    private async Task StreamAsync(HttpContext context, JsonObject body, FakeResponsesReply reply)
    {
        var token = context.RequestAborted;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var sequence = 0;
        var id = $"resp_{Guid.NewGuid():N}";
        const string ItemId = "msg_fake";
        var model = body["model"]?.GetValue<string>() ?? "";
        JsonObject Response(string status) => new() { ["id"] = id, ["object"] = "response", ["status"] = status, ["model"] = model, ["output"] = new JsonArray() };

        async Task SendAsync(string type, JsonObject data)
        {
            data["type"] = type;
            data["sequence_number"] = sequence++;
            await context.Response.WriteAsync($"event: {type}\ndata: {data.ToJsonString()}\n\n", token);
            await context.Response.Body.FlushAsync(token);
        }

        await SendAsync("response.created", new JsonObject { ["response"] = Response("in_progress") });
        await SendAsync("response.in_progress", new JsonObject { ["response"] = Response("in_progress") });
        await SendAsync("response.output_item.added", new JsonObject
        {
            ["output_index"] = 0,
            ["item"] = new JsonObject { ["id"] = ItemId, ["type"] = "message", ["status"] = "in_progress", ["role"] = "assistant", ["content"] = new JsonArray() },
        });
        await SendAsync("response.content_part.added", new JsonObject
        {
            ["item_id"] = ItemId, ["output_index"] = 0, ["content_index"] = 0,
            ["part"] = new JsonObject { ["type"] = "output_text", ["text"] = "", ["annotations"] = new JsonArray() },
        });
        for (var i = 0; i < reply.Deltas.Length; i++)
        {
            if (reply.HoldAfter == i)
            {
                await _release.Task.WaitAsync(token);
            }

            await SendAsync("response.output_text.delta", new JsonObject
            {
                ["item_id"] = ItemId, ["output_index"] = 0, ["content_index"] = 0, ["delta"] = reply.Deltas[i],
            });
        }

        if (reply.HoldAfter == reply.Deltas.Length)
        {
            await _release.Task.WaitAsync(token);
        }

        var text = string.Concat(reply.Deltas);
        switch (reply.End)
        {
            case FakeResponsesEnd.Completed:
                await SendAsync("response.output_text.done", new JsonObject { ["item_id"] = ItemId, ["output_index"] = 0, ["content_index"] = 0, ["text"] = text });
                await SendAsync("response.content_part.done", new JsonObject
                {
                    ["item_id"] = ItemId, ["output_index"] = 0, ["content_index"] = 0,
                    ["part"] = new JsonObject { ["type"] = "output_text", ["text"] = text, ["annotations"] = new JsonArray() },
                });
                await SendAsync("response.output_item.done", new JsonObject
                {
                    ["output_index"] = 0,
                    ["item"] = new JsonObject { ["id"] = ItemId, ["type"] = "message", ["status"] = "completed", ["role"] = "assistant" },
                });
                await SendAsync("response.completed", new JsonObject { ["response"] = Response("completed") });
                break;
            case FakeResponsesEnd.Failed:
                var failed = Response("failed");
                failed["error"] = new JsonObject { ["code"] = "server_error", ["message"] = "The model failed (scripted)." };
                await SendAsync("response.failed", new JsonObject { ["response"] = failed });
                break;
            case FakeResponsesEnd.Error:
                await SendAsync("error", new JsonObject { ["code"] = "ERR_SOMETHING", ["message"] = "Something happened (scripted)", ["param"] = null });
                break;
            case FakeResponsesEnd.Malformed:
                await context.Response.WriteAsync("event: response.output_text.delta\ndata: {not json\n\n", token);
                await context.Response.Body.FlushAsync(token);
                break;
            case FakeResponsesEnd.Truncated:
                break;
        }
    }
}
