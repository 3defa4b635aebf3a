using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Rtc.Tokens;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.Fakes.Azure;
using Parley.Testing.Fakes.QwenAsr;
using Parley.Testing.Fakes.Tencent;
using Parley.Testing.FakeLlm;
using Parley.Testing.Rooms;
using Parley.Testing.Speech;

namespace Parley.Server.Tests.EndToEnd;

/// <summary>
/// The voice loop with cloud ASR vendors configured exactly as ZEGO's docs show (no credentials in Params: the
/// deployment's own), served by fakes of the vendors' real WebSocket protocols; Silero VAD stays real and decides
/// when the user spoke, flite speaks the answer.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class CloudAsrVoiceTests
{
    private const string Transcript = "what is the weather like today";

    [Fact]
    public async Task AgentWithTencentAsr_AnswersASpokenQuestion_AndSurvivesAVendorDrop()
    {
        await using var tencent = await FakeTencentAsrServer.StartAsync(new FakeTencentAsrOptions { Transcript = Transcript });
        await using var call = await VoiceCall.StartAsync(
            new Dictionary<string, string?>
            {
                ["Parley:Vendors:Tencent:Url"] = tencent.Url,
                ["Parley:Vendors:Tencent:AppId"] = tencent.Options.AppId,
                ["Parley:Vendors:Tencent:SecretId"] = tencent.Options.SecretId,
                ["Parley:Vendors:Tencent:SecretKey"] = tencent.Options.SecretKey,
            },
            new AsrConfig { VADSilenceSegmentation = 500, Vendor = "Tencent", Params = JsonNode.Parse("""{"engine_model_type":"16k_en","hotword_list":"zego|10"}""")!.AsObject() });

        await call.AskAndExpectAnswerAsync(Transcript, "It is sunny.");
        Assert.True(tencent.AudioBytesReceived > 16000, $"only {tencent.AudioBytesReceived} bytes of user audio reached Tencent");
        Assert.Equal(0, tencent.ConnectionsRejected);
        Assert.Equal("16k_en", tencent.Handshakes[0]["engine_model_type"]);
        Assert.Equal("zego|10", tencent.Handshakes[0]["hotword_list"]);

        // A drop mid-utterance: reported as Exception 2101, and the next turn is heard on a fresh stream.
        tencent.DropNextStreamAfter(6400);
        await call.User.SendAudioRealTimeAsync(TestSpeech.Flite("Are you still there?"));
        await call.User.SendAudioRealTimeAsync(TestSpeech.Silence(1500));
        await call.WaitUntilAsync(() => call.Receiver.Requests.Any(r => r.Event == "Exception" && r.Data?["Code"]?.GetValue<int>() == 2101), "no Exception 2101 callback");

        await call.AskAndExpectAnswerAsync(Transcript, "Still sunny.", finalIndex: 1);
    }

    [Fact]
    public async Task AgentWithMicrosoftAsr_AnswersASpokenQuestion_AndSurvivesAVendorDrop()
    {
        await using var azure = await FakeAzureSpeechServer.StartAsync(new FakeAzureSpeechOptions { Transcript = Transcript });
        await using var call = await VoiceCall.StartAsync(
            new Dictionary<string, string?>
            {
                ["Parley:Vendors:Microsoft:Url"] = azure.Url,
                ["Parley:Vendors:Microsoft:Key"] = azure.Options.Key,
            },
            new AsrConfig { VADSilenceSegmentation = 500, Vendor = "Microsoft", Params = JsonNode.Parse("""{"language":"en-US","phrase_list":["zego","microsoft"]}""")!.AsObject() });

        await call.AskAndExpectAnswerAsync(Transcript, "It is sunny.");
        Assert.True(azure.AudioBytesReceived > 16000, $"only {azure.AudioBytesReceived} bytes of user audio reached Azure");
        Assert.Empty(azure.Violations);
        Assert.Equal("en-US", azure.Languages[0]);
        Assert.Equal(["zego", "microsoft"], azure.PhraseLists[0]);

        azure.DropNextTurnAfter(6400);
        await call.User.SendAudioRealTimeAsync(TestSpeech.Flite("Are you still there?"));
        await call.User.SendAudioRealTimeAsync(TestSpeech.Silence(1500));
        await call.WaitUntilAsync(() => call.Receiver.Requests.Any(r => r.Event == "Exception" && r.Data?["Code"]?.GetValue<int>() == 2101), "no Exception 2101 callback");

        await call.AskAndExpectAnswerAsync(Transcript, "Still sunny.", finalIndex: 1);
    }

    [Fact]
    public async Task AgentWithQwenAsr_AnswersASpokenQuestion_WithTheDeploymentsDashScopeKey()
    {
        await using var qwen = await FakeQwenAsrServer.StartAsync(new FakeQwenAsrOptions { Transcript = Transcript });
        await using var call = await VoiceCall.StartAsync(
            new Dictionary<string, string?>
            {
                ["Parley:Vendors:AliyunQwenASR:Url"] = qwen.Url,
                ["Parley:Vendors:DashScope:ApiKey"] = qwen.Options.ApiKey,
            },
            new AsrConfig { VADSilenceSegmentation = 500, Vendor = "AliyunQwenASR", Params = JsonNode.Parse("""{"session":{"input_audio_transcription":{"language":"en"}}}""")!.AsObject() });

        await call.AskAndExpectAnswerAsync(Transcript, "It is sunny.");
        Assert.True(qwen.AudioBytesReceived > 16000, $"only {qwen.AudioBytesReceived} bytes of user audio reached Qwen");
        Assert.Equal(0, qwen.ProtocolErrors);
        Assert.Equal("en", qwen.SessionUpdates[0]["input_audio_transcription"]!["language"]!.GetValue<string>());
    }

    /// <summary>One registered agent in a room with a user, over a Parley test server.</summary>
    internal sealed class VoiceCall : IAsyncDisposable
    {
        private FakeLlmServer _llm = null!;
        private ParleyTestServer _server = null!;

        public CallbackReceiver Receiver { get; private set; } = null!;

        public RoomTestClient User { get; private set; } = null!;

        public static async Task<VoiceCall> StartAsync(Dictionary<string, string?> configuration, AsrConfig asr)
        {
            var call = new VoiceCall();
            call._llm = await FakeLlmServer.StartAsync();
            call.Receiver = await CallbackReceiver.StartAsync("cloud-asr-cb");
            var app = new TestApp(4000003, "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3", call.Receiver.Url.ToString(), call.Receiver.Secret);
            configuration["Parley:RateLimitPerSecond"] = "100";
            call._server = await ParleyTestServer.StartAsync([app], configuration);
            var api = call._server.CreateClient();
            Assert.Equal(0, (await api.RegisterAgentAsync(new RegisterAgentRequest
            {
                AgentId = "cloud_asr",
                LLM = new LlmConfig { Url = call._llm.Url, Model = "fake", SystemPrompt = "You are a weather bot." },
                TTS = new TtsConfig { Vendor = "Local", Params = new JsonObject { ["engine"] = "flite", ["voice"] = "kal16" } },
                ASR = asr,
            })).Code);

            call.User = await RoomTestClient.ConnectAsync(call._server.BaseAddress);
            var token = Token04.Mint(app.AppId, "user_1", app.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
            Assert.Equal(0, (await call.User.LoginAsync(token, "room_c", "user_1")).GetProperty("Code").GetInt32());
            Assert.Equal(0, (await call.User.PlayAsync("agent_s")).GetProperty("Code").GetInt32());
            Assert.Equal(0, (await call.User.PublishAsync("user_s")).GetProperty("Code").GetInt32());
            Assert.Equal(0, (await api.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
            {
                AgentId = "cloud_asr",
                UserId = "user_1",
                RTC = new RtcConfig { RoomId = "room_c", AgentStreamId = "agent_s", AgentUserId = "agent_1", UserStreamId = "user_s" },
                CallbackConfig = new CallbackConfig { ASRResult = 1 },
            })).Code);
            await call.WaitUntilAsync(() => call.Receiver.Requests.Any(r => r.Event == "AgentInstanceCreated"), "no AgentInstanceCreated");
            return call;
        }

        /// <summary>Speaks a question; the vendor's transcript must reach the room (Cmd 3 final) and the LLM, and the agent must answer aloud.</summary>
        public async Task AskAndExpectAnswerAsync(string transcript, string answer, int finalIndex = 0)
        {
            _llm.Enqueue(FakeLlmResponse.Reply(answer));
            await User.SendAudioRealTimeAsync(TestSpeech.Flite("What is the weather like today?"));
            await User.SendAudioRealTimeAsync(TestSpeech.Silence(1500));
            await WaitUntilAsync(() => Finals().Count() > finalIndex, "no final transcript; room messages: " + string.Join(" | ", User.RoomMessages.Select(m => m.GetRawText())));
            Assert.Equal(transcript, Finals().ElementAt(finalIndex).GetProperty("Data").GetProperty("Text").GetString());
            var request = await _llm.WaitForRequestAsync();
            Assert.Equal(transcript, request.Body["messages"]!.AsArray()[^1]!["content"]!.GetValue<string>());
            var frames = await User.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
            Assert.True(frames.Count > 10, $"{frames.Count} frames of agent audio");
            await WaitUntilAsync(() => Receiver.Requests.Count(r => r.Event == "ASRResult") > finalIndex, "no ASRResult callback");
        }

        public async Task WaitUntilAsync(Func<bool> condition, string message)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(25);
            while (!condition())
            {
                Assert.True(DateTime.UtcNow < deadline, message);
                await Task.Delay(20);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await User.DisposeAsync();
            await _server.DisposeAsync();
            await Receiver.DisposeAsync();
            await _llm.DisposeAsync();
        }

        private IEnumerable<JsonElement> Finals() =>
            User.RoomMessages.Where(m => m.GetProperty("Cmd").GetInt32() == 3 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean());
    }
}
