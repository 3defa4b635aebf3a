using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Server.Callbacks;
using Parley.Testing;
using Parley.Testing.FakeLlm;

namespace Parley.Server.Tests.Instances;

/// <summary>
/// <c>AdvancedConfig.DisableTTS</c> (shared-components.yaml, 2.7.0): a text-only agent. It answers (LLMResult, context,
/// status as usual) but synthesises nothing; SendAgentInstanceTTS is refused; TTS updates are accepted and ignored.
/// </summary>
public sealed class DisableTtsTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private async Task<JsonElement> CallAsync(string action, object body) => await fixture.Api().CallAsync(action, body);

    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    /// <summary>An agent registered with an LLM and no TTS at all.</summary>
    private async Task<string> RegisterAgentWithoutTtsAsync()
    {
        var agentId = fixture.Unique("agent");
        AssertCode(0, await CallAsync("RegisterAgent", new JsonObject
        {
            ["AgentId"] = agentId,
            ["Name"] = "Text agent",
            ["LLM"] = new JsonObject { ["Url"] = fixture.Llm.Url, ["ApiKey"] = "sk-agent", ["Model"] = "agent-model" },
        }));
        return agentId;
    }

    private JsonObject TextOnlyBody(string agentId)
    {
        var body = fixture.CreateBody(agentId);
        body["AdvancedConfig"] = new JsonObject { ["DisableTTS"] = true };
        return body;
    }

    [Fact]
    public async Task TextOnly_WithoutAnyTts_AnswersSendLlm_WithLlmResult_AndSynthesisesNothing()
    {
        var id = await fixture.CreateInstanceAsync(TextOnlyBody(await RegisterAgentWithoutTtsAsync()));
        fixture.Llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(20), "Sunny", " and", " warm."));
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Weather?" }));

        var sentence = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.LlmResult);
        Assert.Equal("Sunny and warm.", sentence.Data["Text"]!.GetValue<string>());
        await fixture.WaitForStatusAsync(id, "IDLE");
        var messages = await CallAsync("GetAgentInstanceMsgList", new { AgentInstanceId = id });
        AssertCode(0, messages);
        Assert.Equal("Sunny and warm.", messages.Data().GetProperty("MessageList").EnumerateArray().Last().GetProperty("Content").GetString());

        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
        var deleted = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.AgentInstanceDeleted);
        var latency = deleted.Data["LatencyData"]!.AsObject();
        Assert.True(latency["LLMTTFT"]!.GetValue<long>() > 0);
        Assert.Equal(0, latency["TTSAudioFirstFrameTime"]!.GetValue<long>());
    }

    [Fact]
    public async Task WithoutDisableTts_AnAgentWithoutTts_IsRefused()
    {
        var reply = await CallAsync("CreateAgentInstance", fixture.CreateBody(await RegisterAgentWithoutTtsAsync()));
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("TTS", reply.Message(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendTts_IsRefused_NamingDisableTts_AndTtsUpdatesAreAcceptedAndIgnored()
    {
        var id = await fixture.CreateInstanceAsync(TextOnlyBody(await fixture.RegisterAgentAsync()));
        var tts = await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = "Hello there." });
        AssertCode(ReturnCodes.SendTtsFailed, tts);
        Assert.Contains("DisableTTS", tts.Message(), StringComparison.Ordinal);

        AssertCode(0, await CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, TTS = new { Vendor = "Local", Params = new { voice = "other" } } }));
        AssertCode(ReturnCodes.SendTtsFailed, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = "Hello again." }));

        // The agent has a working (local) TTS, yet an answer is not synthesised.
        fixture.Llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(20), "One", " two", "."));
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Count" }));
        await fixture.Callbacks.WaitForAsync(id, CallbackEvents.LlmResult);
        await fixture.WaitForStatusAsync(id, "IDLE");
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
        var deleted = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.AgentInstanceDeleted);
        Assert.Equal(0, deleted.Data["LatencyData"]!["TTSAudioFirstFrameTime"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("\"yes\"")]
    [InlineData("1")]
    public async Task BadDisableTts_IsRefused_NamingTheField(string value)
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["AdvancedConfig"] = new JsonObject { ["DisableTTS"] = JsonNode.Parse(value) };
        var reply = await CallAsync("CreateAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("AdvancedConfig.DisableTTS", reply.Message(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DigitalHuman_WithDisableTts_IsRefused_NamingDisableTts()
    {
        var body = TextOnlyBody(await fixture.RegisterAgentAsync());
        body["DigitalHuman"] = new JsonObject { ["DigitalHumanId"] = "xiaozhi" };
        var reply = await CallAsync("CreateDigitalHumanAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("DisableTTS", reply.Message(), StringComparison.Ordinal);
    }
}
