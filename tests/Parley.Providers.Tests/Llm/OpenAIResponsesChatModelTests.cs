using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Providers.Llm;
using Parley.Testing.Fakes;

namespace Parley.Providers.Tests.Llm;

/// <summary>The OpenAI Responses API client (LLM.Vendor OpenAIResponses) against the fake Responses server.</summary>
public sealed class OpenAIResponsesChatModelTests : IAsyncLifetime
{
    private FakeResponsesServer _server = null!;

    public async Task InitializeAsync() => _server = await FakeResponsesServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static ChatModelRequest Request(string url, JsonObject? parameters = null, IReadOnlyList<ContextMessage>? history = null) => new(
        new LlmSettings(url, "sk-secret-key", "doubao-seed", "Be brief.", 0.5, 0.8, parameters, AddAgentInfo: true)
        {
            Vendor = LlmVendorNames.OpenAIResponses,
            AgentExtraInfo = new JsonObject { ["k"] = "v" },
        },
        "Be brief.", history ?? [], "hello", new SessionIdentity("1", "r", "a", "u"), 1, 0);

    private static async Task<List<string>> CollectAsync(OpenAIResponsesChatModel model, ChatModelRequest request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var deltas = new List<string>();
        await foreach (var delta in model.StreamReplyAsync(request, timeout.Token))
        {
            deltas.Add(delta);
        }

        return deltas;
    }

    private async Task<LlmException> FailAsync(FakeResponsesReply reply)
    {
        _server.Enqueue(reply);
        using var model = new OpenAIResponsesChatModel();
        return await Assert.ThrowsAsync<LlmException>(() => CollectAsync(model, Request(_server.Url)));
    }

    [Fact]
    public async Task Deltas_AreTheReply_AndTheBodyIsTheResponsesShape()
    {
        _server.Enqueue(FakeResponsesReply.Of("Hi", " there", "."));
        using var model = new OpenAIResponsesChatModel();
        var history = new[] { new ContextMessage(MessageRole.User, "before"), new ContextMessage(MessageRole.Assistant, "answer") };

        var deltas = await CollectAsync(model, Request(_server.Url, new JsonObject { ["max_output_tokens"] = 64, ["thinking"] = new JsonObject { ["type"] = "disabled" } }, history));

        Assert.Equal(["Hi", " there", "."], deltas);
        var request = Assert.Single(_server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/api/v3/responses", request.Path);
        Assert.Equal("Bearer sk-secret-key", request.Headers["Authorization"]);
        var body = request.Body;
        Assert.Equal("doubao-seed", body["model"]!.GetValue<string>());
        Assert.True(body["stream"]!.GetValue<bool>());
        Assert.Equal(0.5, body["temperature"]!.GetValue<double>());
        Assert.Equal(0.8, body["top_p"]!.GetValue<double>());
        Assert.Equal(64, body["max_output_tokens"]!.GetValue<int>());
        Assert.Equal("disabled", body["thinking"]!["type"]!.GetValue<string>());
        var input = body["input"]!.AsArray().Select(i => (i!["role"]!.GetValue<string>(), i["content"]!.GetValue<string>())).ToArray();
        Assert.Equal([("system", "Be brief."), ("user", "before"), ("assistant", "answer"), ("user", "hello")], input);

        // AddAgentInfo and AgentExtraInfo do nothing with Responses (configuring-llm.mdx).
        Assert.Null(body["agent_info"]);
        Assert.Null(body["agent_extra_info"]);
        Assert.Null(body["messages"]);
    }

    [Fact]
    public async Task FirstDeltas_ArriveBeforeTheStreamEnds()
    {
        _server.Enqueue(new FakeResponsesReply(["First sentence.", " Second."], HoldAfter: 1));
        using var model = new OpenAIResponsesChatModel();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var deltas = model.StreamReplyAsync(Request(_server.Url), timeout.Token).GetAsyncEnumerator(timeout.Token);

        Assert.True(await deltas.MoveNextAsync());
        Assert.Equal("First sentence.", deltas.Current);
        _server.Release();
        Assert.True(await deltas.MoveNextAsync());
        Assert.Equal(" Second.", deltas.Current);
        Assert.False(await deltas.MoveNextAsync());
    }

    [Fact]
    public async Task HttpError_MapsByStatus_WithoutTheServersText()
    {
        var error = await FailAsync(new FakeResponsesReply([], Status: 401));

        Assert.Equal(LlmErrorKind.Authentication, error.Kind);
        Assert.Equal("LLM request failed: HTTP 401 (Unauthorized)", error.Message);
        Assert.Equal(LlmErrorKind.RateLimited, (await FailAsync(new FakeResponsesReply([], Status: 429))).Kind);
        Assert.Equal(LlmErrorKind.General, (await FailAsync(new FakeResponsesReply([], Status: 503))).Kind);
    }

    [Theory]
    [InlineData(FakeResponsesEnd.Failed, "response.failed")]
    [InlineData(FakeResponsesEnd.Error, "an error event")]
    [InlineData(FakeResponsesEnd.Malformed, "malformed event")]
    [InlineData(FakeResponsesEnd.Truncated, "without response.completed")]
    public async Task BrokenStreams_FailTheReply(FakeResponsesEnd end, string expected)
    {
        var error = await FailAsync(new FakeResponsesReply(["partial"], end));

        Assert.Equal(LlmErrorKind.General, error.Kind);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain("scripted", error.Message);
    }

    [Fact]
    public async Task RefusedUrl_IsAnInvalidParameter()
    {
        using var model = new OpenAIResponsesChatModel();

        var error = await Assert.ThrowsAsync<LlmException>(() => CollectAsync(model, Request("http://169.254.169.254/api/v3/responses")));

        Assert.Equal(LlmErrorKind.InvalidParameter, error.Kind);
        Assert.Contains("LLM.Url", error.Message);
    }

    [Fact]
    public async Task Router_SendsOpenAIResponses_ToTheResponsesClient()
    {
        _server.Enqueue(FakeResponsesReply.Of("routed"));
        using var responses = new OpenAIResponsesChatModel();
        using var chat = new OpenAICompatibleChatModel();
        var router = new ChatModelRouter(chat, new DemoChatModel(TimeProvider.System), responses);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var text = "";
        await foreach (var delta in router.StreamReplyAsync(Request(_server.Url), timeout.Token))
        {
            text += delta;
        }

        Assert.Equal("routed", text);
    }
}
