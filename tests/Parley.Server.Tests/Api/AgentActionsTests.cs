using System.Text.Json;
using Parley.Server.Api;
using Parley.Testing;

namespace Parley.Server.Tests.Api;

public sealed class AgentActionsTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static object Llm => new { Url = "http://127.0.0.1:9/v1/chat/completions", ApiKey = "sk-test", Model = "gpt-test", SystemPrompt = "You are terse.", Temperature = 0.5, TopP = 0.8, Params = new { max_tokens = 128 } };

    private static object Tts => new { Vendor = "Local", Params = new { engine = "flite", voice = "kal16" } };

    private static string NewId() => "agent_" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task Register_ThenQuery_EchoesTheStoredConfiguration()
    {
        var api = fixture.Api();
        var id = NewId();
        Assert.Equal(0, (await api.CallAsync("RegisterAgent", new { AgentId = id, Name = "Xiao Zhi", LLM = Llm, TTS = Tts, ASR = new { HotWord = "ZEGO|10", VADSilenceSegmentation = 600 } })).Code());

        var reply = await api.CallAsync("QueryAgents", new { AgentIds = new[] { id, "missing-one" } });
        Assert.Equal(0, reply.Code());
        var agents = reply.Data().GetProperty("Agents");
        var agent = Assert.Single(agents.EnumerateArray());
        Assert.Equal(id, agent.GetProperty("AgentId").GetString());
        Assert.Equal("Xiao Zhi", agent.GetProperty("Name").GetString());
        Assert.Equal("gpt-test", agent.GetProperty("LLM").GetProperty("Model").GetString());
        Assert.Equal(128, agent.GetProperty("LLM").GetProperty("Params").GetProperty("max_tokens").GetInt32());
        Assert.Equal("Local", agent.GetProperty("TTS").GetProperty("Vendor").GetString());
        Assert.Equal(600, agent.GetProperty("ASR").GetProperty("VADSilenceSegmentation").GetInt32());
    }

    [Fact]
    public async Task Register_ZegoSampleBody_WithBytedanceVendorInOtherCase_IsAccepted()
    {
        var api = fixture.Api();
        var id = NewId();
        var body = $$$$"""
            {"AgentId":"{{{{id}}}}","Name":"Sample","LLM":{"Url":"https://ark.cn-beijing.volces.com/api/v3/chat/completions","ApiKey":"zego_test","Model":"doubao-1-5-lite-32k-250115","SystemPrompt":"..."},
             "TTS":{"Vendor":"Bytedance","Params":{"app":{"appid":"zego_test","token":"zego_test","cluster":"volcano_tts"},"audio":{"voice_type":"zh_female_wanwanxiaohe_moon_bigtts"}}},
             "ASR":null}
            """;
        var reply = await api.SendAsync(api.Query("RegisterAgent"), body);
        Assert.Equal(0, reply.Code());
        var agent = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents")[0];
        Assert.Equal(JsonValueKind.Object, agent.GetProperty("ASR").ValueKind);
    }

    [Fact]
    public async Task Register_WrappedInAgentConfig_IsAccepted()
    {
        var api = fixture.Api();
        var id = NewId();
        Assert.Equal(0, (await api.CallAsync("RegisterAgent", new { AgentId = id, AgentConfig = new { Name = "Wrapped", LLM = Llm, TTS = Tts } })).Code());
        var agent = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents")[0];
        Assert.Equal("Wrapped", agent.GetProperty("Name").GetString());
    }

    [Fact]
    public async Task Register_Twice_ReturnsAgentAlreadyExists()
    {
        var api = fixture.Api();
        var id = NewId();
        Assert.Equal(0, (await api.CallAsync("RegisterAgent", new { AgentId = id, LLM = Llm, TTS = Tts })).Code());
        Assert.Equal(ReturnCodes.AgentAlreadyExists, (await api.CallAsync("RegisterAgent", new { AgentId = id, LLM = Llm, TTS = Tts })).Code());
    }

    public static TheoryData<string, string> BadRegistrations => new()
    {
        { """{"LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Local"}}""", "AgentId" },
        { """{"AgentId":"a b","LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Local"}}""", "AgentId" },
        { $$$"""{"AgentId":"{{{new string('a', 129)}}}","LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Local"}}""", "AgentId" },
        { """{"AgentId":42,"LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Local"}}""", "AgentId" },
        { """{"AgentId":"ok","LLM":{"Model":"m"},"TTS":{"Vendor":"Local"}}""", "LLM.Url" },
        { """{"AgentId":"ok","LLM":{"Url":"not a url","Model":"m"},"TTS":{"Vendor":"Local"}}""", "LLM.Url" },
        { """{"AgentId":"ok","LLM":{"Url":"http://x/v1/chat/completions"},"TTS":{"Vendor":"Local"}}""", "LLM.Model" },
        { """{"AgentId":"ok","LLM":{"Url":"http://x/v1/chat/completions","Model":"m","Temperature":3},"TTS":{"Vendor":"Local"}}""", "LLM.Temperature" },
        { """{"AgentId":"ok","LLM":{"Url":"http://x/v1/chat/completions","Model":"m","TopP":"high"},"TTS":{"Vendor":"Local"}}""", "LLM.TopP" },
        { """{"AgentId":"ok","LLM":{"Url":"http://x/v1/chat/completions","Model":"m","Params":[1]},"TTS":{"Vendor":"Local"}}""", "LLM.Params" },
        { """{"AgentId":"ok","LLM":"x"}""", "LLM" },
        { """{"AgentId":"ok","TTS":[]}""", "TTS" },
        { """{"AgentId":"ok","LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Nope"}}""", "TTS.Vendor" },
        { """{"AgentId":"ok","LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"MiniMax","Params":{}}}""", "TTS.Params.app" },
        { """{"AgentId":"ok","LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Local","TerminatorText":"#####"}}""", "TTS.TerminatorText" },
        { """{"AgentId":"ok","LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Local","FilterText":[{"BeginCharacters":"("}]}}""", "TTS.FilterText[0].EndCharacters" },
        { """{"AgentId":"ok","LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Local"},"ASR":{"VADSilenceSegmentation":100}}""", "ASR.VADSilenceSegmentation" },
        { """{"AgentId":"ok","LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Local"},"ASR":{"HotWord":"two words|5"}}""", "ASR.HotWord" },
        { """{"AgentId":"ok","LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Local"},"ASR":{"HotWord":"AI|12"}}""", "ASR.HotWord" },
        { $$$"""{"AgentId":"ok","Name":"{{{new string('n', 257)}}}","LLM":{"Url":"http://x/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Local"}}""", "Name" },
    };

    [Theory]
    [MemberData(nameof(BadRegistrations))]
    public async Task Register_BadInput_ReturnsInvalidParameterNamingTheField(string body, string field)
    {
        var api = fixture.Api();
        var reply = await api.SendAsync(api.Query("RegisterAgent"), body);
        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.Contains(field, reply.Message());
    }

    [Fact]
    public async Task Unregister_RemovesTheAgent_AndUnknownIsAgentNotFound()
    {
        var api = fixture.Api();
        var id = NewId();
        await api.CallAsync("RegisterAgent", new { AgentId = id, LLM = Llm, TTS = Tts });
        Assert.Equal(0, (await api.CallAsync("UnregisterAgent", new { AgentId = id })).Code());
        Assert.Equal(0, (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents").GetArrayLength());
        Assert.Equal(ReturnCodes.AgentNotFound, (await api.CallAsync("UnregisterAgent", new { AgentId = id })).Code());
        Assert.Equal(ReturnCodes.InvalidParameter, (await api.CallAsync("UnregisterAgent", new { })).Code());
    }

    [Fact]
    public async Task Update_ReplacesEachGivenObject_AndKeepsTheOthers()
    {
        // update-agent.yaml (2.13): "updated in a cover-up manner": a given LLM/TTS/ASR replaces the stored one whole.
        var api = fixture.Api();
        var id = NewId();
        await api.CallAsync("RegisterAgent", new { AgentId = id, Name = "Before", LLM = Llm, TTS = Tts, ASR = new { HotWord = "AI|5" } });
        Assert.Equal(0, (await api.CallAsync("UpdateAgent", new { AgentId = id, LLM = new { Url = "http://127.0.0.1:9/v2/chat/completions", Model = "gpt-other", Params = new { top_k = 3 } } })).Code());

        var agent = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents")[0];
        Assert.Equal("Before", agent.GetProperty("Name").GetString());
        var llm = agent.GetProperty("LLM");
        Assert.Equal("gpt-other", llm.GetProperty("Model").GetString());
        Assert.Equal("http://127.0.0.1:9/v2/chat/completions", llm.GetProperty("Url").GetString());
        Assert.False(llm.TryGetProperty("SystemPrompt", out _));
        Assert.False(llm.GetProperty("Params").TryGetProperty("max_tokens", out _));
        Assert.Equal(3, llm.GetProperty("Params").GetProperty("top_k").GetInt32());
        Assert.Equal("AI|5", agent.GetProperty("ASR").GetProperty("HotWord").GetString());
        Assert.Equal("Local", agent.GetProperty("TTS").GetProperty("Vendor").GetString());

        Assert.Equal(0, (await api.CallAsync("UpdateAgent", new { AgentId = id, Name = "After" })).Code());
        agent = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents")[0];
        Assert.Equal("After", agent.GetProperty("Name").GetString());
        Assert.Equal("gpt-other", agent.GetProperty("LLM").GetProperty("Model").GetString());
    }

    [Fact]
    public async Task Update_AGivenObjectMustBeComplete()
    {
        var api = fixture.Api();
        var id = NewId();
        await api.CallAsync("RegisterAgent", new { AgentId = id, LLM = Llm, TTS = Tts });
        var reply = await api.SendAsync(api.Query("UpdateAgent"), $$$"""{"AgentId":"{{{id}}}","LLM":{"Model":"only-the-model"}}""");
        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.Contains("LLM.Url", reply.Message());

        reply = await api.SendAsync(api.Query("UpdateAgent"), $$$$"""{"AgentId":"{{{{id}}}}","TTS":{"Params":{}}}""");
        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.Contains("TTS.Vendor", reply.Message());

        var llm = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents")[0].GetProperty("LLM");
        Assert.Equal("gpt-test", llm.GetProperty("Model").GetString());
    }

    [Fact]
    public async Task Update_UnknownAgent_IsAgentNotFound_AndBadFieldIsNamed()
    {
        var api = fixture.Api();
        Assert.Equal(ReturnCodes.AgentNotFound, (await api.CallAsync("UpdateAgent", new { AgentId = NewId(), Name = "x" })).Code());
        var reply = await api.CallAsync("UpdateAgent", new { AgentId = NewId(), TTS = new { Vendor = "Unknown" } });
        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.Contains("TTS.Vendor", reply.Message());
    }

    [Fact]
    public async Task List_PagesThroughEveryAgentExactlyOnce()
    {
        var app = new TestApp(1000777, "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2");
        await using var server = await ParleyTestServer.StartAsync([app], new Dictionary<string, string?> { ["Parley:RateLimitPerSecond"] = "1000" });
        var api = new RawApi(server.CreateHttpClient(), app);
        var ids = Enumerable.Range(0, 13).Select(i => $"agent-{i:D2}").ToHashSet();
        foreach (var id in ids)
        {
            Assert.Equal(0, (await api.CallAsync("RegisterAgent", new { AgentId = id, LLM = Llm, TTS = Tts })).Code());
        }

        var first = (await api.CallAsync("ListAgents", new { })).Data();
        Assert.Equal(13, first.GetProperty("Total").GetInt32());
        Assert.Equal(5, first.GetProperty("Agents").GetArrayLength());

        var seen = new List<string>();
        var cursor = "";
        var pages = 0;
        do
        {
            var data = (await api.CallAsync("ListAgents", new { Limit = 4, Cursor = cursor })).Data();
            seen.AddRange(data.GetProperty("Agents").EnumerateArray().Select(a => a.GetProperty("AgentId").GetString()!));
            cursor = data.GetProperty("Cursor").GetString()!;
            pages++;
        }
        while (cursor.Length > 0 && pages < 10);

        Assert.Equal(4, pages);
        Assert.Equal(ids.Order(), seen.Order());
        Assert.Equal(seen.Count, seen.Distinct().Count());
    }

    [Theory]
    [InlineData("""{"Limit":11}""", "Limit")]
    [InlineData("""{"Limit":-1}""", "Limit")]
    [InlineData("""{"Cursor":"%%%"}""", "Cursor")]
    public async Task List_BadInput_IsInvalidParameter(string body, string field)
    {
        var api = fixture.Api();
        var reply = await api.SendAsync(api.Query("ListAgents"), body);
        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.Contains(field, reply.Message());
    }

    [Fact]
    public async Task Query_MoreThanTenIds_OrMissingIds_IsInvalidParameter()
    {
        var api = fixture.Api();
        var reply = await api.CallAsync("QueryAgents", new { AgentIds = Enumerable.Range(0, 11).Select(i => $"a{i}").ToArray() });
        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.Contains("AgentIds", reply.Message());
        Assert.Equal(ReturnCodes.InvalidParameter, (await api.CallAsync("QueryAgents", new { })).Code());
        Assert.Equal(ReturnCodes.InvalidParameter, (await api.CallAsync("QueryAgents", new { AgentIds = new object[] { 1 } })).Code());
    }

    [Fact]
    public async Task Apps_AreIsolated()
    {
        var a = fixture.Api(ServerFixture.AppA);
        var b = fixture.Api(ServerFixture.AppB);
        var id = NewId();
        Assert.Equal(0, (await a.CallAsync("RegisterAgent", new { AgentId = id, LLM = Llm, TTS = Tts })).Code());

        Assert.Equal(0, (await b.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents").GetArrayLength());
        Assert.Equal(ReturnCodes.AgentNotFound, (await b.CallAsync("UpdateAgent", new { AgentId = id, Name = "hijack" })).Code());
        Assert.Equal(ReturnCodes.AgentNotFound, (await b.CallAsync("UnregisterAgent", new { AgentId = id })).Code());
        var listed = (await b.CallAsync("ListAgents", new { Limit = 10 })).Data().GetProperty("Agents").EnumerateArray().Select(x => x.GetProperty("AgentId").GetString());
        Assert.DoesNotContain(id, listed);

        // B may register its own agent with the same id.
        Assert.Equal(0, (await b.CallAsync("RegisterAgent", new { AgentId = id, Name = "B's", LLM = Llm, TTS = Tts })).Code());
        Assert.Equal("", (await a.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents")[0].GetProperty("Name").GetString());
    }
}

public sealed class PersistenceTests
{
    [Fact]
    public async Task Agents_SurviveARestart()
    {
        var app = new TestApp(1000888, "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3");
        await using var server = await ParleyTestServer.StartAsync([app]);
        var api = new RawApi(server.CreateHttpClient(), app);
        Assert.Equal(0, (await api.CallAsync("RegisterAgent", new
        {
            AgentId = "durable",
            Name = "Durable",
            LLM = new { Url = "http://127.0.0.1:9/v1/chat/completions", Model = "m" },
            TTS = new { Vendor = "Local" },
        })).Code());

        await server.RestartAsync();
        api = new RawApi(server.CreateHttpClient(), app);
        var agents = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { "durable" } })).Data().GetProperty("Agents");
        Assert.Equal("Durable", Assert.Single(agents.EnumerateArray()).GetProperty("Name").GetString());
    }

    [Fact]
    public async Task DevelopmentApp_IsCreatedOnce_AndReusedAfterRestart()
    {
        await using var server = await ParleyTestServer.StartAsync([]);
        var file = Path.Combine(server.DataDirectory, "dev-app.json");
        Assert.True(File.Exists(file));
        var first = await File.ReadAllTextAsync(file);
        using var json = JsonDocument.Parse(first);
        var app = new TestApp(json.RootElement.GetProperty("AppId").GetUInt32(), json.RootElement.GetProperty("ServerSecret").GetString()!);
        Assert.Equal(0, (await new RawApi(server.CreateHttpClient(), app).CallAsync("ListAgents")).Code());

        await server.RestartAsync();
        Assert.Equal(first, await File.ReadAllTextAsync(file));
        Assert.Equal(0, (await new RawApi(server.CreateHttpClient(), app).CallAsync("ListAgents")).Code());
    }
}
