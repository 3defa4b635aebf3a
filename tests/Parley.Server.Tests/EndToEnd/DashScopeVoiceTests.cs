using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Rtc.Tokens;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.Fakes;
using Parley.Testing.FakeLlm;
using Parley.Testing.Rooms;
using Parley.Testing.Speech;

namespace Parley.Server.Tests.EndToEnd;

/// <summary>
/// The voice loop with the DashScope cloud vendors (TTS CosyVoice, ASR AliyunParaformer) served by the fake DashScope
/// endpoint over its real WebSocket protocol; Silero VAD stays real and decides when the user spoke.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class DashScopeVoiceTests
{
    private const string Key = "sk-e2e-dashscope";
    private const string Transcript = "what is the weather like today";

    [Fact]
    public async Task AgentWithCosyVoiceAndParaformer_AnswersASpokenQuestion_ThroughTheDashScopeProtocol()
    {
        await using var dashScope = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions
        {
            ApiKey = Key,
            AsrTranscript = Transcript,
            AsrFinalDelay = TimeSpan.FromMilliseconds(80),
            TtsFirstAudio = TimeSpan.FromMilliseconds(80),
        });
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Reply("It is sunny.", " Enjoy your day!"));
        await using var receiver = await CallbackReceiver.StartAsync("dashscope-cb");
        var app = new TestApp(4000002, "e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2", receiver.Url.ToString(), receiver.Secret);
        await using var server = await ParleyTestServer.StartAsync([app], new Dictionary<string, string?>
        {
            ["Parley:RateLimitPerSecond"] = "100",
            ["Parley:Vendors:DashScope:Url"] = dashScope.Url,
        });
        var api = server.CreateClient();
        Assert.Equal(0, (await api.RegisterAgentAsync(new RegisterAgentRequest
        {
            AgentId = "cloud",
            LLM = new LlmConfig { Url = llm.Url, Model = "fake", SystemPrompt = "You are a weather bot." },
            TTS = new TtsConfig
            {
                Vendor = "CosyVoice",
                Params = JsonNode.Parse("""{"app":{"api_key":"KEY"},"payload":{"model":"cosyvoice-v2","parameters":{"voice":"longxiaochun_v2"}}}""".Replace("KEY", Key, StringComparison.Ordinal))!.AsObject(),
            },
            ASR = new AsrConfig
            {
                Vendor = "AliyunParaformer",
                Params = JsonNode.Parse("""{"app":{"api_key":"KEY"},"model":"paraformer-realtime-v2"}""".Replace("KEY", Key, StringComparison.Ordinal))!.AsObject(),
                VADSilenceSegmentation = 500,
            },
        })).Code);

        await using var user = await RoomTestClient.ConnectAsync(server.BaseAddress);
        var token = Token04.Mint(app.AppId, "user_1", app.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
        Assert.Equal(0, (await user.LoginAsync(token, "room_d", "user_1")).GetProperty("Code").GetInt32());
        Assert.Equal(0, (await user.PlayAsync("agent_s")).GetProperty("Code").GetInt32());
        Assert.Equal(0, (await user.PublishAsync("user_s")).GetProperty("Code").GetInt32());
        var instance = (await api.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "cloud",
            UserId = "user_1",
            RTC = new RtcConfig { RoomId = "room_d", AgentStreamId = "agent_s", AgentUserId = "agent_1", UserStreamId = "user_s" },
            CallbackConfig = new CallbackConfig { ASRResult = 1 },
        })).Data!.AgentInstanceId;
        await WaitUntilAsync(() => receiver.Requests.Any(r => r.Event == "AgentInstanceCreated"), TimeSpan.FromSeconds(20), "no AgentInstanceCreated");

        await user.SendAudioRealTimeAsync(TestSpeech.Flite("What is the weather like today?"));
        await user.SendAudioRealTimeAsync(TestSpeech.Silence(1500));

        // The recogniser's transcript reaches the room (Cmd 3 final) and the LLM.
        await WaitUntilAsync(() => user.RoomMessages.Any(m => Cmd(m) == 3 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean()), TimeSpan.FromSeconds(20),
            "no final transcript; room messages: " + string.Join(" | ", user.RoomMessages.Select(m => m.GetRawText())));
        var final = user.RoomMessages.First(m => Cmd(m) == 3 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean());
        Assert.Equal(Transcript, final.GetProperty("Data").GetProperty("Text").GetString());
        var request = await llm.WaitForRequestAsync();
        Assert.Equal(Transcript, request.Body["messages"]!.AsArray()[^1]!["content"]!.GetValue<string>());

        // The agent's answer is CosyVoice audio: 60 ms per character of each sentence, resampled into the room.
        var frames = await user.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        var expectedMs = ("It is sunny.".Length + "Enjoy your day!".Length) * 60;
        Assert.True(frames.Count * 20 >= expectedMs * 0.8, $"{frames.Count} frames of agent audio; expected about {expectedMs / 20}");
        var reply = string.Concat(user.RoomMessages.Where(m => Cmd(m) == 4).Select(m => m.GetProperty("Data").GetProperty("Text").GetString()));
        Assert.Equal("It is sunny. Enjoy your day!", reply);

        // Both vendors really went through the DashScope endpoint.
        Assert.True(dashScope.AsrTasksStarted >= 1);
        Assert.True(dashScope.AudioBytesReceived > 16000, $"only {dashScope.AudioBytesReceived} bytes of user audio reached the recogniser");
        Assert.True(dashScope.TtsTasksStarted >= 2, $"{dashScope.TtsTasksStarted} TTS tasks for two sentences");
        Assert.Equal(0, dashScope.ConnectionsRejected);
        Assert.Equal(0, dashScope.TasksFailed);
        await WaitUntilAsync(() => receiver.Requests.Any(r => r.Event == "ASRResult"), TimeSpan.FromSeconds(10), "no ASRResult callback");
        Assert.Equal(Transcript, receiver.Requests.First(r => r.Event == "ASRResult").Data!["Text"]!.GetValue<string>());
        _ = instance;
    }

    private static int Cmd(JsonElement message) => message.GetProperty("Cmd").GetInt32();

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string message)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, message);
            await Task.Delay(20);
        }
    }
}
