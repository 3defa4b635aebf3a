using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Server.Callbacks;
using Parley.Testing;

namespace Parley.Server.Tests.Instances;

/// <summary>
/// ZEGO's trial key (<c>LLM.ApiKey</c> "zego_test", shared-components.yaml <c>LLM</c>): accepted only with one of ZEGO's
/// trial URLs (else <c>410001047</c>), and served by <c>Parley:Llm:Trial</c> — by default the demo LLM — so ZEGO's
/// samples, which ship that configuration, get an answer.
/// </summary>
public sealed class ZegoTrialKeyTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private const string Ark = "https://ark.cn-beijing.volces.com/api/v3/chat/completions";

    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    private static JsonObject TrialLlm(string url) => new() { ["Url"] = url, ["ApiKey"] = "zego_test", ["Model"] = "doubao-1-5-lite-32k-250115" };

    [Fact]
    public async Task TrialKey_WithAnotherUrl_Is410001047_AtRegisterUpdateAndCreate()
    {
        var api = fixture.Api();
        var reply = await api.CallAsync("RegisterAgent", new JsonObject { ["AgentId"] = fixture.Unique("trial"), ["LLM"] = TrialLlm("https://api.openai.com/v1/chat/completions"), ["TTS"] = new JsonObject { ["Vendor"] = "Local" } });
        AssertCode(ReturnCodes.ZegoTestKeyUrlNotAllowed, reply);
        Assert.Contains("LLM.ApiKey", reply.Message());
        Assert.Contains(Ark, reply.Message());

        var agentId = await fixture.RegisterAgentAsync();
        reply = await api.CallAsync("UpdateAgent", new JsonObject { ["AgentId"] = agentId, ["LLM"] = TrialLlm("https://llm.example/v1/chat/completions") });
        AssertCode(ReturnCodes.ZegoTestKeyUrlNotAllowed, reply);

        var body = fixture.CreateBody(agentId);
        body["LLM"] = new JsonObject { ["ApiKey"] = "zego_test" };
        AssertCode(ReturnCodes.ZegoTestKeyUrlNotAllowed, await api.CallAsync("CreateAgentInstance", body));

        // Another key with the same URL, and the trial key with a trial URL, are fine.
        AssertCode(0, await api.CallAsync("RegisterAgent", new JsonObject { ["AgentId"] = fixture.Unique("trial"), ["LLM"] = TrialLlm(Ark), ["TTS"] = new JsonObject { ["Vendor"] = "Local" } }));
    }

    [Fact]
    public async Task TrialKey_WithNoTrialLlmConfigured_IsAnsweredByTheDemoLlm()
    {
        var agentId = await fixture.RegisterAgentAsync(llm: TrialLlm(Ark));
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(agentId));
        var before = fixture.Llm.Requests.Count;

        AssertCode(0, await fixture.Api().CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "What time is it?" }));

        var result = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.LlmResult, d => d["Text"]?.GetValue<string>().Contains("Demo LLM", StringComparison.Ordinal) == true);
        Assert.StartsWith("Demo LLM", result.Data["Text"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(before, fixture.Llm.Requests.Count);
        AssertCode(0, await fixture.Api().CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }
}
