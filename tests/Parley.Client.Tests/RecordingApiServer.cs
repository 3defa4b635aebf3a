using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Parley.Client.Tests;

internal sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Query, string RawQuery, string? ContentType, string Body)
{
    public string Action => Query.GetValueOrDefault("Action", "");
}

/// <summary>A real local HTTP endpoint (Kestrel on 127.0.0.1) that records requests and answers with a canned response.</summary>
internal sealed class RecordingApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();

    private RecordingApiServer(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Status and JSON body to answer with, chosen from the request.</summary>
    public Func<RecordedRequest, (int Status, string Body)> Respond { get; set; } =
        _ => (200, """{"Code":0,"Message":"Succeed","RequestId":"1843985617336143872","Data":null}""");

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public RecordedRequest Last => _requests.Last();

    public static async Task<RecordingApiServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new RecordingApiServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.BaseUrl = new Uri(app.Urls.First());
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var query = context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString());
        var recorded = new RecordedRequest(
            context.Request.Method, context.Request.Path.Value ?? "", query, context.Request.QueryString.Value ?? "", context.Request.ContentType, body);
        _requests.Enqueue(recorded);
        var (status, responseBody) = Respond(recorded);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(responseBody, context.RequestAborted);
    }
}
