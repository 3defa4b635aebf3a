using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Rtc.Tokens;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.Fakes.Volcengine;
using Parley.Testing.FakeLlm;
using Parley.Testing.Rooms;
using Parley.Testing.Speech;

namespace Parley.Server.Tests.EndToEnd;

/// <summary>
/// The voice loop with the Volcengine vendors (TTS ByteDanceV3 / ByteDanceFlowing, ASR VolcSeedASR) served by the fake
/// Volcengine endpoints over their binary V3 protocols; Silero VAD stays real and decides when the user spoke.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class VolcengineVoiceTests
{
    private const string Transcript = "what is the weather like today";

    [Theory]
    [InlineData("ByteDanceV3")]
    [InlineData("ByteDanceFlowing")]
    public async Task AgentWithVolcengineTtsAndVolcSeedAsr_AnswersASpokenQuestion(string ttsVendor)
    {
        await using var volc = await FakeVolcengineServer.StartAsync(new FakeVolcengineOptions { AsrTranscript = Transcript });
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Reply("It is sunny.", " Enjoy your day!"));
        await using var receiver = await CallbackReceiver.StartAsync("volc-cb");
        var app = new TestApp(4000003, "v0lcv0lcv0lcv0lcv0lcv0lcv0lcv0lc", receiver.Url.ToString(), receiver.Secret);
        await using var server = await ParleyTestServer.StartAsync([app], Config(volc));
        var api = server.CreateClient();
        await RegisterAsync(api, ttsVendor, llm.Url);

        var (user, _) = await JoinAsync(server, api, app, receiver, "room_v");
        await using (user)
        {
            await user.SendAudioRealTimeAsync(TestSpeech.Flite("What is the weather like today?"));
            await user.SendAudioRealTimeAsync(TestSpeech.Silence(1500));

            await WaitUntilAsync(() => user.RoomMessages.Any(IsFinalTranscript), TimeSpan.FromSeconds(20),
                "no final transcript; room messages: " + string.Join(" | ", user.RoomMessages.Select(m => m.GetRawText())));
            Assert.Equal(Transcript, user.RoomMessages.First(IsFinalTranscript).GetProperty("Data").GetProperty("Text").GetString());
            var request = await llm.WaitForRequestAsync();
            Assert.Equal(Transcript, request.Body["messages"]!.AsArray()[^1]!["content"]!.GetValue<string>());

            // The answer is the fake's audio: 60 ms per character, resampled into the room.
            var frames = await user.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
            var expectedMs = ("It is sunny.".Length + "Enjoy your day!".Length) * 60;
            Assert.True(frames.Count * 20 >= expectedMs * 0.8, $"{frames.Count} frames of agent audio; expected about {expectedMs / 20}");
            var reply = string.Concat(user.RoomMessages.Where(m => Cmd(m) == 4).Select(m => m.GetProperty("Data").GetProperty("Text").GetString()));
            Assert.Equal("It is sunny. Enjoy your day!", reply);
        }

        Assert.True(volc.AsrRequests >= 1);
        Assert.True(volc.AudioBytesReceived > 16000, $"only {volc.AudioBytesReceived} bytes of user audio reached the recogniser");
        Assert.True(volc.TtsSessionsFinished >= 1, $"{volc.TtsSessionsFinished} TTS sessions finished");
        Assert.Equal(0, volc.ConnectionsRejected);
        Assert.Empty(volc.ProtocolErrors);
        Assert.Contains(volc.Requests, r => r["req_params"]?["speaker"]?.GetValue<string>() == "en_female_sarah_mars_bigtts");
    }

    [Fact]
    public async Task AVendorFailureMidCall_LeavesTheInstanceServingTheNextTurn()
    {
        await using var volc = await FakeVolcengineServer.StartAsync(new FakeVolcengineOptions { AsrTranscript = Transcript });
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Reply("First answer."));
        llm.Enqueue(FakeLlmResponse.Reply("Second answer."));
        await using var receiver = await CallbackReceiver.StartAsync("volc-cb2");
        var app = new TestApp(4000004, "v0lcv0lcv0lcv0lcv0lcv0lcv0lcv0l2", receiver.Url.ToString(), receiver.Secret);
        await using var server = await ParleyTestServer.StartAsync([app], Config(volc));
        var api = server.CreateClient();
        await RegisterAsync(api, "ByteDanceV3", llm.Url);
        var (user, _) = await JoinAsync(server, api, app, receiver, "room_w");
        await using (user)
        {
            // The first reply's synthesis is refused (a concurrency limit), the second is spoken.
            volc.FailNext(45000000, "quota exceeded for types: concurrency");
            await user.SendAudioRealTimeAsync(TestSpeech.Flite("What is the weather like today?"));
            await user.SendAudioRealTimeAsync(TestSpeech.Silence(1500));
            await llm.WaitForRequestAsync();
            await WaitUntilAsync(() => volc.ErrorsSent >= 1, TimeSpan.FromSeconds(20), "the fake never refused a synthesis");
            await user.SendAudioRealTimeAsync(TestSpeech.Silence(1000));

            await user.SendAudioRealTimeAsync(TestSpeech.Flite("And tomorrow?"));
            await user.SendAudioRealTimeAsync(TestSpeech.Silence(1500));
            await llm.WaitForRequestAsync();
            var frames = await user.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
            Assert.True(frames.Count * 20 >= "Second answer.".Length * 60 * 0.8, $"{frames.Count} frames of agent audio after the failure");
            Assert.True(volc.TtsSessionsFinished >= 1);
        }
    }

    private static Dictionary<string, string?> Config(FakeVolcengineServer volc) => new()
    {
        ["Parley:RateLimitPerSecond"] = "100",
        ["Parley:Vendors:ByteDanceV3:Url"] = volc.UnidirectionalUrl,
        ["Parley:Vendors:ByteDanceFlowing:Url"] = volc.BidirectionalUrl,
        ["Parley:Vendors:VolcSeedASR:Url"] = volc.AsrUrl,
        ["Parley:Vendors:VolcSeedASR:AppId"] = volc.Options.AppId,
        ["Parley:Vendors:VolcSeedASR:AccessToken"] = volc.Options.AccessToken,
    };

    private static async Task RegisterAsync(ParleyClient api, string ttsVendor, string llmUrl)
    {
        Assert.Equal(0, (await api.RegisterAgentAsync(new RegisterAgentRequest
        {
            AgentId = "volc",
            LLM = new LlmConfig { Url = llmUrl, Model = "fake", SystemPrompt = "You are a weather bot." },
            TTS = new TtsConfig
            {
                Vendor = ttsVendor,
                Params = JsonNode.Parse("""
                    {"app":{"appid":"fake-volc-app","token":"fake-volc-token","resource_id":"seed-tts-2.0"},
                     "req_params":{"speaker":"en_female_sarah_mars_bigtts","audio_params":{"speech_rate":0}}}
                    """)!.AsObject(),
            },
            ASR = new AsrConfig
            {
                Vendor = "VolcSeedASR",
                Params = JsonNode.Parse("""{"corpus":{"boosting_table_id":"test_boosting_table"}}""")!.AsObject(),
                VADSilenceSegmentation = 500,
            },
        })).Code);
    }

    private static async Task<(RoomTestClient User, string InstanceId)> JoinAsync(ParleyTestServer server, ParleyClient api, TestApp app, CallbackReceiver receiver, string room)
    {
        var user = await RoomTestClient.ConnectAsync(server.BaseAddress);
        var token = Token04.Mint(app.AppId, "user_1", app.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
        Assert.Equal(0, (await user.LoginAsync(token, room, "user_1")).GetProperty("Code").GetInt32());
        Assert.Equal(0, (await user.PlayAsync("agent_s")).GetProperty("Code").GetInt32());
        Assert.Equal(0, (await user.PublishAsync("user_s")).GetProperty("Code").GetInt32());
        var instance = (await api.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "volc",
            UserId = "user_1",
            RTC = new RtcConfig { RoomId = room, AgentStreamId = "agent_s", AgentUserId = "agent_1", UserStreamId = "user_s" },
            CallbackConfig = new CallbackConfig { ASRResult = 1 },
        })).Data!.AgentInstanceId;
        await WaitUntilAsync(() => receiver.Requests.Any(r => r.Event == "AgentInstanceCreated"), TimeSpan.FromSeconds(20), "no AgentInstanceCreated");
        return (user, instance);
    }

    private static bool IsFinalTranscript(JsonElement m) => Cmd(m) == 3 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean();

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
