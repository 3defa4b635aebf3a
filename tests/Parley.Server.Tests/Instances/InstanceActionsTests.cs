using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Server.Callbacks;
using Parley.Testing;
using Parley.Testing.FakeLlm;

namespace Parley.Server.Tests.Instances;

public sealed class InstanceActionsTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private RawApi Api => fixture.Api();

    private async Task<JsonElement> CallAsync(string action, object body, TestApp? app = null) => await fixture.Api(app).CallAsync(action, body);

    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    [Fact]
    public async Task Create_ReturnsA19DigitId_IsIdle_AndSendsCreatedCallback()
    {
        var agent = await fixture.RegisterAgentAsync();
        var body = fixture.CreateBody(agent);
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var id = await fixture.CreateInstanceAsync(body);

        Assert.Matches("^[1-9][0-9]{18}$", id);
        var status = await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = id });
        Assert.Equal("IDLE", status.Status());
        var created = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.AgentInstanceCreated);
        Assert.Equal(InstanceServerFixture.AppA.AppId, created.AppId);
        Assert.Equal(body["RTC"]!["AgentUserId"]!.GetValue<string>(), created.AgentUserId);
        Assert.Equal("room_1", created.RoomId);
        Assert.Equal(agent, created.AgentId);
        Assert.Equal("Test agent", created.Name);
        Assert.InRange(created.Data["CreatedTimestamp"]!.GetValue<long>(), before, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task Create_UnknownAgent_Is410001009()
    {
        AssertCode(ReturnCodes.AgentNotFound, await Api.CallAsync("CreateAgentInstance", fixture.CreateBody("no_such_agent")));
    }

    public static TheoryData<string, string, string> BadCreateBodies => new()
    {
        // JSON patch applied to a valid body, expected field named in Message.
        { "UserId", "null", "UserId" },
        { "UserId", "\"user.1\"", "UserId" },
        { "UserId", "\"" + new string('u', 33) + "\"", "UserId" },
        { "RTC", "null", "RTC" },
        { "RTC.RoomId", "\"room 1\"", "RTC.RoomId" },
        { "RTC.RoomId", "\"" + new string('r', 129) + "\"", "RTC.RoomId" },
        { "RTC.AgentUserId", "\"" + new string('a', 33) + "\"", "RTC.AgentUserId" },
        { "RTC.AgentStreamId", "\"\"", "RTC.AgentStreamId" },
        { "RTC.UserStreamId", "\"s/1\"", "RTC.UserStreamId" },
        { "MessageHistory", "{\"SyncMode\":2}", "MessageHistory.SyncMode" },
        { "MessageHistory", "{\"WindowSize\":501}", "MessageHistory.WindowSize" },
        { "MessageHistory", "{\"ZIM\":{\"LoadMessageCount\":501}}", "MessageHistory.ZIM.LoadMessageCount" },
        { "MessageHistory", "{\"SyncMode\":1,\"Messages\":[{\"Role\":\"system\",\"Content\":\"x\"}]}", "MessageHistory.Messages[0].Role" },
        { "MessageHistory", "{\"SyncMode\":1,\"Messages\":[{\"Role\":\"user\"}]}", "MessageHistory.Messages[0].Content" },
        { "MessageHistory", "{\"Messages\":[" + string.Join(",", Enumerable.Repeat("{\"Role\":\"user\",\"Content\":\"x\"}", 101)) + "]}", "MessageHistory.Messages" },
        { "CallbackConfig", "{\"LLMResult\":2}", "CallbackConfig.LLMResult" },
        { "AdvancedConfig", "{\"InterruptMode\":3}", "AdvancedConfig.InterruptMode" },
        { "TTS", "{\"Vendor\":\"Nope\"}", "TTS.Vendor" },
        { "LLM", "{\"Url\":\"not a url\"}", "LLM.Url" },
        { "LLM", "{\"Temperature\":3}", "LLM.Temperature" },
    };

    [Theory]
    [MemberData(nameof(BadCreateBodies))]
    public async Task Create_WithBadInput_Is410000003NamingTheField(string path, string json, string field)
    {
        var agent = await fixture.RegisterAgentAsync();
        var body = fixture.CreateBody(agent);
        var parts = path.Split('.');
        var target = parts.Length == 2 ? body[parts[0]]!.AsObject() : body;
        target[parts[^1]] = JsonNode.Parse(json);
        var reply = await Api.CallAsync("CreateAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains(field, reply.Message());
    }

    [Fact]
    public async Task Create_NullOverridesAndUnknownCallbackFlags_AreAccepted()
    {
        var agent = await fixture.RegisterAgentAsync();
        var body = fixture.CreateBody(agent);
        body["LLM"] = null;
        body["TTS"] = null;
        body["ASR"] = null;
        body["MessageHistory"] = null;
        body["CallbackConfig"] = new JsonObject { ["Exception"] = 1, ["AgentInstanceStatus"] = 1, ["ASRResult"] = 0 };
        body["AdvancedConfig"] = new JsonObject { ["InterruptMode"] = 1 };
        await fixture.CreateInstanceAsync(body);
    }

    [Fact]
    public async Task Create_LlmOverride_MergesOverTheAgentFieldByField()
    {
        var agent = await fixture.RegisterAgentAsync(llm: new JsonObject
        {
            ["Url"] = fixture.Llm.Url,
            ["ApiKey"] = "sk-agent",
            ["Model"] = "agent-model",
            ["SystemPrompt"] = "Agent prompt.",
            ["Params"] = new JsonObject { ["max_tokens"] = 10, ["nested"] = new JsonObject { ["x"] = 1 }, ["list"] = new JsonArray(1, 2) },
        });
        var body = fixture.CreateBody(agent);
        body["LLM"] = new JsonObject
        {
            ["Model"] = "instance-model",
            ["SystemPrompt"] = null,
            ["AddAgentInfo"] = true,
            ["Params"] = new JsonObject { ["nested"] = new JsonObject { ["y"] = 2 }, ["list"] = new JsonArray(3) },
        };
        body["TTS"] = new JsonObject { ["Vendor"] = "lOcAl" };
        var id = await fixture.CreateInstanceAsync(body);
        var count = fixture.Llm.Requests.Count;
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Hi" }));

        var request = await fixture.Llm.WaitForRequestAsync(count + 1);
        var sent = request.Body;
        Assert.Equal("instance-model", sent["model"]!.GetValue<string>());
        Assert.Equal("Bearer sk-agent", request.Headers["Authorization"]);
        Assert.Equal(10, sent["max_tokens"]!.GetValue<int>());
        Assert.Equal("""{"x":1,"y":2}""", sent["nested"]!.ToJsonString());
        Assert.Equal("[3]", sent["list"]!.ToJsonString());
        Assert.Equal("Agent prompt.", sent["messages"]![0]!["content"]!.GetValue<string>());
        Assert.Equal(id, sent["agent_info"]!["agent_instance_id"]!.GetValue<string>());
        Assert.Equal(0.7, sent["temperature"]!.GetValue<double>(), 3);
        Assert.Equal(0.9, sent["top_p"]!.GetValue<double>(), 3);
    }

    [Fact]
    public async Task Create_MergedLlmWithoutModel_Is410000003()
    {
        var agent = await fixture.RegisterAgentAsync();
        var body = fixture.CreateBody(agent);
        body["LLM"] = new JsonObject { ["Model"] = "" };
        var reply = await Api.CallAsync("CreateAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("LLM.Model", reply.Message());
    }

    [Fact]
    public async Task Create_MessageHistorySyncMode1_SeedsTheContext_SyncMode0StartsEmpty()
    {
        var agent = await fixture.RegisterAgentAsync();
        var history = new JsonArray(
            new JsonObject { ["Role"] = "user", ["Content"] = "Hi" },
            new JsonObject { ["Role"] = "assistant", ["Content"] = "Hello!" });
        var body = fixture.CreateBody(agent);
        body["MessageHistory"] = new JsonObject { ["SyncMode"] = 1, ["Messages"] = history.DeepClone(), ["WindowSize"] = 10 };
        var seeded = await fixture.CreateInstanceAsync(body);
        Assert.Equal([("user", "Hi"), ("assistant", "Hello!")], await fixture.MessagesAsync(seeded));

        body = fixture.CreateBody(agent);
        body["MessageHistory"] = new JsonObject { ["SyncMode"] = 0, ["Messages"] = history.DeepClone() };
        Assert.Empty(await fixture.MessagesAsync(await fixture.CreateInstanceAsync(body)));
    }

    [Theory]
    [InlineData("UpdateAgentInstance")]
    [InlineData("DeleteAgentInstance")]
    [InlineData("QueryAgentInstanceStatus")]
    [InlineData("InterruptAgentInstance")]
    [InlineData("GetAgentInstanceMsgList")]
    [InlineData("ResetAgentInstanceMsgList")]
    [InlineData("SendAgentInstanceLLM")]
    [InlineData("SendAgentInstanceTTS")]
    public async Task EveryInstanceAction_OnAnUnknownInstance_Is410001002(string action)
    {
        AssertCode(ReturnCodes.InstanceNotFound, await Api.CallAsync(action, new { AgentInstanceId = "1999999999999999999", Text = "x" }));
        AssertCode(ReturnCodes.InvalidParameter, await Api.CallAsync(action, new { Text = "x" }));
    }

    [Fact]
    public async Task AnotherApp_CannotSeeOrTouchTheInstance()
    {
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));
        var appB = InstanceServerFixture.AppB;
        AssertCode(ReturnCodes.InstanceNotFound, await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = id }, appB));
        AssertCode(ReturnCodes.InstanceNotFound, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }, appB));
        AssertCode(ReturnCodes.InstanceNotFound, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = "x" }, appB));
        AssertCode(0, await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = id }));

        // Agents are per app too.
        var agentOfA = await fixture.RegisterAgentAsync();
        AssertCode(ReturnCodes.AgentNotFound, await CallAsync("CreateAgentInstance", fixture.CreateBody(agentOfA), appB));
    }

    [Fact]
    public async Task Delete_SendsDeletedWithLatency_ThenTheInstanceIsGone()
    {
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));
        fixture.Llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(20), "One", " two", "."));
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Count" }));
        await fixture.Callbacks.WaitForAsync(id, CallbackEvents.LlmResult);
        await fixture.WaitForStatusAsync(id, "IDLE");

        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
        var deleted = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.AgentInstanceDeleted);
        Assert.Equal(0, deleted.Data["Code"]!.GetValue<int>());
        Assert.Equal("Test agent", deleted.Name);
        Assert.False(string.IsNullOrEmpty(deleted.AgentId));
        Assert.True(deleted.Data["DeletedTimestamp"]!.GetValue<long>() > 0);
        var latency = deleted.Data["LatencyData"]!.AsObject();
        Assert.True(latency["LLMTTFT"]!.GetValue<long>() > 0);
        Assert.True(latency["LLMTPS"]!.GetValue<double>() > 0);
        Assert.True(latency["TTSAudioFirstFrameTime"]!.GetValue<long>() > 0, "TTSAudioFirstFrameTime is measured (the local TTS speaks in this fixture)");
        Assert.True(latency["TotalCost"]!.GetValue<long>() > 0);
        var events = fixture.Callbacks.For(id).Select(e => e.Event).ToList();
        Assert.True(events.IndexOf(CallbackEvents.AgentInstanceCreated) < events.IndexOf(CallbackEvents.AgentInstanceDeleted));

        AssertCode(ReturnCodes.InstanceNotFound, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
        AssertCode(ReturnCodes.InstanceNotFound, await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task SameAgentUserId_KicksTheEarlierInstanceWith1203()
    {
        var agent = await fixture.RegisterAgentAsync();
        var agentUser = fixture.Unique("shared_agent_user");
        var first = await fixture.CreateInstanceAsync(fixture.CreateBody(agent, agentUserId: agentUser));
        await fixture.Callbacks.WaitForAsync(first, CallbackEvents.AgentInstanceCreated);
        var second = await fixture.CreateInstanceAsync(fixture.CreateBody(agent, agentUserId: agentUser));

        var exception = await fixture.Callbacks.WaitForAsync(first, CallbackEvents.Exception);
        Assert.Equal(1203, exception.Data["Code"]!.GetValue<int>());
        var deleted = await fixture.Callbacks.WaitForAsync(first, CallbackEvents.AgentInstanceDeleted);
        Assert.Equal(1203, deleted.Data["Code"]!.GetValue<int>());
        var events = fixture.Callbacks.For(first).Select(e => e.Event).ToList();
        Assert.True(events.IndexOf(CallbackEvents.Exception) < events.IndexOf(CallbackEvents.AgentInstanceDeleted));

        AssertCode(ReturnCodes.InstanceNotFound, await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = first }));
        AssertCode(0, await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = second }));
    }

    [Fact]
    public async Task SameAgentStreamId_AsARunningInstance_IsRefused()
    {
        var agent = await fixture.RegisterAgentAsync();
        var stream = fixture.Unique("shared_stream");
        var first = await fixture.CreateInstanceAsync(fixture.CreateBody(agent, streamId: stream));
        var reply = await Api.CallAsync("CreateAgentInstance", fixture.CreateBody(agent, streamId: stream));
        AssertCode(ReturnCodes.InstanceCreateFailed, reply);
        Assert.Contains("AgentStreamId", reply.Message());

        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = first }));
        await fixture.CreateInstanceAsync(fixture.CreateBody(agent, streamId: stream));
    }

    [Fact]
    public async Task SendLlm_ReturnsAtOnce_IsThinkingWhileStreaming_AndStoresTheAnswerByDefault()
    {
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));
        fixture.Llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(250), "Sunny", " and", " warm."));
        var started = DateTime.UtcNow;
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Weather?" }));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromMilliseconds(700));
        await fixture.WaitForStatusAsync(id, "THINKING");
        await fixture.WaitForStatusAsync(id, "IDLE");

        // AddQuestionToHistory defaults to false, AddAnswerToHistory to true (Parley:Defaults:AddAnswerToHistory).
        Assert.Equal([("assistant", "Sunny and warm.")], await fixture.MessagesAsync(id));
        var sentence = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.LlmResult);
        Assert.Equal("Sunny and warm.", sentence.Data["Text"]!.GetValue<string>());
        Assert.True(sentence.Data["Round"]!.GetValue<long>() > 0);

        AssertCode(0, await CallAsync("ResetAgentInstanceMsgList", new { AgentInstanceId = id }));
        Assert.Empty(await fixture.MessagesAsync(id));
    }

    [Fact]
    public async Task SendLlm_WithFlags_UsesSystemPromptOverrideAndWindow()
    {
        var agent = await fixture.RegisterAgentAsync();
        var body = fixture.CreateBody(agent);
        body["MessageHistory"] = new JsonObject
        {
            ["SyncMode"] = 1,
            ["WindowSize"] = 1,
            ["Messages"] = new JsonArray(new JsonObject { ["Role"] = "user", ["Content"] = "old" }, new JsonObject { ["Role"] = "assistant", ["Content"] = "recent" }),
        };
        var id = await fixture.CreateInstanceAsync(body);
        var count = fixture.Llm.Requests.Count;
        fixture.Llm.Enqueue(FakeLlmResponse.Reply("Fine."));
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new
        {
            AgentInstanceId = id,
            Text = "How are you?",
            SystemPrompt = "Temporary prompt.",
            AddQuestionToHistory = true,
            AddAnswerToHistory = false,
            Priority = "High",
            SamePriorityOption = "Enqueue",
        }));
        var sent = (await fixture.Llm.WaitForRequestAsync(count + 1)).Body["messages"]!.AsArray();
        Assert.Equal(
            ["system:Temporary prompt.", "assistant:recent", "user:How are you?"],
            sent.Select(m => $"{m!["role"]}:{m["content"]}").ToArray());
        await fixture.WaitForStatusAsync(id, "IDLE");
        Assert.Equal([("user", "old"), ("assistant", "recent"), ("user", "How are you?")], await fixture.MessagesAsync(id));
    }

    [Theory]
    [InlineData("SendAgentInstanceLLM", """{"Priority":""}""", "Priority is invalid")]
    [InlineData("SendAgentInstanceLLM", """{"Priority":"Urgent"}""", "Priority is invalid")]
    [InlineData("SendAgentInstanceLLM", """{"SamePriorityOption":"Drop"}""", "SamePriorityOption")]
    [InlineData("SendAgentInstanceLLM", """{"Text":""}""", "Text")]
    [InlineData("SendAgentInstanceLLM", """{"AddAnswerToHistory":"yes"}""", "AddAnswerToHistory")]
    [InlineData("SendAgentInstanceTTS", """{"Priority":""}""", "Priority is invalid")]
    [InlineData("SendAgentInstanceTTS", """{"InterruptMode":2}""", "InterruptMode")]
    [InlineData("SendAgentInstanceTTS", """{"AddHistory":1}""", "AddHistory")]
    public async Task Control_WithBadInput_Is410000003(string action, string patch, string expected)
    {
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));
        var body = new JsonObject { ["AgentInstanceId"] = id, ["Text"] = "Hello" };
        foreach (var (key, value) in JsonNode.Parse(patch)!.AsObject())
        {
            body[key] = value?.DeepClone();
        }

        var reply = await Api.CallAsync(action, body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains(expected, reply.Message());
    }

    [Fact]
    public async Task SendTts_TextOver300Characters_Is410000003_And300IsAccepted()
    {
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));
        AssertCode(ReturnCodes.InvalidParameter, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = new string('字', 301) }));
        AssertCode(0, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = new string('字', 300), AddHistory = false }));
    }

    [Fact]
    public async Task SendTts_JoinsTheContextByDefault()
    {
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));
        AssertCode(0, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = "Welcome!", InterruptMode = 1, Priority = "Low" }));

        // Speech is real audio now: let it finish (a second, Medium-priority TTS would interrupt the Low one).
        await fixture.WaitForStatusAsync(id, "SPEAKING");
        await fixture.WaitForStatusAsync(id, "IDLE");
        AssertCode(0, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = "Not kept", AddHistory = false }));
        await fixture.WaitForStatusAsync(id, "IDLE");
        Assert.Equal([("assistant", "Welcome!")], await fixture.MessagesAsync(id));
    }

    [Fact]
    public async Task InterruptReasons_AreReported_2ForLlm_3ForTts_4ForInterrupt()
    {
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));
        string[] slow = ["Once", " upon", " a", " time", " there", " was"];
        fixture.Llm.Enqueue(
            FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(200), slow),
            FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(200), slow),
            FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(200), slow));

        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Story 1" }));
        await fixture.WaitForStatusAsync(id, "THINKING");
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Story 2" }));
        var reason2 = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.Interrupted, d => d["Reason"]!.GetValue<int>() == 2);

        await fixture.WaitForStatusAsync(id, "THINKING");
        AssertCode(0, await CallAsync("SendAgentInstanceTTS", new { AgentInstanceId = id, Text = "Breaking news." }));
        var reason3 = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.Interrupted, d => d["Reason"]!.GetValue<int>() == 3);
        Assert.True(reason3.Data["Round"]!.GetValue<long>() > reason2.Data["Round"]!.GetValue<long>());

        await fixture.WaitForStatusAsync(id, "IDLE");
        AssertCode(0, await CallAsync("ResetAgentInstanceMsgList", new { AgentInstanceId = id }));
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "Story 3" }));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (fixture.Callbacks.For(id).Count(e => e.Event == CallbackEvents.LlmResult) == 0 && (await fixture.MessagesAsync(id)).Length == 0)
        {
            // Wait for at least one streamed token of story 3 (none is a full sentence yet).
            var status = await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = id });
            if (status.Status() == "THINKING" && fixture.Llm.OpenStreams > 0)
            {
                await Task.Delay(450);
                break;
            }

            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(20);
        }

        AssertCode(0, await CallAsync("InterruptAgentInstance", new { AgentInstanceId = id }));
        var reason4 = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.Interrupted, d => d["Reason"]!.GetValue<int>() == 4);
        Assert.True(reason4.Data["Round"]!.GetValue<long>() > reason3.Data["Round"]!.GetValue<long>());
        Assert.Equal("IDLE", (await CallAsync("QueryAgentInstanceStatus", new { AgentInstanceId = id })).Status());

        // The partial reply (what was generated before the interruption) is what stays in the context.
        var messages = await fixture.MessagesAsync(id);
        var (role, content) = Assert.Single(messages);
        Assert.Equal("assistant", role);
        Assert.StartsWith("Once", content);
        Assert.NotEqual(string.Concat(slow), content);

        // Interrupting an idle instance succeeds and reports nothing.
        var interruptedCount = fixture.Callbacks.For(id).Count(e => e.Event == CallbackEvents.Interrupted);
        AssertCode(0, await CallAsync("InterruptAgentInstance", new { AgentInstanceId = id }));
        await Task.Delay(100);
        Assert.Equal(interruptedCount, fixture.Callbacks.For(id).Count(e => e.Event == CallbackEvents.Interrupted));
    }

    [Fact]
    public async Task InterruptedCallback_IsOnlySentWhenEnabled()
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["CallbackConfig"] = new JsonObject { ["Interrupted"] = 0 };
        var id = await fixture.CreateInstanceAsync(body);
        var requestsBefore = fixture.Llm.Requests.Count;
        fixture.Llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(200), "a", "b", "c", "d"));
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "x" }));
        await fixture.WaitForStatusAsync(id, "THINKING");

        // Interrupt only once the fake LLM has taken the queued reply, or it would be left for the next test.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (fixture.Llm.Requests.Count == requestsBefore)
        {
            Assert.True(DateTime.UtcNow < deadline, "the LLM request never arrived");
            await Task.Delay(10);
        }

        AssertCode(0, await CallAsync("InterruptAgentInstance", new { AgentInstanceId = id }));
        await fixture.WaitForStatusAsync(id, "IDLE");
        await Task.Delay(200);
        Assert.DoesNotContain(fixture.Callbacks.For(id), e => e.Event is CallbackEvents.Interrupted or CallbackEvents.LlmResult);
    }

    [Fact]
    public async Task LlmAuthenticationFailure_SendsException2203_AndTheInstanceKeepsWorking()
    {
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));
        fixture.Llm.Enqueue(FakeLlmResponse.Error(401, "The API key in the request is missing or invalid"));
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "x" }));
        var exception = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.Exception);
        Assert.Equal(2203, exception.Data["Code"]!.GetValue<int>());
        // The status, not the LLM server's own text (foreign bytes never reach callbacks).
        Assert.Equal("LLM request failed: HTTP 401 (Unauthorized)", exception.Data["Message"]!.GetValue<string>());
        await fixture.WaitForStatusAsync(id, "IDLE");

        fixture.Llm.Enqueue(FakeLlmResponse.Reply("Recovered."));
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "again" }));
        Assert.Equal("Recovered.", (await fixture.Callbacks.WaitForAsync(id, CallbackEvents.LlmResult)).Data["Text"]!.GetValue<string>());
    }

    [Fact]
    public async Task LlmUnreachable_SendsException2201()
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["LLM"] = new JsonObject { ["Url"] = FakeLlmServer.ClosedPortUrl() };
        var id = await fixture.CreateInstanceAsync(body);
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "x" }));
        Assert.Equal(2201, (await fixture.Callbacks.WaitForAsync(id, CallbackEvents.Exception)).Data["Code"]!.GetValue<int>());
        await fixture.WaitForStatusAsync(id, "IDLE");
    }

    [Fact]
    public async Task LlmStall_SendsException2201_AfterTheConfiguredTimeout()
    {
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));
        fixture.Llm.Enqueue(FakeLlmResponse.StallAfter("Hmm"));
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "x" }));
        await fixture.WaitForStatusAsync(id, "THINKING");
        var exception = await fixture.Callbacks.WaitForAsync(id, CallbackEvents.Exception);
        Assert.Equal(2201, exception.Data["Code"]!.GetValue<int>());
        await fixture.WaitForStatusAsync(id, "IDLE");
    }

    [Fact]
    public async Task Update_ReplacesEachGivenObject_AndValidates()
    {
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));

        // A given object replaces the instance's whole (update-agent-instance.yaml, 2.13): only Model is not enough.
        var partial = await CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, LLM = new { Model = "updated-model" } });
        AssertCode(ReturnCodes.InvalidParameter, partial);
        Assert.Contains("LLM.Url", partial.Message());

        AssertCode(0, await CallAsync("UpdateAgentInstance", new
        {
            AgentInstanceId = id,
            LLM = new { Url = fixture.Llm.Url, Model = "updated-model", Params = new { max_tokens = 5 } },
            TTS = new { Vendor = "Local", FilterText = new[] { new { BeginCharacters = "(", EndCharacters = ")" } } },
            ASR = new { HotWord = "Parley|10" },
        }));
        var count = fixture.Llm.Requests.Count;
        AssertCode(0, await CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = id, Text = "x" }));
        var sent = (await fixture.Llm.WaitForRequestAsync(count + 1)).Body;
        Assert.Equal("updated-model", sent["model"]!.GetValue<string>());
        Assert.Equal(5, sent["max_tokens"]!.GetValue<int>());

        // The agent's SystemPrompt went with the replaced LLM object.
        Assert.NotEqual("system", sent["messages"]![0]!["role"]!.GetValue<string>());

        var bad = await CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, TTS = new { Vendor = "Nope" } });
        AssertCode(ReturnCodes.InvalidParameter, bad);
        Assert.Contains("TTS.Vendor", bad.Message());
        var badUrl = await CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, LLM = new { Url = "ftp://x" } });
        AssertCode(ReturnCodes.InvalidParameter, badUrl);
    }
}

public sealed class InstanceLimitTests(LimitedServerFixture fixture) : IClassFixture<LimitedServerFixture>
{
    [Fact]
    public async Task CreatingMoreThanTheLimit_Is410000011_UntilOneIsDeleted()
    {
        var api = new RawApi(fixture.Server.CreateHttpClient(), InstanceServerFixture.AppA);
        var apiB = new RawApi(fixture.Server.CreateHttpClient(), InstanceServerFixture.AppB);
        var tts = new JsonObject { ["Vendor"] = "Local" };
        foreach (var a in new[] { api, apiB })
        {
            Assert.Equal(0, (await a.CallAsync("RegisterAgent", new JsonObject
            {
                ["AgentId"] = "limited",
                ["LLM"] = new JsonObject { ["Url"] = fixture.Llm.Url, ["Model"] = "m" },
                ["TTS"] = tts.DeepClone(),
            })).Code());
        }

        JsonObject Body(int n) => new()
        {
            ["AgentId"] = "limited",
            ["UserId"] = "u",
            ["RTC"] = new JsonObject { ["RoomId"] = "r", ["AgentStreamId"] = $"s{n}", ["AgentUserId"] = $"a{n}", ["UserStreamId"] = "us" },
        };

        var first = (await api.CallAsync("CreateAgentInstance", Body(1))).Data().GetProperty("AgentInstanceId").GetString();
        Assert.Equal(0, (await api.CallAsync("CreateAgentInstance", Body(2))).Code());
        var third = await api.CallAsync("CreateAgentInstance", Body(3));
        Assert.Equal(ReturnCodes.InstanceConcurrencyLimit, third.Code());

        // A kick replaces an instance, so it does not count twice; other apps have their own limit.
        Assert.Equal(0, (await api.CallAsync("CreateAgentInstance", Body(2))).Code());
        Assert.Equal(0, (await apiB.CallAsync("CreateAgentInstance", Body(1))).Code());

        Assert.Equal(0, (await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = first })).Code());
        Assert.Equal(0, (await api.CallAsync("CreateAgentInstance", Body(3))).Code());
    }
}
