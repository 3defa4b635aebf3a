using System.Text.Json;
using Parley.Media;
using Parley.Testing;
using Parley.Testing.FakeLlm;
using Parley.Testing.Rooms;
using Parley.Testing.Speech;

namespace Parley.Server.Tests.Conformance;

/// <summary>
/// ZEGO's own code against Parley: the server sample's route handlers (ai_agent_quick_start_server: start, send TTS,
/// stop, zego-token, start-digital-human) and the web client's room-message parser (ai_agent_quick_start
/// web/src/hooks/useChat.ts), run by Node.js through <see cref="ZegoSampleDriver"/>. A room client logged in with
/// the token the sample's token route minted hears the agent.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class ZegoSampleConformanceTests
{
    private const string Sentence = "Hello from the sample backend.";
    private const string Question = "What is the weather like today?";
    private const string Reply = "It is sunny and warm.";

    [ZegoSampleFact]
    public async Task SampleFlows_AnswerCodeZero_AndAUserWithTheSampleTokenHearsTheAgent_AndUseChatRebuildsTheConversation()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        llm.DefaultResponse = FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(10), "It is", " sunny", " and warm.");
        var app = new TestApp(5000001, "e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2");
        await using var server = await ParleyTestServer.StartAsync([app], new Dictionary<string, string?> { ["Parley:RateLimitPerSecond"] = "100" });
        var sample = new ZegoSampleDriver(ZegoSampleDriver.Configured!, server.BaseAddress, app, llm.Url);

        // Token route (token_helper.ts generateToken04, empty payload): the user logs in with it.
        var token = await sample.RunAsync("token", new { userId = "user_1" });
        Assert.Equal(0, Body(token).GetProperty("code").GetInt32());
        await using var user = await RoomTestClient.ConnectAsync(server.BaseAddress);
        var login = await user.LoginAsync(Body(token).GetProperty("token").GetString()!, "room_1", "user_1");
        Assert.True(login.GetProperty("Code").GetInt32() == 0, $"login with the sample's token: {login}");
        Assert.Equal(0, (await user.PublishAsync("user_stream_1")).GetProperty("Code").GetInt32());

        // Start route: ensureAgentRegistered (QueryAgents → RegisterAgent) then CreateAgentInstance.
        var started = await sample.RunAsync("start", new { user_id = "user_1", room_id = "room_1", user_stream_id = "user_stream_1" });
        Assert.True(Body(started).GetProperty("code").GetInt32() == 0, $"start: {started}");
        var instanceId = Body(started).GetProperty("agent_instance_id").GetString()!;
        var agentStream = Body(started).GetProperty("agent_stream_id").GetString()!;
        Assert.Equal(0, (await user.PlayAsync(agentStream)).GetProperty("Code").GetInt32());
        await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamAdded" && m.GetProperty("StreamId").GetString() == agentStream, TimeSpan.FromSeconds(15));

        // Send-TTS route: the user hears speech, and the subtitle (Cmd 4) is the text.
        var tts = await sample.RunAsync("tts", new { agent_instance_id = instanceId, text = Sentence });
        Assert.True(Body(tts).GetProperty("code").GetInt32() == 0, $"send tts: {tts}");
        var frames = await user.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(20));
        var heard = frames.SelectMany(f => f.Samples).ToArray();
        Assert.True(heard.Length > 16000 / 2, $"only {heard.Length} samples of agent audio");
        Assert.True(PcmMath.Dbfs(heard) > -35, $"level {PcmMath.Dbfs(heard):0.0} dBFS");
        await WaitForRoomMessageAsync(user, m => Cmd(m) == 4 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean());
        Assert.Equal(Sentence, string.Concat(user.RoomMessages.Where(m => Cmd(m) == 4).Select(m => m.GetProperty("Data").GetProperty("Text").GetString())));

        // The user asks by voice (the sample registers ASR {Params:{}}, so Parley's default recogniser listens).
        await user.SendAudioRealTimeAsync(TestSpeech.Flite(Question));
        await user.SendAudioRealTimeAsync(TestSpeech.Silence(1500));
        await WaitForRoomMessageAsync(user, m => Cmd(m) == 3 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean(), 30);
        await WaitForRoomMessageAsync(user, m => Cmd(m) == 2 && m.GetProperty("Data").GetProperty("SpeakStatus").GetInt32() == 2 && m.GetProperty("SeqId").GetInt64() > LastSeq(user, 3), 30);

        // The web client's useChat over exactly what the room sent: the transcript, both agent replies, the state.
        var messages = user.RoomMessages;
        var chat = await sample.RunAsync("usechat", new { messages });
        var parsed = chat.GetProperty("messages").EnumerateArray().Select(m => (Sender: m.GetProperty("sender").GetString(), Content: m.GetProperty("content").GetString()!)).ToList();
        Assert.True(parsed.Count == 3, $"useChat rebuilt {chat}");
        Assert.Equal(("bot", Sentence), parsed[0]);
        Assert.Equal("user", parsed[1].Sender);
        Assert.Contains("weather", parsed[1].Content, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(("bot", Reply), parsed[2]);
        var signals = chat.GetProperty("signals").EnumerateArray().Select(s => s.GetInt32()).ToList();
        Assert.Contains(2, signals); // Speaking
        Assert.Contains(3, signals); // Thinking (user finished speaking)
        Assert.Equal(1, signals[^1]); // Listening again

        // Stop route: DeleteAgentInstance; the agent's stream ends for the user.
        var stopped = await sample.RunAsync("stop", new { agent_instance_id = instanceId });
        Assert.True(Body(stopped).GetProperty("code").GetInt32() == 0, $"stop: {stopped}");
        await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamRemoved", TimeSpan.FromSeconds(10));

        // A second start: QueryAgents now finds the agent and its echo equals what the sample would register (no UpdateAgent).
        var again = await sample.RunAsync("start", new { user_id = "user_1", room_id = "room_1", user_stream_id = "user_stream_1" });
        Assert.True(Body(again).GetProperty("code").GetInt32() == 0, $"second start: {again}");
        Assert.Contains("isConfigEqual true", again.GetProperty("logs").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(0, Body(await sample.RunAsync("stop", new { agent_instance_id = Body(again).GetProperty("agent_instance_id").GetString() })).GetProperty("code").GetInt32());

        // Digital-human route: 410001025 here, on which the sample falls back to a voice instance (code 0).
        var human = await sample.RunAsync("digital-human", new { digital_human_id = "dh_1", config_id = "web", user_id = "user_1", room_id = "room_1", user_stream_id = "user_stream_1" });
        Assert.True(Body(human).GetProperty("code").GetInt32() == 0, $"digital human: {human}");
        Assert.StartsWith("数字人并发已满", Body(human).GetProperty("message").GetString(), StringComparison.Ordinal);
        var voiceStream = Body(human).GetProperty("agent_stream_id").GetString()!;
        await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamAdded" && m.GetProperty("StreamId").GetString() == voiceStream, TimeSpan.FromSeconds(15));
        Assert.Equal(0, Body(await sample.RunAsync("stop", new { agent_instance_id = Body(human).GetProperty("agent_instance_id").GetString() })).GetProperty("code").GetInt32());
        // Live digital-human route: no fallback in the sample; Parley's documented 410001025 reaches its caller as is.
        var live = await sample.RunAsync("live-digital-human", new { digital_human_id = "dh_1", config_id = "web", room_id = "room_live" });
        Assert.True(Body(live).GetProperty("code").GetInt32() == 410001025, $"live digital human: {live}");
        Assert.Contains("digital", Body(live).GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    private static JsonElement Body(JsonElement result)
    {
        Assert.True(result.GetProperty("status").GetInt32() == 200, $"HTTP {result}");
        return result.GetProperty("body");
    }

    private static int Cmd(JsonElement message) => message.GetProperty("Cmd").GetInt32();

    private static long LastSeq(RoomTestClient user, int cmd) =>
        user.RoomMessages.Where(m => Cmd(m) == cmd).Select(m => m.GetProperty("SeqId").GetInt64()).DefaultIfEmpty(long.MaxValue).Max();

    private static async Task WaitForRoomMessageAsync(RoomTestClient user, Func<JsonElement, bool> match, int seconds = 15)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!user.RoomMessages.Any(match))
        {
            Assert.True(DateTime.UtcNow < deadline, "room messages: " + string.Join(" | ", user.RoomMessages.Select(m => m.GetRawText())));
            await Task.Delay(20);
        }
    }
}
