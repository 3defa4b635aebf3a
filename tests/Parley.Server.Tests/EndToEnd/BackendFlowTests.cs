using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.FakeLlm;

namespace Parley.Server.Tests.EndToEnd;

/// <summary>The flow of ZEGO's quick-start backend, through the typed client, with signed callbacks to a real receiver.</summary>
[Trait("Category", "RealEngine")]
public sealed class BackendFlowTests
{
    [Fact]
    public async Task Backend_RegistersAgent_CreatesInstance_TriggersLlm_ReadsContext_Deletes_WithSignedCallbacks()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(5), "It is", " sunny", " today."));
        await using var receiver = await CallbackReceiver.StartAsync("cb-secret-1");
        var app = new TestApp(2000001, "e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4", receiver.Url.ToString(), "cb-secret-1");
        await using var server = await ParleyTestServer.StartAsync([app]);
        var client = server.CreateClient();

        var registered = await client.RegisterAgentAsync(new RegisterAgentRequest
        {
            AgentId = "xiaozhi",
            Name = "Xiao Zhi",
            LLM = new LlmConfig { Url = llm.Url, ApiKey = "sk-fake", Model = "fake-model", SystemPrompt = "You are a weather bot." },
            TTS = new TtsConfig { Vendor = "Local", Params = new JsonObject { ["engine"] = "flite" } },
        });
        Assert.Equal(0, registered.Code);

        var created = await client.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "xiaozhi",
            UserId = "user_1",
            RTC = new RtcConfig { RoomId = "room_1", AgentStreamId = "agent_stream_1", AgentUserId = "agent_user_1", UserStreamId = "user_stream_1" },
            MessageHistory = new MessageHistoryConfig { SyncMode = 1, Messages = [new ChatMessage { Role = "user", Content = "Hi" }, new ChatMessage { Role = "assistant", Content = "Hello!" }], WindowSize = 10 },
            CallbackConfig = new CallbackConfig { LLMResult = 1, Interrupted = 1 },
        });
        Assert.Equal(0, created.Code);
        var instanceId = created.Data!.AgentInstanceId;
        Assert.Equal(19, instanceId.Length);

        var sent = await client.SendAgentInstanceLLMAsync(new SendAgentInstanceLlmRequest { AgentInstanceId = instanceId, Text = "How is the weather?", AddQuestionToHistory = true, AddAnswerToHistory = true });
        Assert.Equal(0, sent.Code);

        var request = await llm.WaitForRequestAsync();
        Assert.Equal("Bearer sk-fake", request.Headers["Authorization"]);
        var messages = request.Body["messages"]!.AsArray();
        Assert.Equal("system", messages[0]!["role"]!.GetValue<string>());
        Assert.Equal("How is the weather?", messages[^1]!["content"]!.GetValue<string>());
        Assert.Equal(4, messages.Count);

        IReadOnlyList<ChatMessage> context = [];
        for (var i = 0; i < 100; i++)
        {
            context = (await client.GetAgentInstanceMsgListAsync(instanceId)).Data!.MessageList;
            if (context.Count == 4)
            {
                break;
            }

            await Task.Delay(150); // stays under the default rate limit of 10 requests/s per action
        }

        Assert.Equal(["Hi", "Hello!", "How is the weather?", "It is sunny today."], context.Select(m => m.Content));
        Assert.Equal(0, (await client.DeleteAgentInstanceAsync(instanceId)).Code);
        Assert.Equal(410001002, (await client.QueryAgentInstanceStatusAsync(instanceId)).Code);

        // Created, one LLMResult (the reply is one sentence), Deleted; each delivered and signed.
        var callbacks = await receiver.WaitForRequestsAsync(3, TimeSpan.FromSeconds(30));
        Assert.All(callbacks, c => Assert.True(c.SignatureValid));
        var events = callbacks.OrderBy(c => c.Sequence).Select(c => c.Event).ToList();
        Assert.Equal(["AgentInstanceCreated", "LLMResult", "AgentInstanceDeleted"], events);
        Assert.Equal("It is sunny today.", callbacks.Single(c => c.Event == "LLMResult").Data!["Text"]!.GetValue<string>());
        var deleted = callbacks.Single(c => c.Event == "AgentInstanceDeleted");
        Assert.Equal(0, deleted.Data!["Code"]!.GetValue<int>());
        Assert.NotNull(deleted.Data["LatencyData"]);
        Assert.Equal(instanceId, deleted.Body["AgentInstanceId"]!.GetValue<string>());
    }

    [Fact]
    public async Task UnauthorisedLlm_SendsSignedExceptionCallback2203_AndInstanceKeepsWorking()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Error(401, "The API key in the request is missing or invalid", "authentication_error"));
        await using var receiver = await CallbackReceiver.StartAsync("cb-secret-2");
        var app = new TestApp(2000002, "f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5", receiver.Url.ToString(), "cb-secret-2");
        await using var server = await ParleyTestServer.StartAsync([app]);
        var client = server.CreateClient();
        Assert.Equal(0, (await client.RegisterAgentAsync(new RegisterAgentRequest
        {
            AgentId = "a1",
            LLM = new LlmConfig { Url = llm.Url, ApiKey = "wrong", Model = "m" },
            TTS = new TtsConfig { Vendor = "Local", Params = [] },
        })).Code);
        var instanceId = (await client.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "a1",
            UserId = "u1",
            RTC = new RtcConfig { RoomId = "r1", AgentStreamId = "as1", AgentUserId = "au1", UserStreamId = "us1" },
        })).Data!.AgentInstanceId;

        Assert.Equal(0, (await client.SendAgentInstanceLLMAsync(new SendAgentInstanceLlmRequest { AgentInstanceId = instanceId, Text = "hello" })).Code);
        var exception = await WaitForEventAsync(receiver, "Exception");
        Assert.True(exception.SignatureValid);
        Assert.Equal(2203, exception.Data!["Code"]!.GetValue<int>());

        // Not wedged: it is idle again and answers the next request.
        llm.Enqueue(FakeLlmResponse.Reply("Fine."));
        await WaitForStatusAsync(client, instanceId, "IDLE");
        Assert.Equal(0, (await client.SendAgentInstanceLLMAsync(new SendAgentInstanceLlmRequest { AgentInstanceId = instanceId, Text = "again" })).Code);
        await llm.WaitForRequestAsync(2);
    }

    private static async Task<ReceivedCallback> WaitForEventAsync(CallbackReceiver receiver, string name)
    {
        for (var i = 0; i < 300; i++)
        {
            var found = receiver.Requests.FirstOrDefault(r => r.Event == name);
            if (found is not null)
            {
                return found;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"no {name} callback; got {string.Join(", ", receiver.Requests.Select(r => r.Event))}");
    }

    private static async Task WaitForStatusAsync(ParleyClient client, string instanceId, string status)
    {
        for (var i = 0; i < 100; i++)
        {
            if ((await client.QueryAgentInstanceStatusAsync(instanceId)).Data?.Status == status)
            {
                return;
            }

            await Task.Delay(150);
        }

        Assert.Fail($"instance never reached {status}");
    }
}
