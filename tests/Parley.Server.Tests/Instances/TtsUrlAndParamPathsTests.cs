using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Callbacks;
using Parley.Testing;
using Parley.Testing.Fakes;
using Parley.Testing.FakeLlm;

namespace Parley.Server.Tests.Instances;

/// <summary>
/// TTS.Url is CosyVoice's endpoint (the configured DashScope URL leads nowhere), and AdvancedConfig.TTSParamPaths puts
/// a sentence's metadata value into that sentence's run-task only; CharacterFilter stays out of the synthesised text.
/// </summary>
public sealed class TtsUrlAndParamPathsTests
{
    private const string Key = "sk-speech-text";

    [Fact]
    public async Task CosyVoiceAtTtsUrl_GetsTheInstructionInSentenceTwoOnly()
    {
        await using var dashScope = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions { ApiKey = Key, TtsFirstAudio = TimeSpan.FromMilliseconds(10) });
        await using var llm = await FakeLlmServer.StartAsync();
        var callbacks = new RecordingCallbackPublisher();
        await using var server = await ParleyTestServer.StartAsync(
            [InstanceServerFixture.AppA],
            new Dictionary<string, string?>
            {
                ["Parley:RateLimitPerSecond"] = "1000",
                ["Parley:Orleans:SiloPort"] = "0",
                ["Parley:Orleans:GatewayPort"] = "0",
                ["Parley:Vendors:DashScope:Url"] = "ws://127.0.0.1:9/api-ws/v1/inference",
            },
            builder => Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions.Replace(builder.Services, Microsoft.Extensions.DependencyInjection.ServiceDescriptor.Singleton<ICallbackPublisher>(callbacks)));
        var api = new RawApi(server.CreateHttpClient(), InstanceServerFixture.AppA);

        var register = await api.CallAsync("RegisterAgent", new JsonObject
        {
            ["AgentId"] = "cosy",
            ["Name"] = "Cosy",
            ["LLM"] = new JsonObject { ["Url"] = llm.Url, ["ApiKey"] = "sk", ["Model"] = "m" },
            ["TTS"] = new JsonObject
            {
                ["Vendor"] = "CosyVoice",
                ["Url"] = dashScope.Url,
                ["CharacterFilter"] = new JsonArray("#"),
                ["Params"] = new JsonObject
                {
                    ["app"] = new JsonObject { ["api_key"] = Key },
                    ["payload"] = new JsonObject { ["parameters"] = new JsonObject { ["voice"] = "longxiaochun_v2" } },
                },
            },
        });
        Assert.True(register.Code() == 0, register.ToString());
        var create = await api.CallAsync("CreateAgentInstance", new JsonObject
        {
            ["AgentId"] = "cosy",
            ["UserId"] = "user_1",
            ["RTC"] = new JsonObject { ["RoomId"] = "room_t", ["AgentStreamId"] = "agent_s", ["AgentUserId"] = "agent_u", ["UserStreamId"] = "user_s" },
            ["CallbackConfig"] = new JsonObject { ["LLMResult"] = 1 },
            ["AdvancedConfig"] = new JsonObject
            {
                ["LLMMetaInfo"] = new JsonObject { ["BeginCharacters"] = "[[", ["EndCharacters"] = "]]", ["SendMetaKeys"] = new JsonArray("action") },
                ["TTSParamPaths"] = new JsonObject { ["instruction"] = "payload.parameters.instruction" },
            },
        });
        Assert.True(create.Code() == 0, create.ToString());
        var id = create.Data().GetProperty("AgentInstanceId").GetString()!;

        llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(10), "# First one here.", " [[{\"instruction\":\"speak gently\",\"action\":\"nod\"}]]Second", " one."));
        var send = await api.CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Hi" });
        Assert.True(send.Code() == 0, send.ToString());

        var meta = await callbacks.WaitForAsync(id, CallbackEvents.AgentInstanceMetaInfo);
        Assert.Equal("""{"action":"nod"}""", meta.Data["MetaInfo"]!.ToJsonString());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (dashScope.RunTasks.Count < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{dashScope.RunTasks.Count} run-tasks at the TTS.Url endpoint");
            await Task.Delay(20);
        }

        var tasks = dashScope.RunTasks;
        Assert.Null(tasks[0]["payload"]!["parameters"]!["instruction"]);
        Assert.Equal("speak gently", tasks[1]["payload"]!["parameters"]!["instruction"]!.GetValue<string>());
        Assert.Equal(0, dashScope.TasksFailed);

        var first = await callbacks.WaitForAsync(id, CallbackEvents.LlmResult);
        Assert.Equal("# First one here.", first.Data["Text"]!.GetValue<string>());
        Assert.Equal(0, (await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = id })).Code());
    }
}
