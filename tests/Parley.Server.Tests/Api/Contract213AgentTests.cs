using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Testing;

namespace Parley.Server.Tests.Api;

/// <summary>
/// The agent actions against ZEGO's 2.13.5 contract (shared/spec/zego-2.13-delta.md sections 1–2): the vendor enums,
/// RegisterAgent with only AgentId, the exact QueryAgents echo ZEGO's server sample deep-compares, the new TTS/LLM
/// fields, and the digital-human actions answering 410001025.
/// </summary>
public sealed class Contract213AgentTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string LlmJson = """{"Url":"http://127.0.0.1:9/v1/chat/completions","ApiKey":"k","Model":"m"}""";

    private static string NewId() => "c213_" + Guid.NewGuid().ToString("N")[..12];

    [Theory]
    [InlineData("ByteDanceV3", """{"app":{"appid":"zego_test","token":"zego_test","resource_id":"seed-tts-2.0"},"req_params":{"speaker":"zh_female_vv_uranus_bigtts"}}""")]
    [InlineData("ByteDanceFlowing", """{"app":{"appid":"a","token":"t","resource_id":"seed-tts-2.0"}}""")]
    [InlineData("MiniMax", """{"app":{"group_id":"","api_key":""},"model":"speech-2.8-turbo","voice_setting":{"voice_id":""}}""")]
    [InlineData("Aliyun", """{"app":{"app_key":"k","ak_id":"i","ak_key":"s"},"voice":"xiaoyun"}""")]
    [InlineData("CosyVoice", """{"app":{"api_key":"sk-placeholder"},"payload":{"model":"cosyvoice-v2","parameters":{"voice":"longxiaochun_v2"}}}""")]
    [InlineData("ByteDance", """{"app":{"appid":"a","token":"t","cluster":"volcano_tts"}}""")]
    [InlineData("Bytedance", """{"app":{"appid":"a","token":"t","cluster":"volcano_tts"}}""")]
    public async Task TtsVendors_OfTheContract_AreAcceptedAtRegistration(string vendor, string parameters)
    {
        var api = fixture.Api();
        var reply = await api.SendAsync(api.Query("RegisterAgent"), $$$$"""{"AgentId":"{{{{NewId()}}}}","LLM":{{{{LlmJson}}}},"TTS":{"Vendor":"{{{{vendor}}}}","Params":{{{{parameters}}}}}}""");
        Assert.True(reply.Code() == 0, reply.ToString());
    }

    [Theory]
    [InlineData("Tencent")]
    [InlineData("AliyunParaformer")]
    [InlineData("Microsoft")]
    [InlineData("AliyunFunASR")]
    [InlineData("AliyunQwenASR")]
    [InlineData("VolcSeedASR")]
    public async Task AsrVendors_OfTheContract_AreAccepted(string vendor)
    {
        var api = fixture.Api();
        var reply = await api.SendAsync(api.Query("RegisterAgent"), $$$$"""{"AgentId":"{{{{NewId()}}}}","LLM":{{{{LlmJson}}}},"TTS":{"Vendor":"Local"},"ASR":{"Vendor":"{{{{vendor}}}}","Params":{}}}""");
        Assert.True(reply.Code() == 0, reply.ToString());
    }

    public static TheoryData<string, string, string> BadFields => new()
    {
        { "ASR", """{"Vendor":"Whisperer"}""", "ASR.Vendor" },
        { "ASR", """{"Vendor":7}""", "ASR.Vendor" },
        { "TTS", """{"Vendor":"ByteDanceV4","Params":{"app":{}}}""", "TTS.Vendor" },
        { "TTS", """{"Vendor":"ByteDanceV3","Params":{}}""", "TTS.Params.app" },
        { "TTS", """{"Vendor":"Local","Url":"ftp://tts.example/ws"}""", "TTS.Url" },
        { "TTS", """{"Vendor":"Local","Url":"/relative/path"}""", "TTS.Url" },
        { "TTS", """{"Vendor":"Local","Url":42}""", "TTS.Url" },
        { "TTS", """{"Vendor":"Local","Url":"wss://169.254.169.254/ws"}""", "TTS.Url" },
        { "TTS", """{"Vendor":"Local","CharacterFilter":"#"}""", "TTS.CharacterFilter" },
        { "TTS", """{"Vendor":"Local","CharacterFilter":["###"]}""", "TTS.CharacterFilter[0]" },
        { "TTS", """{"Vendor":"Local","CharacterFilter":["#",""]}""", "TTS.CharacterFilter[1]" },
        { "TTS", """{"Vendor":"Local","CharacterFilter":[1]}""", "TTS.CharacterFilter[0]" },
        { "LLM", """{"Url":"http://127.0.0.1:9/v1/chat/completions","Model":"m","AgentExtraInfo":"x"}""", "LLM.AgentExtraInfo" },
        { "LLM", """{"Url":"http://127.0.0.1:9/v1/chat/completions","Model":"m","AgentExtraInfo":[1]}""", "LLM.AgentExtraInfo" },
        { "LLM", """{"Url":"http://127.0.0.1:9/v1/responses","Model":"m","Vendor":7}""", "LLM.Vendor" },
        { "LLM", """{"Url":"http://127.0.0.1:9/v1/responses","Vendor":"OpenAIResponses"}""", "LLM.Model" },
        { "LLM", """{"Url":"ftp://127.0.0.1:9/v1/responses","Model":"m","Vendor":"OpenAIResponses"}""", "LLM.Url" },
        { "LLM", """{"Url":"http://169.254.169.254/v1/responses","Model":"m","Vendor":"OpenAIResponses"}""", "LLM.Url" },
        { "LLM", """{"Url":"http://127.0.0.1:9/v1/responses","Model":"m","Vendor":"OpenAIResponses","Params":[1]}""", "LLM.Params" },
        { "ASR", """{"Vendor":"AliyunParaformer","Params":{"payload":"x"}}""", "ASR.Params.payload" },
        { "ASR", """{"Vendor":"AliyunParaformer","Params":{"payload":{"model":7}}}""", "ASR.Params.payload.model" },
        { "ASR", """{"Vendor":"AliyunFunASR","Params":{"payload":{"parameters":"x"}}}""", "ASR.Params.payload.parameters" },
        { "ASR", """{"Vendor":"AliyunFunASR","Params":{"payload":{"parameters":{"language_hints":"en"}}}}""", "ASR.Params.payload.parameters.language_hints" },
        { "ASR", """{"Vendor":"AliyunParaformer","Params":{"payload":{"parameters":{"language_hints":[1]}}}}""", "ASR.Params.payload.parameters.language_hints[0]" },
        { "LLM", """{"Url":"http://127.0.0.1:9/v1/chat/completions","Model":"m","Vendor":"Anthropic"}""", "LLM.Vendor" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public async Task BadNewFields_Are410000003NamingTheField(string key, string json, string field)
    {
        var api = fixture.Api();
        var reply = await api.CallAsync("RegisterAgent", new JsonObject { ["AgentId"] = NewId(), [key] = JsonNode.Parse(json) });
        Assert.True(reply.Code() == ReturnCodes.InvalidParameter, reply.ToString());
        Assert.Contains(field, reply.Message());
    }

    [Fact]
    public async Task OpenAIResponses_AndOpenAIChat_AreAccepted()
    {
        var api = fixture.Api();
        var reply = await api.SendAsync(api.Query("RegisterAgent"), $$$$"""{"AgentId":"{{{{NewId()}}}}","LLM":{"Vendor":"OpenAIResponses","Url":"https://ark.cn-beijing.volces.com/api/v3/responses","Model":"m","Params":{"max_output_tokens":100}}}""");
        Assert.True(reply.Code() == 0, reply.ToString());
        reply = await api.CallAsync("RegisterAgent", new JsonObject
        {
            ["AgentId"] = NewId(),
            ["ASR"] = JsonNode.Parse("""{"Vendor":"AliyunParaformer","Params":{"payload":{"model":"paraformer-realtime-v2","parameters":{"language_hints":["en"]}}}}"""),
        });
        Assert.True(reply.Code() == 0, reply.ToString());
        reply = await api.SendAsync(api.Query("RegisterAgent"), $$$$"""{"AgentId":"{{{{NewId()}}}}","LLM":{"Vendor":"OpenAIChat","Url":"https://llm.example/v1/chat/completions","Model":"m"}}""");
        Assert.True(reply.Code() == 0, reply.ToString());
    }

    [Fact]
    public async Task NewTtsAndLlmFields_AreAccepted_AndEchoed()
    {
        var api = fixture.Api();
        var id = NewId();
        var tts = """{"Vendor":"MiniMax","Url":"wss://api.minimaxi.com/ws/v1/t2a_v2","Params":{"app":{"api_key":"k"}},"CharacterFilter":["#","##","-","😀"]}""";
        var llm = """{"Url":"https://llm.example/v1/chat/completions","Model":"m","AgentExtraInfo":{"user_custom_key1":"value1","n":2,"nested":{"a":[1,2]}}}""";
        var reply = await api.SendAsync(api.Query("RegisterAgent"), $$$$"""{"AgentId":"{{{{id}}}}","LLM":{{{{llm}}}},"TTS":{{{{tts}}}}}""");
        Assert.True(reply.Code() == 0, reply.ToString());
        var agent = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents")[0];
        Assert.True(ZegoSampleObject.IsEqual(JsonNode.Parse(tts), JsonNode.Parse(agent.GetProperty("TTS").GetRawText())));
        Assert.True(ZegoSampleObject.IsEqual(JsonNode.Parse(llm), JsonNode.Parse(agent.GetProperty("LLM").GetRawText())));
    }

    [Fact]
    public async Task RegisterAgent_WithOnlyAgentId_IsAccepted_AndEchoesEmptyObjects()
    {
        var api = fixture.Api();
        var id = NewId();
        var reply = await api.CallAsync("RegisterAgent", new { AgentId = id });
        Assert.True(reply.Code() == 0, reply.ToString());
        var agent = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents")[0];
        Assert.Equal("{}", agent.GetProperty("LLM").GetRawText());
        Assert.Equal("{}", agent.GetProperty("TTS").GetRawText());

        // UpdateAgent may then give the objects (each complete) one at a time.
        Assert.Equal(0, (await api.CallAsync("UpdateAgent", new { AgentId = id, Name = "renamed" })).Code());
        var update = await api.SendAsync(api.Query("UpdateAgent"), $$$$"""{"AgentId":"{{{{id}}}}","TTS":{"Vendor":"Local"}}""");
        Assert.True(update.Code() == 0, update.ToString());
    }

    /// <summary>ZEGO's server sample's default configuration (src/lib/zego/aiagent.ts getDefaultAgentConfig / buildTTSConfig), as it registers it.</summary>
    public static TheoryData<string> SampleTts => new()
    {
        // MiniMax, the default without TTS_* variables.
        """{"Vendor":"MiniMax","Params":{"app":{"group_id":"","api_key":""},"model":"speech-2.8-turbo","voice_setting":{"voice_id":"","speed":1,"vol":1,"pitch":0},"audio_setting":{"sample_rate":32000,"bitrate":128000,"format":"mp3","channel":1}},"FilterText":[{"BeginCharacters":"(","EndCharacters":")"},{"BeginCharacters":"（","EndCharacters":"）"},{"BeginCharacters":"{","EndCharacters":"}"}]}""",

        // The legacy ByteDance variables (Vendor ByteDanceV3 with the older HTTP parameters).
        """{"Vendor":"ByteDanceV3","Params":{"app":{"appid":"app","token":"tok","cluster":"volcano_tts"},"speed_ratio":1,"volume_ratio":1,"pitch_ratio":1,"emotion":"happy","audio":{"rate":24000,"voice_type":"zh_female_wanwanxiaohe_moon_bigtts"}},"FilterText":[{"BeginCharacters":"(","EndCharacters":")"},{"BeginCharacters":"（","EndCharacters":"）"},{"BeginCharacters":"{","EndCharacters":"}"}]}""",

        // The older sample (Vendor "ByteDance").
        """{"Vendor":"ByteDance","Params":{"app":{"appid":"","token":"","cluster":""},"speed_ratio":1,"volume_ratio":1,"pitch_ratio":1,"emotion":"happy","audio":{"rate":24000,"voice_type":""}},"FilterText":[{"BeginCharacters":"(","EndCharacters":")"}]}""",
    };

    [Theory]
    [MemberData(nameof(SampleTts))]
    public async Task QueryAgents_EchoesWhatZegosSampleRegistered_SoItsDeepCompareHolds(string tts)
    {
        // ensureAgentRegistered: QueryAgents, RegisterAgent when missing, then compareAgentConfig (isEqual of src/lib/object.ts
        // over {LLM, TTS, ASR}) and UpdateAgent when it differs. Parley must echo the objects so that isEqual holds.
        var api = fixture.Api();
        var id = NewId();
        var llm = """{"Url":"https://ark.cn-beijing.volces.com/api/v3/chat/completions","ApiKey":"zego_test","Model":"doubao-1-5-lite-32k-250115","SystemPrompt":"\n请根据用户提供的知识库内容用友好的语气回答用户问题。\n"}""";
        var defaults = JsonNode.Parse($$$$"""{"LLM":{{{{llm}}}},"TTS":{{{{tts}}}},"ASR":{"Params":{}}}""")!.AsObject();

        var missing = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents");
        Assert.Equal(0, missing.GetArrayLength());
        var register = await api.SendAsync(api.Query("RegisterAgent"), $$$$"""{"AgentId":"{{{{id}}}}","Name":"李浩然","LLM":{{{{llm}}}},"TTS":{{{{tts}}}},"ASR":{"Params":{}}}""");
        Assert.True(register.Code() == 0, register.ToString());

        for (var pass = 0; pass < 2; pass++)
        {
            var agents = JsonNode.Parse((await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents").GetRawText())!.AsArray();
            var found = agents.Single(a => a!["AgentId"]!.GetValue<string>() == id)!;
            var echoed = new JsonObject { ["LLM"] = found["LLM"]?.DeepClone(), ["TTS"] = found["TTS"]?.DeepClone(), ["ASR"] = found["ASR"]?.DeepClone() };
            Assert.True(ZegoSampleObject.IsEqual(echoed, defaults), $"the sample would call UpdateAgent: {echoed.ToJsonString()}");
            Assert.Equal("""{"Params":{}}""", found["ASR"]!.ToJsonString());

            // The sample's UpdateAgent sends the same body: the echo stays equal.
            var update = await api.SendAsync(api.Query("UpdateAgent"), $$$$"""{"AgentId":"{{{{id}}}}","Name":"李浩然","LLM":{{{{llm}}}},"TTS":{{{{tts}}}},"ASR":{"Params":{}}}""");
            Assert.True(update.Code() == 0, update.ToString());
        }
    }

    [Fact]
    public void ZegoSampleIsEqual_ReportsADifference()
    {
        // The compare itself must be able to fail (a merged echo with an extra key is unequal).
        Assert.False(ZegoSampleObject.IsEqual(JsonNode.Parse("""{"ASR":{"Params":{}}}"""), JsonNode.Parse("""{"ASR":{"Params":{},"HotWord":""}}""")));
        Assert.False(ZegoSampleObject.IsEqual(JsonNode.Parse("""{"a":[1,2]}"""), JsonNode.Parse("""{"a":[2,1]}""")));
        Assert.False(ZegoSampleObject.IsEqual(JsonNode.Parse("""{"a":1}"""), JsonNode.Parse("""{"a":"1"}""")));
        Assert.True(ZegoSampleObject.IsEqual(JsonNode.Parse("""{"a":1,"b":{"c":null}}"""), JsonNode.Parse("""{"b":{"c":null},"a":1.0}""")));
    }

    private static JsonObject DigitalHumanBody(string agentId) => new()
    {
        ["AgentId"] = agentId,
        ["UserId"] = "user_dh",
        ["RTC"] = new JsonObject { ["RoomId"] = "room_dh", ["AgentStreamId"] = "stream_agent_dh", ["AgentUserId"] = "user_agent_dh", ["UserStreamId"] = "user_stream_dh" },
        ["DigitalHuman"] = new JsonObject { ["DigitalHumanId"] = "c4b56d5c-db98-4d91-86d4-5a97b507da97", ["ConfigId"] = "web" },
        ["MessageHistory"] = new JsonObject { ["SyncMode"] = 1, ["Messages"] = new JsonArray(), ["WindowSize"] = 10 },
        ["LLM"] = null,
        ["TTS"] = null,
        ["ASR"] = null,
        ["CallbackConfig"] = null,
    };

    [Fact]
    public async Task DigitalHumanActions_Answer410001025_SayingDigitalHumansAreNotServed()
    {
        var api = fixture.Api();
        var reply = await api.CallAsync("CreateDigitalHumanAgentInstance", DigitalHumanBody("ai_agent_example_1"));
        Assert.Equal(ReturnCodes.DigitalHumanResourcesInsufficient, reply.Code());
        Assert.Contains("digital humans are not served by this deployment", reply.Message());

        var live = await api.CallAsync("CreateLiveDigitalHumanAgentInstance", new
        {
            AgentId = "ai_agent_example_1",
            DigitalHuman = new { DigitalHumanId = "dh", ConfigId = "web" },
            RTC = new { RoomId = "room_dh", AgentStreamId = "stream_agent_x", AgentUserId = "user_agent_x" },
        });
        Assert.Equal(ReturnCodes.DigitalHumanResourcesInsufficient, live.Code());
        var cdn = await api.CallAsync("CreateLiveDigitalHumanAgentInstance", new { AgentId = "a", DigitalHuman = new { DigitalHumanId = "dh" }, CDN = new { Url = "rtmp://push.example/live/s" } });
        Assert.Equal(ReturnCodes.DigitalHumanResourcesInsufficient, cdn.Code());
    }

    public static TheoryData<string, string, string, int, string> BadDigitalHumanBodies => new()
    {
        { "CreateDigitalHumanAgentInstance", "DigitalHuman", "null", ReturnCodes.DigitalHumanInvalidParameter, "DigitalHuman" },
        { "CreateDigitalHumanAgentInstance", "DigitalHuman", "\"dh\"", ReturnCodes.DigitalHumanInvalidParameter, "DigitalHuman" },
        { "CreateDigitalHumanAgentInstance", "DigitalHuman", "{\"ConfigId\":\"web\"}", ReturnCodes.DigitalHumanInvalidParameter, "DigitalHuman.DigitalHumanId" },
        { "CreateDigitalHumanAgentInstance", "DigitalHuman", "{\"DigitalHumanId\":\"d\",\"ConfigId\":\"tv\"}", ReturnCodes.DigitalHumanInvalidParameter, "DigitalHuman.ConfigId" },
        { "CreateDigitalHumanAgentInstance", "DigitalHuman", "{\"DigitalHumanId\":\"d\",\"EncodeCode\":\"VP8\"}", ReturnCodes.DigitalHumanInvalidParameter, "DigitalHuman.EncodeCode" },
        { "CreateDigitalHumanAgentInstance", "UserId", "null", ReturnCodes.InvalidParameter, "UserId" },
        { "CreateDigitalHumanAgentInstance", "RTC", "{\"RoomId\":\"r\"}", ReturnCodes.InvalidParameter, "RTC.AgentStreamId" },
        { "CreateDigitalHumanAgentInstance", "TTS", "{\"Vendor\":\"Nope\"}", ReturnCodes.InvalidParameter, "TTS.Vendor" },
        { "CreateDigitalHumanAgentInstance", "MessageHistory", "{\"WindowSize\":501}", ReturnCodes.InvalidParameter, "MessageHistory.WindowSize" },
        { "CreateLiveDigitalHumanAgentInstance", "RTC", "null", ReturnCodes.InvalidParameter, "RTC or CDN" },
        { "CreateLiveDigitalHumanAgentInstance", "CDN", "{\"Url\":\"file:///etc/passwd\"}", ReturnCodes.InvalidParameter, "CDN.Url" },
        { "CreateLiveDigitalHumanAgentInstance", "RTC", "{\"RoomId\":\"r\",\"AgentStreamId\":\"s\"}", ReturnCodes.InvalidParameter, "RTC.AgentUserId" },
        { "CreateLiveDigitalHumanAgentInstance", "DigitalHuman", "{}", ReturnCodes.DigitalHumanInvalidParameter, "DigitalHuman.DigitalHumanId" },
        { "CreateLiveDigitalHumanAgentInstance", "AgentId", "\"a b\"", ReturnCodes.InvalidParameter, "AgentId" },
    };

    [Theory]
    [MemberData(nameof(BadDigitalHumanBodies))]
    public async Task DigitalHumanActions_ValidateTheirBodiesFirst(string action, string field, string json, int code, string named)
    {
        var body = DigitalHumanBody("ai_agent_example_1");
        if (action == "CreateLiveDigitalHumanAgentInstance")
        {
            body.Remove("UserId");
            body["RTC"]!.AsObject().Remove("UserStreamId");
        }

        body[field] = JsonNode.Parse(json);
        var reply = await fixture.Api().CallAsync(action, body);
        Assert.True(reply.Code() == code, reply.ToString());
        Assert.Contains(named, reply.Message());
    }
}

/// <summary>
/// A port of <c>isEqual</c> from ZEGO's server sample (ZEGOCLOUD/ai_agent_quick_start_server src/lib/object.ts):
/// same reference or both objects with the same key count and every key of the first equal in the second; arrays
/// element by element; primitives by JavaScript's <c>===</c> on the parsed JSON values.
/// </summary>
public static class ZegoSampleObject
{
    public static bool IsEqual(JsonNode? a, JsonNode? b)
    {
        switch (a, b)
        {
            case (null, null):
                return true;
            case (null, _) or (_, null):
                return false;
            case (JsonArray x, JsonArray y):
                return x.Count == y.Count && x.Zip(y).All(p => IsEqual(p.First, p.Second));
            case (JsonArray, _) or (_, JsonArray):
                return false;
            case (JsonObject x, JsonObject y):
                return x.Count == y.Count && x.All(p => y.ContainsKey(p.Key) && IsEqual(p.Value, y[p.Key]));
            case (JsonObject, _) or (_, JsonObject):
                return false;
            default:
                var (kx, ky) = (a.GetValueKind(), b.GetValueKind());
                return kx == ky && kx switch
                {
                    JsonValueKind.Number => double.Parse(a.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture) == double.Parse(b.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture),
                    JsonValueKind.String => a.GetValue<string>() == b.GetValue<string>(),
                    _ => true,
                };
        }
    }
}
