using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Server.Instances;
using Parley.Testing;

namespace Parley.Server.Tests.Instances;

/// <summary>
/// Instance actions against ZEGO's 2.13.5 contract: an agent registered with only AgentId, the merged configuration
/// required complete, WindowSize/LoadMessageCount up to 500, UpdateAgentInstance replacing each given object (and
/// keeping what cannot change), LLM.AgentExtraInfo in the LLM request, and the digital-human fallback of ZEGO's sample.
/// </summary>
public sealed class Contract213InstanceTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    private async Task<string> RegisterBareAgentAsync()
    {
        var id = fixture.Unique("bare");
        AssertCode(0, await fixture.Api().CallAsync("RegisterAgent", new { AgentId = id }));
        return id;
    }

    [Fact]
    public async Task AgentWithOnlyAgentId_NeedsACompleteMergedConfig_NamingTheMissingField()
    {
        var api = fixture.Api();
        var agent = await RegisterBareAgentAsync();

        var body = fixture.CreateBody(agent);
        var reply = await api.CallAsync("CreateAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("LLM.Url", reply.Message());

        body["LLM"] = new JsonObject { ["Url"] = fixture.Llm.Url };
        reply = await api.CallAsync("CreateAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("LLM.Model", reply.Message());

        body["LLM"] = new JsonObject { ["Url"] = fixture.Llm.Url, ["Model"] = "m" };
        reply = await api.CallAsync("CreateAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("TTS.Vendor", reply.Message());

        body["TTS"] = new JsonObject { ["Vendor"] = "Local" };
        var id = await fixture.CreateInstanceAsync(body);
        AssertCode(0, await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task WindowSize_AndLoadMessageCount_Accept500()
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["MessageHistory"] = new JsonObject { ["SyncMode"] = 1, ["Messages"] = new JsonArray(), ["WindowSize"] = 500, ["ZIM"] = new JsonObject { ["RobotId"] = "robot", ["LoadMessageCount"] = 500 } };
        var id = await fixture.CreateInstanceAsync(body);
        AssertCode(0, await fixture.Api().CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task AgentExtraInfo_IsSentToTheLlmAsAgentExtraInfo()
    {
        var llm = new JsonObject
        {
            ["Url"] = fixture.Llm.Url,
            ["Model"] = "m",
            ["AgentExtraInfo"] = new JsonObject { ["user_custom_key1"] = "value1", ["tier"] = 3, ["tags"] = new JsonArray("a", "b") },
        };
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync(llm: llm)));
        var count = fixture.Llm.Requests.Count;
        AssertCode(0, await fixture.Api().CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "hello" }));
        var sent = (await fixture.Llm.WaitForRequestAsync(count + 1)).Body;
        Assert.Equal("""{"user_custom_key1":"value1","tier":3,"tags":["a","b"]}""", sent["agent_extra_info"]!.ToJsonString());
        AssertCode(0, await fixture.Api().CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task UpdateAgentInstance_BadNewFields_AreNamed()
    {
        var api = fixture.Api();
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));
        var reply = await api.CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, TTS = new { Url = "gopher://tts" } });
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("TTS.Url", reply.Message());
        reply = await api.CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, TTS = new { CharacterFilter = new[] { "abc" } } });
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("TTS.CharacterFilter[0]", reply.Message());
        reply = await api.CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, ASR = new { Vendor = "Nope" } });
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("ASR.Vendor", reply.Message());
        reply = await api.CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, LLM = new { Url = fixture.Llm.Url, Model = "m", AgentExtraInfo = 5 } });
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("LLM.AgentExtraInfo", reply.Message());
        AssertCode(0, await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task UpdateAgentInstance_IgnoresTheTtsFieldsThatCannotChange()
    {
        var api = fixture.Api();
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));

        // A running instance keeps its TTS.Vendor, FilterText, TerminatorText and CharacterFilter: given, they are ignored
        // (a vendor this server would refuse to speak with is not even looked at).
        AssertCode(0, await api.CallAsync("UpdateAgentInstance", new
        {
            AgentInstanceId = id,
            TTS = new { Vendor = "MiniMax", Params = new { speed = 1.1 }, TerminatorText = "#", CharacterFilter = new[] { "#" } },
        }));
        AssertCode(0, await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task ZegoSampleDigitalHumanRoute_FallsBackToAVoiceInstance()
    {
        // src/app/api/start-digital-human/route.ts: CreateDigitalHumanAgentInstance; on Code 410001025
        // (CONSTANTS.ERROR_CODES.DIGITAL_HUMAN_CONCURRENCY_LIMIT) it calls createAgentInstance with the same RTC
        // and reads fallbackResult.Data.AgentInstanceId; any other non-zero code fails the route.
        var api = fixture.Api();
        var agent = await fixture.RegisterAgentAsync();
        var roomConfig = new JsonObject
        {
            ["RoomId"] = "room_dh",
            ["AgentStreamId"] = fixture.Unique("stream_agent_"),
            ["AgentUserId"] = fixture.Unique("user_agent_"),
            ["UserStreamId"] = "user_stream_dh",
        };
        var history = new JsonObject { ["SyncMode"] = 1, ["Messages"] = new JsonArray(), ["WindowSize"] = 10 };
        var result = await api.CallAsync("CreateDigitalHumanAgentInstance", new JsonObject
        {
            ["AgentId"] = agent,
            ["UserId"] = "user_dh",
            ["RTC"] = roomConfig.DeepClone(),
            ["DigitalHuman"] = new JsonObject { ["DigitalHumanId"] = "c4b56d5c", ["ConfigId"] = "web" },
            ["MessageHistory"] = history.DeepClone(),
            ["LLM"] = null,
            ["TTS"] = null,
            ["ASR"] = null,
            ["CallbackConfig"] = null,
        });
        Assert.Equal(ReturnCodes.DigitalHumanResourcesInsufficient, result.Code());

        var fallback = await api.CallAsync("CreateAgentInstance", new JsonObject
        {
            ["AgentId"] = agent,
            ["UserId"] = "user_dh",
            ["RTC"] = roomConfig.DeepClone(),
            ["MessageHistory"] = history.DeepClone(),
            ["LLM"] = null,
            ["TTS"] = null,
            ["ASR"] = null,
            ["CallbackConfig"] = null,
        });
        AssertCode(0, fallback);
        var instanceId = fallback.Data().GetProperty("AgentInstanceId").GetString();
        Assert.False(string.IsNullOrEmpty(instanceId));
        AssertCode(0, await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = instanceId }));
    }
}

/// <summary>The UpdateAgentInstance merge rule (<see cref="InstanceConfig.Merge"/>) and the CreateAgentInstance one (<see cref="InstanceConfig.Overlay"/>).</summary>
public sealed class InstanceConfigMergeTests
{
    private static JsonObject O(string json) => JsonNode.Parse(json)!.AsObject();

    [Fact]
    public void Merge_AGivenObjectReplacesTheBaseline()
    {
        var merged = InstanceConfig.Merge(O("""{"Url":"u","Model":"a","SystemPrompt":"p","Params":{"max_tokens":5}}"""), O("""{"Url":"u2","Model":"b","Params":{"top_k":1}}"""));
        Assert.Equal("""{"Url":"u2","Model":"b","Params":{"top_k":1}}""", merged.ToJsonString());
    }

    [Fact]
    public void Merge_NoOverlay_KeepsTheBaseline_AndNullFieldsAreDropped()
    {
        Assert.Equal("""{"Model":"a"}""", InstanceConfig.Merge(O("""{"Model":"a"}"""), null).ToJsonString());
        Assert.Equal("""{"Model":"b"}""", InstanceConfig.Merge(O("""{"Model":"a","SystemPrompt":"p"}"""), O("""{"Model":"b","SystemPrompt":null}""")).ToJsonString());
    }

    [Fact]
    public void Merge_KeepsTheTtsFieldsThatCannotChange_AndAnOmittedVendor()
    {
        var baseline = O("""{"Vendor":"Local","Params":{"voice":"kal16"},"FilterText":[{"BeginCharacters":"(","EndCharacters":")"}],"TerminatorText":"#","CharacterFilter":["-"]}""");
        var merged = InstanceConfig.Merge(baseline, O("""{"Params":{"speed":1.2},"TerminatorText":"%","CharacterFilter":["*"],"FilterText":[]}"""));
        Assert.Equal("Local", merged["Vendor"]!.GetValue<string>());
        Assert.Equal("""{"speed":1.2}""", merged["Params"]!.ToJsonString());
        Assert.Equal("#", merged["TerminatorText"]!.GetValue<string>());
        Assert.Equal("""["-"]""", merged["CharacterFilter"]!.ToJsonString());
        Assert.Single(merged["FilterText"]!.AsArray());

        // Not set at creation: still cannot be added later.
        Assert.False(InstanceConfig.Merge(O("""{"Vendor":"Local"}"""), O("""{"CharacterFilter":["*"]}""")).ContainsKey("CharacterFilter"));
    }

    [Fact]
    public void Overlay_MergesFieldByField()
    {
        var merged = InstanceConfig.Overlay(O("""{"Url":"u","Model":"a","Params":{"max_tokens":5}}"""), O("""{"Model":"b","Params":{"top_k":1},"SystemPrompt":null}"""));
        Assert.Equal("""{"Url":"u","Model":"b","Params":{"max_tokens":5,"top_k":1}}""", merged.ToJsonString());
    }
}
