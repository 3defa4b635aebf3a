using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Rtc.Tokens;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.Fakes;
using Parley.Testing.Fakes.AliyunNls;
using Parley.Testing.Fakes.MiniMax;
using Parley.Testing.FakeLlm;
using Parley.Testing.Rooms;
using Parley.Testing.Speech;

namespace Parley.Server.Tests.EndToEnd;

/// <summary>
/// The voice loop with the MiniMax (T2A v2 WebSocket) and Aliyun (NLS speech synthesis, CreateToken) TTS vendors,
/// configured exactly as ZEGO's docs show, served by their fakes over the real protocols; the question is heard by
/// the DashScope ASR fake (AliyunParaformer) and Silero VAD.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class MiniMaxAliyunVoiceTests
{
    private const string DashScopeKey = "sk-e2e-dashscope";
    private const string Transcript = "what is the weather like today";

    [Fact]
    public async Task AgentWithMiniMaxTts_AnswersASpokenQuestion_ThroughTheMiniMaxProtocol()
    {
        await using var minimax = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { ApiKey = "mm-e2e-key" });
        var tts = new TtsConfig
        {
            Vendor = "Minimax", // ZEGO's docs spell it so
            Params = JsonNode.Parse("""{"app":{"api_key":"mm-e2e-key"},"model":"speech-02-turbo-preview","voice_setting":{"voice_id":"female-shaonv","speed":1,"vol":1,"pitch":0}}""")!.AsObject(),
        };

        await AnswerASpokenQuestionAsync(tts, new() { ["Parley:Vendors:MiniMax:Url"] = minimax.Url }, 4000011);

        Assert.Equal(1, minimax.TaskStarts); // both sentences on one started task
        Assert.Equal(0, minimax.ConnectionsRejected);
        Assert.Equal(2, minimax.Events.Count(e => e["event"]!.GetValue<string>() == "task_continue"));
    }

    [Fact]
    public async Task AgentWithAliyunTts_AnswersASpokenQuestion_ThroughNlsWithASignedToken()
    {
        await using var nls = await FakeAliyunNlsServer.StartAsync(new FakeAliyunNlsOptions { AppKey = "e2e-appkey", AccessKeyId = "e2e-ak", AccessKeySecret = "e2e-secret" });
        var tts = new TtsConfig
        {
            Vendor = "Aliyun",
            Params = JsonNode.Parse("""{"app":{"app_key":"e2e-appkey","ak_id":"e2e-ak","ak_key":"e2e-secret"},"voice":"zhitian_emo","volume":50,"speech_rate":0,"pitch_rate":0}""")!.AsObject(),
        };

        await AnswerASpokenQuestionAsync(tts, new() { ["Parley:Vendors:Aliyun:Url"] = nls.Url, ["Parley:Vendors:Aliyun:TokenUrl"] = nls.TokenUrl }, 4000012);

        Assert.Equal(1, nls.TokensIssued); // cached for the second sentence
        Assert.Equal(0, nls.TokenRefusals);
        Assert.Equal(2, nls.Starts.Count);
        Assert.Equal("zhitian_emo", nls.Starts[0]["payload"]!["voice"]!.GetValue<string>());
    }

    private static async Task AnswerASpokenQuestionAsync(TtsConfig tts, Dictionary<string, string?> vendorSettings, uint appId)
    {
        await using var dashScope = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions
        {
            ApiKey = DashScopeKey,
            AsrTranscript = Transcript,
            AsrFinalDelay = TimeSpan.FromMilliseconds(80),
        });
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Reply("It is sunny.", " Enjoy your day!"));
        await using var receiver = await CallbackReceiver.StartAsync("tts-vendor-cb");
        var app = new TestApp(appId, "e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3", receiver.Url.ToString(), receiver.Secret);
        var settings = new Dictionary<string, string?>(vendorSettings)
        {
            ["Parley:RateLimitPerSecond"] = "100",
            ["Parley:Vendors:DashScope:Url"] = dashScope.Url,
        };
        await using var server = await ParleyTestServer.StartAsync([app], settings);
        var api = server.CreateClient();
        var registered = await api.RegisterAgentAsync(new RegisterAgentRequest
        {
            AgentId = "cloud",
            LLM = new LlmConfig { Url = llm.Url, Model = "fake", SystemPrompt = "You are a weather bot." },
            TTS = tts,
            ASR = new AsrConfig
            {
                Vendor = "AliyunParaformer",
                Params = JsonNode.Parse("""{"app":{"api_key":"KEY"}}""".Replace("KEY", DashScopeKey, StringComparison.Ordinal))!.AsObject(),
                VADSilenceSegmentation = 500,
            },
        });
        Assert.True(registered.Code == 0, registered.Message);

        await using var user = await RoomTestClient.ConnectAsync(server.BaseAddress);
        var token = Token04.Mint(app.AppId, "user_1", app.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
        Assert.Equal(0, (await user.LoginAsync(token, "room_v", "user_1")).GetProperty("Code").GetInt32());
        Assert.Equal(0, (await user.PlayAsync("agent_s")).GetProperty("Code").GetInt32());
        Assert.Equal(0, (await user.PublishAsync("user_s")).GetProperty("Code").GetInt32());
        await api.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "cloud",
            UserId = "user_1",
            RTC = new RtcConfig { RoomId = "room_v", AgentStreamId = "agent_s", AgentUserId = "agent_1", UserStreamId = "user_s" },
        });
        await WaitUntilAsync(() => receiver.Requests.Any(r => r.Event == "AgentInstanceCreated"), TimeSpan.FromSeconds(20), "no AgentInstanceCreated");

        await user.SendAudioRealTimeAsync(TestSpeech.Flite("What is the weather like today?"));
        await user.SendAudioRealTimeAsync(TestSpeech.Silence(1500));
        var request = await llm.WaitForRequestAsync();
        Assert.Equal(Transcript, request.Body["messages"]!.AsArray()[^1]!["content"]!.GetValue<string>());

        // The answer is the vendor fake's audio: 60 ms per character of each sentence, resampled into the room.
        var frames = await user.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        var expectedMs = ("It is sunny.".Length + "Enjoy your day!".Length) * 60;
        Assert.True(frames.Count * 20 >= expectedMs * 0.8, $"{frames.Count} frames of agent audio; expected about {expectedMs / 20}");
        Assert.True(frames.Count * 20 <= expectedMs * 1.5, $"{frames.Count} frames of agent audio; expected about {expectedMs / 20} (a fallback voice?)");
        var reply = string.Concat(user.RoomMessages.Where(m => m.GetProperty("Cmd").GetInt32() == 4).Select(m => m.GetProperty("Data").GetProperty("Text").GetString()));
        Assert.Equal("It is sunny. Enjoy your day!", reply);
        Assert.DoesNotContain(receiver.Requests, r => r.Event == "Exception");
    }

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
