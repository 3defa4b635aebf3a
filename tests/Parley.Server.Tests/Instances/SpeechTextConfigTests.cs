using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Server.Callbacks;
using Parley.Testing;
using Parley.Testing.FakeLlm;

namespace Parley.Server.Tests.Instances;

/// <summary>
/// AdvancedConfig.LLMMetaInfo and AdvancedConfig.TTSParamPaths on CreateAgentInstance (shared-components.yaml): bad
/// input is 410000003 naming the field; metadata is taken out of the spoken/subtitled text and sent as
/// AgentInstanceMetaInfo when its sentence plays.
/// </summary>
public sealed class SpeechTextConfigTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private async Task<JsonElement> CallAsync(string action, object body) => await fixture.Api().CallAsync(action, body);

    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    public static TheoryData<string, string> BadAdvanced => new()
    {
        { """{"LLMMetaInfo":"[["}""", "AdvancedConfig.LLMMetaInfo" },
        { """{"LLMMetaInfo":{"EndCharacters":"]]"}}""", "AdvancedConfig.LLMMetaInfo.BeginCharacters" },
        { """{"LLMMetaInfo":{"BeginCharacters":"  ","EndCharacters":"]]"}}""", "AdvancedConfig.LLMMetaInfo.BeginCharacters" },
        { """{"LLMMetaInfo":{"BeginCharacters":"[[","EndCharacters":""}}""", "AdvancedConfig.LLMMetaInfo.EndCharacters" },
        { """{"LLMMetaInfo":{"BeginCharacters":"[[","EndCharacters":5}}""", "AdvancedConfig.LLMMetaInfo.EndCharacters" },
        { """{"LLMMetaInfo":{"BeginCharacters":"[[[[[[[[[[[[[[[[[","EndCharacters":"]]"}}""", "AdvancedConfig.LLMMetaInfo.BeginCharacters" },
        { """{"LLMMetaInfo":{"BeginCharacters":"[[","EndCharacters":"]]","SendMetaKeys":"action"}}""", "AdvancedConfig.LLMMetaInfo.SendMetaKeys" },
        { """{"LLMMetaInfo":{"BeginCharacters":"[[","EndCharacters":"]]","SendMetaKeys":[1]}}""", "AdvancedConfig.LLMMetaInfo.SendMetaKeys[0]" },
        { """{"LLMMetaInfo":{"BeginCharacters":"[[","EndCharacters":"]]","SendMetaKeys":[""]}}""", "AdvancedConfig.LLMMetaInfo.SendMetaKeys[0]" },
        { """{"TTSParamPaths":["x"]}""", "AdvancedConfig.TTSParamPaths" },
        { """{"TTSParamPaths":{"instruction":1}}""", "AdvancedConfig.TTSParamPaths.instruction" },
        { """{"TTSParamPaths":{"instruction":"payload..instruction"}}""", "AdvancedConfig.TTSParamPaths.instruction" },
        { """{"TTSParamPaths":{"instruction":""}}""", "AdvancedConfig.TTSParamPaths.instruction" },
    };

    [Theory]
    [MemberData(nameof(BadAdvanced))]
    public async Task BadInput_Is410000003_NamingTheField(string advanced, string field)
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["AdvancedConfig"] = JsonNode.Parse(advanced);

        var reply = await CallAsync("CreateAgentInstance", body);

        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains(field, reply.Message(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MetaInfo_IsOutOfTheText_AndSentAsAgentInstanceMetaInfo_WithTheSendMetaKeysOnly()
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["AdvancedConfig"] = new JsonObject
        {
            ["LLMMetaInfo"] = new JsonObject { ["BeginCharacters"] = "[[", ["EndCharacters"] = "]]", ["SendMetaKeys"] = new JsonArray("action") },
            ["TTSParamPaths"] = new JsonObject { ["instruction"] = "payload.parameters.instruction" },
        };
        var id = await fixture.CreateInstanceAsync(body);
        fixture.Llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(20), "Hi.", " [[{\"act", "ion\":\"wave\",\"instruction\":\"soft\"}]]", "Bye", " now."));
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Hello?" }));

        var meta = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.AgentInstanceMetaInfo);
        Assert.Equal("""{"action":"wave"}""", meta.Data["MetaInfo"]!.ToJsonString());
        Assert.True(meta.Data["Round"]!.GetValue<long>() > 0);
        var second = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.LlmResult, d => d["Text"]!.GetValue<string>().StartsWith("Bye", StringComparison.Ordinal));
        Assert.Equal("Bye now.", second.Data["Text"]!.GetValue<string>());
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }
}
