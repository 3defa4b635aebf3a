using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Parley.Client;
using Xunit;

namespace Parley.Client.Tests;

public sealed class ParleyClientTests : IAsyncLifetime
{
    private const uint AppId = 12345;
    private const string Secret = "9193cc662a4c0ec135ec71fb57194b38";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1615186943);

    private readonly HttpClient _http = new();
    private RecordingApiServer _server = null!;

    public async Task InitializeAsync() => _server = await RecordingApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public void ComputeSignature_SpecVector_MatchesDocumentedMd5()
    {
        Assert.Equal("43e5cfcca828314675f91b001390566a", ParleyClient.ComputeSignature(12345, "4fd24687296dd9f3", Secret, 1615186943));
    }

    [Fact]
    public void SignedUri_WithGivenNonceAndTimestamp_CarriesAllCommonParametersAndTheVectorSignature()
    {
        var client = new ParleyClient(_http, new Uri("https://aigc-aiagent-api.zegotech.cn"), AppId, Secret);

        var uri = client.SignedUri("CreateAgentInstance", "4fd24687296dd9f3", 1615186943);

        Assert.Equal(
            "https://aigc-aiagent-api.zegotech.cn/?Action=CreateAgentInstance&AppId=12345&SignatureNonce=4fd24687296dd9f3"
            + "&Timestamp=1615186943&Signature=43e5cfcca828314675f91b001390566a&SignatureVersion=2.0",
            uri.AbsoluteUri);
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080", "http://127.0.0.1:8080/?")]
    [InlineData("http://127.0.0.1:8080/", "http://127.0.0.1:8080/?")]
    [InlineData("http://host/parley", "http://host/parley/?")]
    [InlineData("http://host/parley/?x=1", "http://host/parley/?")]
    public void SignedUri_PostsToBaseUrlWithTrailingSlash(string baseUrl, string expectedPrefix)
    {
        var client = new ParleyClient(_http, new Uri(baseUrl), AppId, Secret);
        Assert.StartsWith(expectedPrefix + "Action=ListAgents&", client.SignedUri("ListAgents").AbsoluteUri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryRequest_IsSignedWithFreshNonceAndClockSeconds()
    {
        var time = new FakeTimeProvider(Now);
        var client = new ParleyClient(_http, _server.BaseUrl, AppId, Secret, time);

        await client.InterruptAgentInstanceAsync("1912122918452641792");
        time.Advance(TimeSpan.FromSeconds(61));
        await client.InterruptAgentInstanceAsync("1912122918452641792");

        var requests = _server.Requests;
        Assert.Equal(2, requests.Count);
        foreach (var (request, expectedTimestamp) in requests.Zip(new[] { 1615186943L, 1615187004L }))
        {
            Assert.Equal("POST", request.Method);
            Assert.Equal("/", request.Path);
            Assert.Equal(["Action", "AppId", "SignatureNonce", "Timestamp", "Signature", "SignatureVersion"], request.Query.Keys);
            Assert.Equal("InterruptAgentInstance", request.Query["Action"]);
            Assert.Equal("12345", request.Query["AppId"]);
            Assert.Equal("2.0", request.Query["SignatureVersion"]);
            Assert.Equal(expectedTimestamp.ToString(System.Globalization.CultureInfo.InvariantCulture), request.Query["Timestamp"]);
            Assert.Matches("^[0-9a-f]{16}$", request.Query["SignatureNonce"]);
            var md5 = Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(
                "12345" + request.Query["SignatureNonce"] + Secret + request.Query["Timestamp"])));
            Assert.Equal(md5, request.Query["Signature"]);
            Assert.Equal("application/json", request.ContentType);
            Assert.Equal("""{"AgentInstanceId":"1912122918452641792"}""", request.Body);
        }

        Assert.NotEqual(requests[0].Query["SignatureNonce"], requests[1].Query["SignatureNonce"]);
    }

    [Fact]
    public async Task CreateAgentInstance_WithEveryField_SendsZegoPropertyNames()
    {
        _server.Respond = _ => (200, """{"Code":0,"Message":"Success","RequestId":"3151527792559699732","Data":{"AgentInstanceId":"1912122918452641792"}}""");
        var client = new ParleyClient(_http, _server.BaseUrl, AppId, Secret);

        var result = await client.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "xiaozhi",
            UserId = "user_1",
            RTC = new RtcConfig { RoomId = "room_1", AgentStreamId = "agent_stream_1", AgentUserId = "agent_user_1", UserStreamId = "user_stream_1" },
            LLM = new LlmConfig
            {
                Url = "https://api.openai.com/v1/chat/completions",
                ApiKey = "sk-test",
                Model = "gpt-4o-mini",
                SystemPrompt = "You are a friendly assistant",
                Temperature = 0.7,
                TopP = 0.9,
                Params = new JsonObject { ["max_tokens"] = 16384 },
                AddAgentInfo = true,
            },
            TTS = new TtsConfig
            {
                Vendor = "ByteDance",
                Params = new JsonObject { ["app"] = new JsonObject { ["appid"] = "a", ["token"] = "t", ["cluster"] = "volcano_tts" } },
                FilterText = [new TtsFilterText { BeginCharacters = "(", EndCharacters = ")" }],
                TerminatorText = "#",
            },
            ASR = new AsrConfig
            {
                Vendor = "AliyunParaformer",
                HotWord = "ZEGO|10",
                Params = new JsonObject { ["engine_model_type"] = "16k_en" },
                VADSilenceSegmentation = 500,
                PauseInterval = 800,
            },
            MessageHistory = new MessageHistoryConfig
            {
                SyncMode = 1,
                Messages = [new ChatMessage { Role = "user", Content = "Hi" }, new ChatMessage { Role = "assistant", Content = "Hello!" }],
                WindowSize = 10,
            },
            CallbackConfig = new CallbackConfig { ASRResult = 1, LLMResult = 1, Interrupted = 1, UserSpeakAction = 1, AgentSpeakAction = 1, UserAudioData = 0 },
            AdvancedConfig = new AdvancedConfig { InterruptMode = 0 },
        });

        const string expected = """
            {
              "AgentId": "xiaozhi",
              "UserId": "user_1",
              "RTC": { "RoomId": "room_1", "AgentStreamId": "agent_stream_1", "AgentUserId": "agent_user_1", "UserStreamId": "user_stream_1" },
              "LLM": {
                "Url": "https://api.openai.com/v1/chat/completions", "ApiKey": "sk-test", "Model": "gpt-4o-mini",
                "SystemPrompt": "You are a friendly assistant", "Temperature": 0.7, "TopP": 0.9,
                "Params": { "max_tokens": 16384 }, "AddAgentInfo": true
              },
              "TTS": {
                "Vendor": "ByteDance",
                "Params": { "app": { "appid": "a", "token": "t", "cluster": "volcano_tts" } },
                "FilterText": [ { "BeginCharacters": "(", "EndCharacters": ")" } ],
                "TerminatorText": "#"
              },
              "ASR": { "Vendor": "AliyunParaformer", "HotWord": "ZEGO|10", "Params": { "engine_model_type": "16k_en" }, "VADSilenceSegmentation": 500, "PauseInterval": 800 },
              "MessageHistory": { "SyncMode": 1, "Messages": [ {"Role":"user","Content":"Hi"}, {"Role":"assistant","Content":"Hello!"} ], "WindowSize": 10 },
              "CallbackConfig": { "ASRResult": 1, "LLMResult": 1, "Interrupted": 1, "UserSpeakAction": 1, "AgentSpeakAction": 1, "UserAudioData": 0 },
              "AdvancedConfig": { "InterruptMode": 0 }
            }
            """;
        var sent = JsonNode.Parse(_server.Last.Body);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), sent), "sent: " + _server.Last.Body);
        Assert.Equal("CreateAgentInstance", _server.Last.Action);

        Assert.True(result.IsSuccess);
        Assert.Equal("3151527792559699732", result.RequestId);
        Assert.Equal("1912122918452641792", result.Data!.AgentInstanceId);
    }

    [Fact]
    public async Task NullProperties_AreOmitted()
    {
        var client = new ParleyClient(_http, _server.BaseUrl, AppId, Secret);

        await client.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "a",
            UserId = "u",
            RTC = new RtcConfig { RoomId = "r", AgentStreamId = "as", AgentUserId = "au", UserStreamId = "us" },
            LLM = new LlmConfig { Url = "http://llm/v1/chat/completions", Model = "m" },
        });

        Assert.Equal(
            """{"AgentId":"a","UserId":"u","RTC":{"RoomId":"r","AgentStreamId":"as","AgentUserId":"au","UserStreamId":"us"},"LLM":{"Url":"http://llm/v1/chat/completions","Model":"m"}}""",
            _server.Last.Body);
    }

    [Fact]
    public async Task AllFourteenActions_SendTheirActionNameAndBody_AndParseTheirData()
    {
        _server.Respond = request => (200, request.Action switch
        {
            "ListAgents" => """{"Code":0,"Message":"success","RequestId":"1","Data":{"Total":1,"Agents":[{"AgentId":"xiaozhi","Name":"Xiao Zhi","LLM":{"Url":"u","Model":"m"},"TTS":{"Vendor":"ByteDance","Params":{"app":{}}},"ASR":{}}],"Cursor":"COAI"}}""",
            "QueryAgents" => """{"Code":0,"Message":"success","RequestId":"2","Data":{"Agents":[{"AgentId":"xiaozhi","Name":"Xiao Zhi","LLM":{},"TTS":{},"ASR":{}}]}}""",
            "CreateAgentInstance" => """{"Code":0,"Message":"Success","RequestId":"3","Data":{"AgentInstanceId":"1912122918452641792"}}""",
            "QueryAgentInstanceStatus" => """{"Code":0,"Message":"success","RequestId":"4","Data":{"Status":"SPEAKING"}}""",
            "GetAgentInstanceMsgList" => """{"Code":0,"Message":"success","RequestId":"5","Data":{"Total":2,"MessageList":[{"Role":"user","Content":"Hi"},{"Role":"assistant","Content":"Hello"}]}}""",
            _ => """{"Code":0,"Message":"Succeed","RequestId":"6"}""",
        });
        var client = new ParleyClient(_http, _server.BaseUrl, AppId, Secret);
        var llm = new LlmConfig { Url = "u", Model = "m" };
        var tts = new TtsConfig { Vendor = "ByteDance", Params = new JsonObject { ["app"] = new JsonObject() } };
        var rtc = new RtcConfig { RoomId = "r", AgentStreamId = "as", AgentUserId = "au", UserStreamId = "us" };
        const string id = "1912122918452641792";

        Assert.True((await client.RegisterAgentAsync(new RegisterAgentRequest { AgentId = "xiaozhi", Name = "Xiao Zhi", LLM = llm, TTS = tts })).IsSuccess);
        Assert.True((await client.UnregisterAgentAsync(new UnregisterAgentRequest { AgentId = "xiaozhi" })).IsSuccess);
        Assert.True((await client.UpdateAgentAsync(new UpdateAgentRequest { AgentId = "xiaozhi", Name = "New" })).IsSuccess);
        var list = (await client.ListAgentsAsync(new ListAgentsRequest { Limit = 5, Cursor = "" })).Data!;
        var query = (await client.QueryAgentsAsync(new QueryAgentsRequest { AgentIds = ["xiaozhi", "other"] })).Data!;
        var created = (await client.CreateAgentInstanceAsync(new CreateAgentInstanceRequest { AgentId = "xiaozhi", UserId = "u", RTC = rtc })).Data!;
        Assert.True((await client.UpdateAgentInstanceAsync(new UpdateAgentInstanceRequest { AgentInstanceId = id, LLM = llm })).IsSuccess);
        Assert.True((await client.SendAgentInstanceLLMAsync(new SendAgentInstanceLlmRequest { AgentInstanceId = id, Text = "Weather?", AddQuestionToHistory = true, Priority = "High" })).IsSuccess);
        Assert.True((await client.SendAgentInstanceTTSAsync(new SendAgentInstanceTtsRequest { AgentInstanceId = id, Text = "Hello", AddHistory = false, InterruptMode = 1 })).IsSuccess);
        var status = (await client.QueryAgentInstanceStatusAsync(id)).Data!;
        Assert.True((await client.InterruptAgentInstanceAsync(id)).IsSuccess);
        var messages = (await client.GetAgentInstanceMsgListAsync(id)).Data!;
        Assert.True((await client.ResetAgentInstanceMsgListAsync(id)).IsSuccess);
        Assert.True((await client.DeleteAgentInstanceAsync(id)).IsSuccess);

        Assert.Equal(
            ["RegisterAgent", "UnregisterAgent", "UpdateAgent", "ListAgents", "QueryAgents", "CreateAgentInstance", "UpdateAgentInstance",
             "SendAgentInstanceLLM", "SendAgentInstanceTTS", "QueryAgentInstanceStatus", "InterruptAgentInstance", "GetAgentInstanceMsgList",
             "ResetAgentInstanceMsgList", "DeleteAgentInstance"],
            _server.Requests.Select(r => r.Action));
        var bodies = _server.Requests.Select(r => r.Body).ToList();
        Assert.Equal("""{"AgentId":"xiaozhi","Name":"Xiao Zhi","LLM":{"Url":"u","Model":"m"},"TTS":{"Vendor":"ByteDance","Params":{"app":{}}}}""", bodies[0]);
        Assert.Equal("""{"AgentId":"xiaozhi"}""", bodies[1]);
        Assert.Equal("""{"AgentId":"xiaozhi","Name":"New"}""", bodies[2]);
        Assert.Equal("""{"Limit":5,"Cursor":""}""", bodies[3]);
        Assert.Equal("""{"AgentIds":["xiaozhi","other"]}""", bodies[4]);
        Assert.Equal("""{"AgentInstanceId":"1912122918452641792","LLM":{"Url":"u","Model":"m"}}""", bodies[6]);
        Assert.Equal("""{"AgentInstanceId":"1912122918452641792","Text":"Weather?","AddQuestionToHistory":true,"Priority":"High"}""", bodies[7]);
        Assert.Equal("""{"AgentInstanceId":"1912122918452641792","Text":"Hello","AddHistory":false,"InterruptMode":1}""", bodies[8]);
        Assert.All(bodies.Skip(9), b => Assert.Equal("""{"AgentInstanceId":"1912122918452641792"}""", b));

        Assert.Equal(1, list.Total);
        Assert.Equal("COAI", list.Cursor);
        var agent = Assert.Single(list.Agents);
        Assert.Equal("xiaozhi", agent.AgentId);
        Assert.Equal("Xiao Zhi", agent.Name);
        Assert.Equal("m", agent.LLM!.Model);
        Assert.Equal("ByteDance", agent.TTS!.Vendor);
        Assert.NotNull(agent.ASR);
        Assert.Equal("xiaozhi", Assert.Single(query.Agents).AgentId);
        Assert.Equal(id, created.AgentInstanceId);
        Assert.Equal("SPEAKING", status.Status);
        Assert.Equal(2, messages.Total);
        Assert.Equal([("user", "Hi"), ("assistant", "Hello")], messages.MessageList.Select(m => (m.Role, m.Content)));
    }

    [Fact]
    public async Task NonZeroCode_IsReturnedAsResult()
    {
        _server.Respond = _ => (200, """{"Code":410001002,"Message":"agent instance not found","RequestId":"7"}""");
        var client = new ParleyClient(_http, _server.BaseUrl, AppId, Secret);

        var result = await client.QueryAgentInstanceStatusAsync("nope");

        Assert.False(result.IsSuccess);
        Assert.Equal(410001002, result.Code);
        Assert.Equal("agent instance not found", result.Message);
        Assert.Null(result.Data);
    }

    [Fact]
    public async Task Non2xxStatus_ThrowsWithStatusAndBody()
    {
        _server.Respond = _ => (503, """{"error":"down"}""");
        var client = new ParleyClient(_http, _server.BaseUrl, AppId, Secret);

        var ex = await Assert.ThrowsAsync<ParleyApiException>(() => client.ResetAgentInstanceMsgListAsync("x"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ex.StatusCode);
        Assert.Equal("ResetAgentInstanceMsgList", ex.Action);
        Assert.Equal("""{"error":"down"}""", ex.ResponseBody);
    }

    [Fact]
    public async Task NonJsonSuccessBody_ThrowsClearError()
    {
        _server.Respond = _ => (200, "<html>proxy</html>");
        var client = new ParleyClient(_http, _server.BaseUrl, AppId, Secret);

        var ex = await Assert.ThrowsAsync<ParleyApiException>(() => client.InterruptAgentInstanceAsync("x"));

        Assert.Contains("not a JSON response envelope", ex.Message);
    }

    [Fact]
    public async Task RawSend_PostsBodyVerbatim_AndReturnsDataAsJson()
    {
        _server.Respond = _ => (200, """{"Code":410000004,"Message":"json parse failed","RequestId":"8","Data":{"Detail":1}}""");
        var client = new ParleyClient(_http, _server.BaseUrl, AppId, Secret);

        var result = await client.SendAsync("RegisterAgent", "{not json");

        Assert.Equal("{not json", _server.Last.Body);
        Assert.Equal("application/json", _server.Last.ContentType);
        Assert.Equal("RegisterAgent", _server.Last.Action);
        Assert.Equal(410000004, result.Code);
        Assert.Equal(1, result.Data!["Detail"]!.GetValue<int>());
    }

    [Fact]
    public async Task RawSend_ToTamperedUri_SendsExactlyThatUriAndContent()
    {
        var client = new ParleyClient(_http, _server.BaseUrl, AppId, Secret);
        var signed = client.SignedUri("ListAgents").AbsoluteUri;
        var withoutNonce = new Uri(System.Text.RegularExpressions.Regex.Replace(signed, "&SignatureNonce=[^&]*", ""));

        await client.SendAsync(withoutNonce, new StringContent("{}", Encoding.UTF8, "text/plain"));

        Assert.False(_server.Last.Query.ContainsKey("SignatureNonce"));
        Assert.Equal("ListAgents", _server.Last.Action);
        Assert.Equal("text/plain; charset=utf-8", _server.Last.ContentType);
        Assert.Equal("{}", _server.Last.Body);
    }

    [Fact]
    public void CallbackVerifier_SpecVector_AndBodyVerification()
    {
        Assert.Equal("5bd59fd62953a8059fb7eaba95720f66d19e4517", CallbackVerifier.ComputeSignature("123412", "1470820198", "secret"));
        var signature = CallbackVerifier.ComputeSignature("7450395512627324902", "1745502313000", "cb");
        var body = $$$"""{"AppId":1,"Event":"Interrupted","Nonce":"7450395512627324902","Timestamp":1745502313000,"Signature":"{{{signature}}}","Data":{}}""";
        Assert.True(CallbackVerifier.VerifyBody(body, "cb"));
        Assert.False(CallbackVerifier.VerifyBody(body, "other"));
        Assert.False(CallbackVerifier.VerifyBody("{}", "cb"));
    }
}
