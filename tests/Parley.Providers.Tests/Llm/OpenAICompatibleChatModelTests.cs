using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Providers.Llm;
using Parley.Providers.Net;
using Parley.Testing.FakeLlm;

namespace Parley.Providers.Tests.Llm;

/// <summary>The LLM client against hostile or broken servers: no redirects, bounded replies, no echo of foreign bytes.</summary>
public sealed class OpenAICompatibleChatModelTests : IAsyncLifetime
{
    private const long Flood = 50L * 1024 * 1024;
    private FakeLlmServer _llm = null!;

    public async Task InitializeAsync() => _llm = await FakeLlmServer.StartAsync();

    public async Task DisposeAsync() => await _llm.DisposeAsync();

    private static ChatModelRequest Request(string url) => new(
        new LlmSettings(url, "sk-secret-key", "m", null, 0.7, 0.9, null, false),
        null, [], "hello", new SessionIdentity("1", "r", "a", "u"), 1, 0);

    private static async Task<LlmException> FailAsync(OpenAICompatibleChatModel model, string url)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var _ in model.StreamReplyAsync(Request(url), timeout.Token))
            {
            }
        });
    }

    [Fact]
    public async Task Body_IsTheContracts_KeptFieldsAsSent_ParamsAtTopLevelAndWinning()
    {
        _llm.Enqueue(FakeLlmResponse.Reply("ok"));
        using var model = new OpenAICompatibleChatModel();
        var parameters = new JsonObject { ["max_tokens"] = 64, ["temperature"] = 0.2, ["nested"] = new JsonObject { ["a"] = new JsonArray(1, "two", null) } };
        var request = new ChatModelRequest(
            new LlmSettings(_llm.Url, "sk-secret-key", "m-1", null, 0.7, 0.9, parameters, AddAgentInfo: true),
            "be brief", [new ContextMessage(MessageRole.User, "hi \"there\" é"), new ContextMessage(MessageRole.Assistant, "hello")],
            "what now?", new SessionIdentity("inst-1", "room-1", "agent-1", "user-1"), 7, 1234);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reply = new StringBuilder();
        await foreach (var piece in model.StreamReplyAsync(request, timeout.Token))
        {
            reply.Append(piece);
        }

        Assert.Equal("ok", reply.ToString());
        var body = Assert.Single(_llm.Requests).Body;
        // Nothing else of the SDK's (JSON's member order carries no meaning).
        Assert.Equal(["agent_info", "max_tokens", "messages", "model", "nested", "stream", "temperature", "top_p"], body.Select(p => p.Key).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal("m-1", body["model"]!.GetValue<string>());
        Assert.Equal(0.9, body["top_p"]!.GetValue<double>(), 3);
        Assert.True(body["stream"]!.GetValue<bool>());
        Assert.Equal(0.2, body["temperature"]!.GetValue<double>(), 3); // Params win over the agent's setting
        Assert.Equal(64, body["max_tokens"]!.GetValue<int>());
        Assert.True(JsonNode.DeepEquals(parameters["nested"], body["nested"]));
        Assert.Equal("inst-1", body["agent_info"]!["agent_instance_id"]!.GetValue<string>());
        Assert.Equal(7, body["agent_info"]!["round_id"]!.GetValue<long>());
        var messages = body["messages"]!.AsArray().Select(m => $"{m!["role"]}:{m["content"]}").ToArray();
        Assert.Equal(["system:be brief", "user:hi \"there\" é", "assistant:hello", "user:what now?"], messages);
    }

    [Fact]
    public async Task Redirect_ToAnotherHost_IsNotFollowed()
    {
        await using var other = await FakeLlmServer.StartAsync();
        _llm.Enqueue(FakeLlmResponse.Redirect(other.Url.Replace("127.0.0.1", "localhost", StringComparison.Ordinal)));
        using var model = new OpenAICompatibleChatModel();

        var error = await FailAsync(model, _llm.Url);

        Assert.Equal(LlmErrorKind.General, error.Kind);
        Assert.Contains("HTTP 302", error.Message);
        Assert.Contains("redirects are not followed", error.Message);
        Assert.Empty(other.Requests);
    }

    [Fact]
    public async Task ErrorReply_MessageNamesTheStatus_NotTheServersText()
    {
        _llm.Enqueue(FakeLlmResponse.Error(401, "internal-host db7.corp.example says no"));
        using var model = new OpenAICompatibleChatModel();

        var error = await FailAsync(model, _llm.Url);

        Assert.Equal(LlmErrorKind.Authentication, error.Kind);
        Assert.Equal("LLM request failed: HTTP 401 (Unauthorized)", error.Message);
    }

    /// <summary>A port-scan oracle: a non-HTTP service's banner must not come back in the error.</summary>
    [Fact]
    public async Task NonHttpService_ItsBannerIsNotEchoed()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serve = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 secret-banner\r\n"));
            await Task.Delay(500);
        });
        using var model = new OpenAICompatibleChatModel();

        var error = await FailAsync(model, $"http://127.0.0.1:{port}/v1/chat/completions");
        await serve;

        Assert.DoesNotContain("SSH", error.Message);
        Assert.DoesNotContain("secret-banner", error.Message);
        Assert.Equal("LLM request failed: invalid HTTP response", error.Message);
    }

    [Fact]
    public async Task ClosedPort_IsConnectionRefused()
    {
        using var model = new OpenAICompatibleChatModel();
        var error = await FailAsync(model, FakeLlmServer.ClosedPortUrl());
        Assert.Equal("LLM request failed: connection refused", error.Message);
    }

    /// <summary>A 50 MB error body: only the first 64 KiB are read, the connection is dropped.</summary>
    [Fact]
    public async Task HugeErrorBody_IsReadOnlyUpToTheLimit()
    {
        _llm.Enqueue(FakeLlmResponse.Flood(500, "application/json", "{\"error\":{\"message\":\"", Flood));
        using var model = new OpenAICompatibleChatModel();

        var error = await FailAsync(model, _llm.Url);

        Assert.Equal("LLM request failed: HTTP 500 (InternalServerError)", error.Message);
        var sent = _llm.TransportBytesSent;
        Assert.True(sent < Flood / 4, $"the client read {sent} bytes of the error body");
    }

    /// <summary>A 50 MB SSE line: the reply fails once the line passes 1 MiB, before the rest is read.</summary>
    [Fact]
    public async Task HugeSseLine_FailsTheReplyAtTheLimit()
    {
        _llm.Enqueue(FakeLlmResponse.Flood(200, "text/event-stream", "data: ", Flood));
        using var model = new OpenAICompatibleChatModel();

        var error = await FailAsync(model, _llm.Url);

        Assert.Equal(LlmErrorKind.General, error.Kind);
        Assert.Equal("LLM request failed: the LLM sent a line longer than 1048576 bytes", error.Message);
        var sent = _llm.TransportBytesSent;
        Assert.True(sent < Flood / 4, $"the client read {sent} bytes of one line");
    }

    [Fact]
    public async Task SseEvent_OfManyLines_IsBoundedToo_NormalRepliesPass()
    {
        using var model = new OpenAICompatibleChatModel(limits: new LlmClientLimits { MaxEventBytes = 4096 });
        _llm.Enqueue(FakeLlmResponse.Reply("Hello", " there."));
        var text = new StringBuilder();
        await foreach (var delta in model.StreamReplyAsync(Request(_llm.Url), CancellationToken.None))
        {
            text.Append(delta);
        }

        Assert.Equal("Hello there.", text.ToString());

        // Lines of 100 bytes with no blank line between them: one event that grows past 4 KiB.
        var stream = new LineBoundedStream(new MemoryStream(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("data: " + new string('x', 93) + "\n", 50)))), 4096, "the LLM");
        var tooLarge = await Assert.ThrowsAsync<ResponseTooLargeException>(() => stream.CopyToAsync(Stream.Null));
        Assert.Equal("the LLM sent an event longer than 4096 bytes", tooLarge.Message);
        var separated = new LineBoundedStream(new MemoryStream(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("data: " + new string('x', 93) + "\r\n\r\n", 50)))), 4096, "the LLM");
        await separated.CopyToAsync(Stream.Null);
    }

    [Fact]
    public async Task PolicyRefusedUrl_FailsBeforeConnecting()
    {
        using var model = new OpenAICompatibleChatModel(new OutboundPolicy(allowLoopback: false, allowPrivateNetworks: false));
        var error = await FailAsync(model, _llm.Url);
        Assert.Equal(LlmErrorKind.InvalidParameter, error.Kind);
        Assert.Contains("refused by the outbound URL policy", error.Message);
        Assert.Empty(_llm.Requests);
    }
}
