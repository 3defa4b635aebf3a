using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Server.Callbacks;
using Parley.Testing;
using Parley.Testing.Fakes;

namespace Parley.Server.Tests.Instances;

/// <summary>
/// <c>LLM.Vendor</c> <c>OpenAIResponses</c> (configuring-llm.mdx, ZEGO 2.13): the agent answers through an OpenAI
/// Responses API endpoint (the fake speaks its SSE events), speaks its first sentence while the stream still runs,
/// and a failed response takes the contract's LLM error path (Exception callback).
/// </summary>
public sealed class ResponsesLlmTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>, IAsyncLifetime
{
    private FakeResponsesServer _responses = null!;

    public async Task InitializeAsync() => _responses = await FakeResponsesServer.StartAsync();

    public async Task DisposeAsync() => await _responses.DisposeAsync();

    private async Task<JsonElement> CallAsync(string action, object body) => await fixture.Api().CallAsync(action, body);

    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    private async Task<string> CreateResponsesInstanceAsync()
    {
        var llm = new JsonObject
        {
            ["Vendor"] = "OpenAIResponses",
            ["Url"] = _responses.Url,
            ["ApiKey"] = "sk-ark",
            ["Model"] = "doubao-seed-1-6-flash-250828",
            ["SystemPrompt"] = "Be brief.",
            ["Params"] = new JsonObject { ["max_output_tokens"] = 200 },
            ["AddAgentInfo"] = true,
        };
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync(llm: llm));
        body["CallbackConfig"]!["Exception"] = 1;
        return await fixture.CreateInstanceAsync(body);
    }

    [Fact]
    public async Task Agent_AnswersThroughTheResponsesApi()
    {
        var id = await CreateResponsesInstanceAsync();
        _responses.Enqueue(FakeResponsesReply.Of("The sky", " is blue."));

        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Why is the sky blue?" }));

        var result = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.LlmResult);
        Assert.Equal("The sky is blue.", result.Data["Text"]!.GetValue<string>());
        var sent = (await _responses.WaitForRequestAsync()).Body;
        Assert.Equal("doubao-seed-1-6-flash-250828", sent["model"]!.GetValue<string>());
        Assert.Equal(200, sent["max_output_tokens"]!.GetValue<int>());
        Assert.Null(sent["agent_info"]);
        var input = sent["input"]!.AsArray();
        Assert.Equal("system", input[0]!["role"]!.GetValue<string>());
        Assert.Equal("Be brief.", input[0]!["content"]!.GetValue<string>());
        Assert.Equal("Why is the sky blue?", input[^1]!["content"]!.GetValue<string>());
        await fixture.WaitForStatusAsync(id, "IDLE");
        var messages = await fixture.MessagesAsync(id);
        Assert.Contains(("assistant", "The sky is blue."), messages);
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task FirstSentence_IsSpoken_BeforeTheStreamEnds()
    {
        var id = await CreateResponsesInstanceAsync();
        _responses.Enqueue(new FakeResponsesReply(["Hello there, this is the first sentence.", " And the second."], HoldAfter: 1));

        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "hi" }));

        // The stream is held after the first sentence: the agent already speaks it.
        await fixture.WaitForStatusAsync(id, "SPEAKING");
        Assert.DoesNotContain(fixture.Callbacks.For(id), e => e.Event == CallbackEvents.LlmResult && e.Data["Text"]!.GetValue<string>().Contains("second", StringComparison.Ordinal));
        _responses.Release();
        await fixture.WaitForStatusAsync(id, "IDLE");
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Theory]
    [InlineData(FakeResponsesEnd.Failed)]
    [InlineData(FakeResponsesEnd.Malformed)]
    public async Task FailedResponse_SendsTheLlmException_AndTheInstanceKeepsWorking(FakeResponsesEnd end)
    {
        var id = await CreateResponsesInstanceAsync();
        _responses.Enqueue(new FakeResponsesReply([], end));

        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "x" }));

        var exception = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.Exception);
        Assert.Equal(2201, exception.Data["Code"]!.GetValue<int>());
        Assert.DoesNotContain("scripted", exception.Data["Message"]!.GetValue<string>());
        await fixture.WaitForStatusAsync(id, "IDLE");

        _responses.Enqueue(FakeResponsesReply.Of("Recovered."));
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "again" }));
        await fixture.Callbacks.WaitForAsync(id, CallbackEvents.LlmResult, d => d["Text"]!.GetValue<string>() == "Recovered.");
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task StalledStream_SendsException2201_AfterTheConfiguredTimeout()
    {
        var id = await CreateResponsesInstanceAsync();
        _responses.Enqueue(new FakeResponsesReply(["Hmm"], HoldAfter: 1));

        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "x" }));

        var exception = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.Exception);
        Assert.Equal(2201, exception.Data["Code"]!.GetValue<int>());
        await fixture.WaitForStatusAsync(id, "IDLE");
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task HttpUnauthorized_SendsException2203()
    {
        var id = await CreateResponsesInstanceAsync();
        _responses.Enqueue(new FakeResponsesReply([], Status: 401));

        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "x" }));

        var exception = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.Exception);
        Assert.Equal(2203, exception.Data["Code"]!.GetValue<int>());
        Assert.Equal("LLM request failed: HTTP 401 (Unauthorized)", exception.Data["Message"]!.GetValue<string>());
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task BadConfig_Is410000003NamingTheField()
    {
        var agentId = await fixture.RegisterAgentAsync();
        var body = fixture.CreateBody(agentId);
        body["LLM"] = new JsonObject { ["Vendor"] = "OpenAIResponses", ["Url"] = "http://169.254.169.254/api/v3/responses" };

        var reply = await CallAsync("CreateAgentInstance", body);

        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("LLM.Url", reply.Message());
        body["LLM"] = new JsonObject { ["Vendor"] = "OpenAIResponse" };
        reply = await CallAsync("CreateAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("LLM.Vendor", reply.Message());
    }
}
