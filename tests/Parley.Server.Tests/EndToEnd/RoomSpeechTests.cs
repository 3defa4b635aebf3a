using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Media;
using Parley.Providers.Local;
using Parley.Rtc.Tokens;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.Rooms;

namespace Parley.Server.Tests.EndToEnd;

/// <summary>An agent in a real room: a WebSocket client (written from docs/protocol.md) hears what SendAgentInstanceTTS asked.</summary>
[Trait("Category", "RealEngine")]
public sealed class RoomSpeechTests
{
    private const string Sentence = "Hello, this is a test of the speech system.";

    [Fact]
    public async Task Client_HearsTheAgentSpeakTheTtsText_PacedInRealTime_WithRoomMessages()
    {
        await using var receiver = await CallbackReceiver.StartAsync("room-cb");
        var app = new TestApp(3000001, "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7", receiver.Url.ToString(), "room-cb");
        await using var server = await ParleyTestServer.StartAsync([app]);
        var api = server.CreateClient();
        Assert.Equal(0, (await api.RegisterAgentAsync(new RegisterAgentRequest
        {
            AgentId = "speaker",
            LLM = new LlmConfig { Url = "http://127.0.0.1:9/v1/chat/completions", Model = "unused" },
            TTS = new TtsConfig { Vendor = "Local", Params = new JsonObject { ["engine"] = "flite", ["voice"] = "kal16" } },
        })).Code);

        // The user joins first, with a Token04 minted by the business backend, and plays the agent's stream.
        await using var user = await RoomTestClient.ConnectAsync(server.BaseAddress);
        var token = Token04.Mint(app.AppId, "user_1", app.ServerSecret, TimeSpan.FromHours(1), Token04.BuildPayload("room_1", true, true), TimeProvider.System);
        var login = await user.LoginAsync(token, "room_1", "user_1");
        Assert.Equal(0, login.GetProperty("Code").GetInt32());
        Assert.Equal(0, (await user.PlayAsync("agent_stream_1")).GetProperty("Code").GetInt32());

        var instanceId = (await api.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "speaker",
            UserId = "user_1",
            RTC = new RtcConfig { RoomId = "room_1", AgentStreamId = "agent_stream_1", AgentUserId = "agent_1", UserStreamId = "user_stream_1" },
            CallbackConfig = new CallbackConfig { AgentSpeakAction = 1 },
        })).Data!.AgentInstanceId;
        await WaitForCallbackAsync(receiver, "AgentInstanceCreated");
        await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamAdded" && m.GetProperty("StreamId").GetString() == "agent_stream_1", TimeSpan.FromSeconds(10));

        var sent = Stopwatch.GetTimestamp();
        Assert.Equal(0, (await api.SendAgentInstanceTTSAsync(new SendAgentInstanceTtsRequest { AgentInstanceId = instanceId, Text = Sentence })).Code);
        var sawSpeaking = false;
        for (var i = 0; i < 40 && !sawSpeaking; i++)
        {
            sawSpeaking = (await api.QueryAgentInstanceStatusAsync(instanceId)).Data!.Status == "SPEAKING";
            await Task.Delay(120); // under the default rate limit of 10 requests/s per action
        }

        var frames = await user.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(20));
        Assert.True(sawSpeaking, "QueryAgentInstanceStatus never said SPEAKING while the agent spoke");

        // Duration: what flite produces for the sentence, paced out in real time in 20 ms frames.
        var expected = await SynthesizedDurationAsync(Sentence);
        var samples = frames.Sum(f => f.Samples.Length);
        var heard = TimeSpan.FromSeconds(samples / 16000.0);
        Assert.InRange(heard.TotalSeconds, expected.TotalSeconds * 0.9, expected.TotalSeconds * 1.1 + 0.05);
        Assert.All(frames, f => Assert.True(f.Samples.Length <= 320, $"frame of {f.Samples.Length} samples"));
        var spread = Stopwatch.GetElapsedTime(frames[0].ArrivedTicks, frames[^1].ArrivedTicks);
        Assert.InRange(spread.TotalSeconds, heard.TotalSeconds * 0.8 - 0.1, heard.TotalSeconds + 1.0);
        Assert.True(Stopwatch.GetElapsedTime(sent, frames[0].ArrivedTicks) < TimeSpan.FromSeconds(2), "first audio took too long");

        // Content is speech, not silence.
        var all = frames.SelectMany(f => f.Samples).ToArray();
        Assert.True(PcmMath.Dbfs(all) > -35, $"level {PcmMath.Dbfs(all):0.0} dBFS");

        // Room messages: the agent's text (Cmd 4, then EndFlag), its status (Cmd 6: 3 then 0) and speak status (Cmd 2).
        var messages = await WaitForRoomMessagesAsync(user, m => Cmd(m) == 4 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean());
        var text = string.Concat(messages.Where(m => Cmd(m) == 4).Select(m => m.GetProperty("Data").GetProperty("Text").GetString()));
        Assert.Equal(Sentence, text);
        await WaitForRoomMessagesAsync(user, m => Cmd(m) == 6 && m.GetProperty("Data").GetProperty("Status").GetInt32() == 0);
        messages = user.RoomMessages;
        var statuses = messages.Where(m => Cmd(m) == 6).Select(m => m.GetProperty("Data").GetProperty("Status").GetInt32()).ToList();
        Assert.Contains(3, statuses);
        Assert.Equal(0, statuses[^1]);
        Assert.Equal([1, 2], messages.Where(m => Cmd(m) == 2).Select(m => m.GetProperty("Data").GetProperty("SpeakStatus").GetInt32()));
        var seq = messages.Select(m => m.GetProperty("SeqId").GetInt64()).ToList();
        Assert.Equal(seq.Order(), seq);

        // The spoken text joined the context (AddHistory defaults to true), and the speak actions were reported.
        var context = (await api.GetAgentInstanceMsgListAsync(instanceId)).Data!.MessageList;
        Assert.Equal(Sentence, Assert.Single(context).Content);
        await WaitForCallbackAsync(receiver, "AgentSpeakAction", c => c.Data!["Action"]!.GetValue<string>() == "SPEAK_END");

        // Leaving: the agent's stream ends for the user.
        Assert.Equal(0, (await api.DeleteAgentInstanceAsync(instanceId)).Code);
        await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamRemoved", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task FilterTextAndTerminator_AreNotSpoken_ButSubtitlesKeepTheText()
    {
        var app = new TestApp(3000002, "b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8b8");
        await using var server = await ParleyTestServer.StartAsync([app]);
        var api = server.CreateClient();
        Assert.Equal(0, (await api.RegisterAgentAsync(new RegisterAgentRequest
        {
            AgentId = "filtered",
            LLM = new LlmConfig { Url = "http://127.0.0.1:9/v1/chat/completions", Model = "unused" },
            TTS = new TtsConfig { Vendor = "Local", Params = [], FilterText = [new TtsFilterText { BeginCharacters = "(", EndCharacters = ")" }], TerminatorText = "#" },
        })).Code);
        await using var user = await RoomTestClient.ConnectAsync(server.BaseAddress);
        await user.LoginAsync(Token04.Mint(app.AppId, "u", app.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System), "r", "u");
        await user.PlayAsync("as");
        var instanceId = (await api.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "filtered",
            UserId = "u",
            RTC = new RtcConfig { RoomId = "r", AgentStreamId = "as", AgentUserId = "a", UserStreamId = "us" },
        })).Data!.AgentInstanceId;
        await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamAdded", TimeSpan.FromSeconds(10));

        Assert.Equal(0, (await api.SendAgentInstanceTTSAsync(new SendAgentInstanceTtsRequest { AgentInstanceId = instanceId, Text = "Yes. (a very long stage direction that would take seconds to speak aloud, on and on and on) # and a long appendix that is never spoken either" })).Code);
        var frames = await user.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(20));
        var heard = frames.Sum(f => f.Samples.Length) / 16000.0;
        var yes = (await SynthesizedDurationAsync("Yes.")).TotalSeconds;
        Assert.InRange(heard, yes * 0.8, yes * 1.2 + 0.05);
    }

    [Fact]
    public async Task InstanceInARoomWithoutUsers_IsDeletedWith1202_AfterTheIdleTimeout()
    {
        await using var receiver = await CallbackReceiver.StartAsync("idle-cb");
        var app = new TestApp(3000003, "c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9c9", receiver.Url.ToString(), "idle-cb");
        await using var server = await ParleyTestServer.StartAsync([app], new Dictionary<string, string?> { ["Parley:Rooms:IdleTimeout"] = "00:00:01" });
        var api = server.CreateClient();
        await api.RegisterAgentAsync(new RegisterAgentRequest
        {
            AgentId = "lonely",
            LLM = new LlmConfig { Url = "http://127.0.0.1:9/v1/chat/completions", Model = "unused" },
            TTS = new TtsConfig { Vendor = "Local", Params = [] },
        });
        var instanceId = (await api.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
        {
            AgentId = "lonely",
            UserId = "nobody",
            RTC = new RtcConfig { RoomId = "empty", AgentStreamId = "as", AgentUserId = "a", UserStreamId = "us" },
        })).Data!.AgentInstanceId;

        var deleted = await WaitForCallbackAsync(receiver, "AgentInstanceDeleted");
        Assert.Equal(1202, deleted.Data!["Code"]!.GetValue<int>());
        Assert.Equal(410001002, (await api.QueryAgentInstanceStatusAsync(instanceId)).Code);
        Assert.Contains(receiver.Requests, r => r.Event == "Exception" && r.Data!["Code"]!.GetValue<int>() == 1202 && r.Data["Round"] is not null);
    }

    private static int Cmd(JsonElement message) => message.GetProperty("Cmd").GetInt32();

    private static async Task<IReadOnlyList<JsonElement>> WaitForRoomMessagesAsync(RoomTestClient client, Func<JsonElement, bool> until)
    {
        for (var i = 0; i < 200; i++)
        {
            var messages = client.RoomMessages;
            if (messages.Any(until))
            {
                return messages;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("room messages: " + string.Join(" | ", client.RoomMessages.Select(m => m.GetRawText())));
    }

    private static async Task<ReceivedCallback> WaitForCallbackAsync(CallbackReceiver receiver, string name, Func<ReceivedCallback, bool>? match = null)
    {
        for (var i = 0; i < 300; i++)
        {
            var found = receiver.Requests.FirstOrDefault(r => r.Event == name && (match is null || match(r)));
            if (found is not null)
            {
                return found;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"no {name} callback; got {string.Join(", ", receiver.Requests.Select(r => r.Event))}");
    }

    private static async Task<TimeSpan> SynthesizedDurationAsync(string text)
    {
        var samples = 0;
        var rate = 16000;
        await foreach (var chunk in new LocalTtsProvider().SynthesizeAsync(text, new JsonObject { ["engine"] = "flite", ["voice"] = "kal16" }, CancellationToken.None))
        {
            using (chunk)
            {
                samples += chunk.Length;
                rate = chunk.SampleRate;
            }
        }

        return TimeSpan.FromSeconds((double)samples / rate);
    }
}
