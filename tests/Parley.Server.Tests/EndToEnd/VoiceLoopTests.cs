using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Rtc.Tokens;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.FakeLlm;
using Parley.Testing.Rooms;
using Parley.Testing.Speech;

namespace Parley.Server.Tests.EndToEnd;

/// <summary>
/// The voice loop end to end over the WebSocket transport with the real local engines (Silero VAD, pocketsphinx,
/// flite) and a fake OpenAI-compatible LLM: the user speaks, the agent answers in audio, and can be cut off.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class VoiceLoopTests
{
    private const string Question = "What is the weather like today?";

    [Fact]
    public async Task UserAsksByVoice_AgentAnswersInAudio_WithTranscriptSubtitlesAndContext()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(10), "It is", " sunny", " and warm.", " Enjoy your day!"));
        await using var receiver = await CallbackReceiver.StartAsync("voice-cb");
        await using var session = await VoiceSession.StartAsync(llm, receiver, new CallbackConfig { ASRResult = 1, UserSpeakAction = 1, AgentSpeakAction = 1 });

        var spoke = Stopwatch.GetTimestamp();
        await session.User.SendAudioRealTimeAsync(TestSpeech.Flite(Question));
        var userEnded = Stopwatch.GetTimestamp();
        await session.User.SendAudioRealTimeAsync(TestSpeech.Silence(1500));

        // The room hears the user's transcript (Cmd 3: partials then a final containing "weather").
        var final = await session.WaitForRoomMessageAsync(m => Cmd(m) == 3 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean(), TimeSpan.FromSeconds(20));
        Assert.Contains("weather", final.GetProperty("Data").GetProperty("Text").GetString());
        Assert.Contains(session.User.RoomMessages, m => Cmd(m) == 1 && m.GetProperty("Data").GetProperty("SpeakStatus").GetInt32() == 1);

        // The agent answers in audio, and its text reaches the room (Cmd 4).
        var frames = await session.User.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        Assert.True(frames.Count > 50, $"only {frames.Count} frames of agent audio");
        Assert.True(Stopwatch.GetElapsedTime(spoke, frames[0].ArrivedTicks) > Stopwatch.GetElapsedTime(spoke, userEnded), "agent spoke before the user finished");
        var reply = string.Concat(session.User.RoomMessages.Where(m => Cmd(m) == 4).Select(m => m.GetProperty("Data").GetProperty("Text").GetString()));
        Assert.Equal("It is sunny and warm. Enjoy your day!", reply);

        // The LLM was asked the recognised question; the context holds both sides.
        var request = await llm.WaitForRequestAsync();
        Assert.Contains("weather", request.Body["messages"]!.AsArray()[^1]!["content"]!.GetValue<string>());
        var context = await session.WaitForContextAsync(2);
        Assert.Equal("user", context[0].Role);
        Assert.Contains("weather", context[0].Content);
        Assert.Equal("assistant", context[1].Role);
        Assert.Equal("It is sunny and warm. Enjoy your day!", context[1].Content);

        // Callbacks tell the same story.
        var asr = await session.WaitForCallbackAsync("ASRResult");
        Assert.Contains("weather", asr.Data!["Text"]!.GetValue<string>());
        await session.WaitForCallbackAsync("UserSpeakAction", c => c.Data!["Action"]!.GetValue<string>() == "SPEAK_END");
        await session.WaitForCallbackAsync("AgentSpeakAction", c => c.Data!["Action"]!.GetValue<string>() == "SPEAK_END");
    }

    [Fact]
    public async Task WithServerEchoCancellation_TheAgentStillHearsTheUser_AndAnswersInAudio()
    {
        // Parley:Turns:EchoCancellation = Speex: the room session's pipeline runs the user's audio through speexdsp,
        // with the agent's played audio as the reference; the user's speech (no echo here) must come through intact.
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(10), "It is sunny."));
        await using var receiver = await CallbackReceiver.StartAsync("aec-cb");
        await using var session = await VoiceSession.StartAsync(llm, receiver, new CallbackConfig { ASRResult = 1 }, echoCancellation: "Speex");

        await session.User.SendAudioRealTimeAsync(TestSpeech.Flite(Question));
        await session.User.SendAudioRealTimeAsync(TestSpeech.Silence(1500));

        var final = await session.WaitForRoomMessageAsync(m => Cmd(m) == 3 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean(), TimeSpan.FromSeconds(20));
        Assert.Contains("weather", final.GetProperty("Data").GetProperty("Text").GetString());
        var frames = await session.User.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        Assert.True(frames.Count > 25, $"only {frames.Count} frames of agent audio");
    }

    [Fact]
    public async Task UserTalksOverTheAgent_AudioStopsQuickly_InterruptedIsReported_ContextKeepsWhatWasPlayed()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Reply("Okay."));
        await using var receiver = await CallbackReceiver.StartAsync("barge-cb");
        await using var session = await VoiceSession.StartAsync(llm, receiver, new CallbackConfig { Interrupted = 1 });

        const string story = "Once upon a time there was a little robot who lived in a very large city. Every morning it woke up early and walked to the park. There it met many friends and talked with them for hours about the weather.";
        Assert.Equal(0, (await session.Api.SendAgentInstanceTTSAsync(new SendAgentInstanceTtsRequest { AgentInstanceId = session.InstanceId, Text = story })).Code);

        // Let the agent speak for a while, then talk over it.
        await WaitUntilAsync(() => session.User.Frames.Count >= 75, TimeSpan.FromSeconds(20));
        var speech = TestSpeech.Flite("Stop please. What time is it?");
        await session.User.SendAudioRealTimeAsync(speech);
        await session.User.SendAudioRealTimeAsync(TestSpeech.Silence(1200));

        // The VAD's speech start is announced to the room (Cmd 1); the agent's audio stops right after it.
        var started = await session.WaitForRoomMessageAsync(m => Cmd(m) == 1 && m.GetProperty("Data").GetProperty("SpeakStatus").GetInt32() == 1, TimeSpan.FromSeconds(10));
        var startedAt = session.User.ArrivalOf(started);
        // The story's audio is the run of frames up to the first long silence (the agent's next reply comes later).
        var frames = session.User.Frames;
        var storyEnd = 1;
        while (storyEnd < frames.Count && Stopwatch.GetElapsedTime(frames[storyEnd - 1].ArrivedTicks, frames[storyEnd].ArrivedTicks) < TimeSpan.FromMilliseconds(300))
        {
            storyEnd++;
        }

        var lastOfStory = frames[storyEnd - 1].ArrivedTicks;
        var tail = Stopwatch.GetElapsedTime(startedAt, lastOfStory);
        Assert.True(storyEnd < 600, "the whole story was played");
        Assert.True(tail < TimeSpan.FromMilliseconds(100), $"agent audio went on {tail.TotalMilliseconds:0} ms after the user's speech start");

        var interrupted = await session.WaitForCallbackAsync("Interrupted");
        Assert.Equal(1, interrupted.Data!["Reason"]!.GetValue<int>());

        // The context keeps only the part of the story that was played, then the user's turn.
        var context = await session.WaitForContextAsync(2);
        var played = context[0];
        Assert.Equal("assistant", played.Role);
        Assert.StartsWith("Once upon a time", played.Content);
        Assert.True(played.Content.Length < story.Length, "the interrupted reply was kept whole");
        Assert.Equal("user", context[1].Role);
    }

    /// <summary>
    /// First run: an agent on the built-in demo LLM (LLM.Url parley:demo) needs no LLM server. The user asks by voice;
    /// the agent answers aloud with the demo's label, what it heard and the time.
    /// </summary>
    [Fact]
    public async Task DemoLlm_UserAsksByVoice_AgentAnswersAloudWithWhatItHeard()
    {
        await using var receiver = await CallbackReceiver.StartAsync("demo-cb");
        await using var session = await VoiceSession.StartAsync("parley:demo", receiver, new CallbackConfig { ASRResult = 1 });

        await session.User.SendAudioRealTimeAsync(TestSpeech.Flite(Question));
        await session.User.SendAudioRealTimeAsync(TestSpeech.Silence(1500));

        var frames = await session.User.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(40));
        Assert.True(frames.Count > 50, $"only {frames.Count} frames of agent audio");
        var reply = string.Concat(session.User.RoomMessages.Where(m => Cmd(m) == 4).Select(m => m.GetProperty("Data").GetProperty("Text").GetString()));
        Assert.StartsWith("Demo LLM (no language model configured): I heard: ", reply);
        Assert.Contains("weather", reply);
        Assert.Matches(@"It is \d\d:\d\d\.$", reply);
        var context = await session.WaitForContextAsync(2);
        Assert.Equal(reply, context[1].Content);
    }

    private static int Cmd(JsonElement message) => message.GetProperty("Cmd").GetInt32();

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(20);
        }
    }

    /// <summary>A server, an agent on the fake LLM with local flite TTS, and a user in the room publishing and playing.</summary>
    private sealed class VoiceSession : IAsyncDisposable
    {
        private ParleyTestServer _server = null!;
        private CallbackReceiver _receiver = null!;

        public ParleyClient Api { get; private set; } = null!;

        public RoomTestClient User { get; private set; } = null!;

        public string InstanceId { get; private set; } = "";

        public static Task<VoiceSession> StartAsync(FakeLlmServer llm, CallbackReceiver receiver, CallbackConfig callbacks, string echoCancellation = "None") =>
            StartAsync(llm.Url, receiver, callbacks, echoCancellation);

        public static async Task<VoiceSession> StartAsync(string llmUrl, CallbackReceiver receiver, CallbackConfig callbacks, string echoCancellation = "None")
        {
            var app = new TestApp(4000001, "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1", receiver.Url.ToString(), receiver.Secret);
            var session = new VoiceSession { _receiver = receiver };
            session._server = await ParleyTestServer.StartAsync([app], new Dictionary<string, string?>
            {
                ["Parley:RateLimitPerSecond"] = "100",
                ["Parley:Turns:EchoCancellation"] = echoCancellation,
            });
            session.Api = session._server.CreateClient();
            Assert.Equal(0, (await session.Api.RegisterAgentAsync(new RegisterAgentRequest
            {
                AgentId = "voice",
                LLM = new LlmConfig { Url = llmUrl, Model = "fake", SystemPrompt = "You are a weather bot." },
                TTS = new TtsConfig { Vendor = "Local", Params = new JsonObject { ["engine"] = "flite", ["voice"] = "kal16" } },
                ASR = new AsrConfig { VADSilenceSegmentation = 500 },
            })).Code);

            session.User = await RoomTestClient.ConnectAsync(session._server.BaseAddress);
            var token = Token04.Mint(app.AppId, "user_1", app.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
            Assert.Equal(0, (await session.User.LoginAsync(token, "room_v", "user_1")).GetProperty("Code").GetInt32());
            Assert.Equal(0, (await session.User.PlayAsync("agent_s")).GetProperty("Code").GetInt32());
            Assert.Equal(0, (await session.User.PublishAsync("user_s")).GetProperty("Code").GetInt32());

            session.InstanceId = (await session.Api.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
            {
                AgentId = "voice",
                UserId = "user_1",
                RTC = new RtcConfig { RoomId = "room_v", AgentStreamId = "agent_s", AgentUserId = "agent_1", UserStreamId = "user_s" },
                CallbackConfig = callbacks,
            })).Data!.AgentInstanceId;
            await session.WaitForCallbackAsync("AgentInstanceCreated");
            return session;
        }

        public async Task<JsonElement> WaitForRoomMessageAsync(Func<JsonElement, bool> match, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < deadline)
            {
                var found = User.RoomMessages.FirstOrDefault(match);
                if (found.ValueKind != JsonValueKind.Undefined)
                {
                    return found;
                }

                await Task.Delay(20);
            }

            throw new TimeoutException("room messages: " + string.Join(" | ", User.RoomMessages.Select(m => m.GetRawText())));
        }

        public async Task<IReadOnlyList<ChatMessage>> WaitForContextAsync(int count)
        {
            IReadOnlyList<ChatMessage> context = [];
            for (var i = 0; i < 100; i++)
            {
                context = (await Api.GetAgentInstanceMsgListAsync(InstanceId)).Data!.MessageList;
                if (context.Count >= count)
                {
                    return context;
                }

                await Task.Delay(150);
            }

            throw new TimeoutException($"context has {context.Count} messages: {string.Join(" | ", context.Select(m => $"{m.Role}: {m.Content}"))}");
        }

        public async Task<ReceivedCallback> WaitForCallbackAsync(string name, Func<ReceivedCallback, bool>? match = null)
        {
            for (var i = 0; i < 300; i++)
            {
                var found = _receiver.Requests.FirstOrDefault(r => r.Event == name && (match is null || match(r)));
                if (found is not null)
                {
                    return found;
                }

                await Task.Delay(100);
            }

            throw new TimeoutException($"no {name} callback; got {string.Join(", ", _receiver.Requests.Select(r => r.Event))}");
        }

        public async ValueTask DisposeAsync()
        {
            await User.DisposeAsync();
            await _server.DisposeAsync();
        }
    }
}
