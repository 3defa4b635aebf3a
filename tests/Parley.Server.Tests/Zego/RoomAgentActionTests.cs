using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Rtc.Tokens;
using Parley.Testing;
using Parley.Testing.Rooms;

namespace Parley.Server.Tests.Zego;

/// <summary>
/// ZEGO's client → agent action channel over Parley's room server: a room client sends <c>msg_type</c> 20 to the
/// agent's user and gets <c>msg_type</c> 22 back, the action run as the control API runs it.
/// </summary>
public sealed class RoomAgentActionTests
{
    private const string AgentUser = "agent_1";

    [Fact]
    [Trait("Category", "RealEngine")]
    public async Task SendAgentInstanceTTS_OverTheRoom_AgentSpeaksTheText_AndTheSenderGetsCode0WithRound()
    {
        const string Sentence = "Welcome to the room.";
        await using var room = await AgentRoom.StartAsync(3000101, "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1");

        await room.User.SendJsonAsync(Request(Content("SendAgentInstanceTTS", "user_1:dev:1", new { Text = Sentence })));
        var reply = await ReplyAsync(room.User, "user_1:dev:1");
        Assert.Equal("SendAgentInstanceTTS", reply.GetProperty("Action").GetString());
        Assert.Equal(0, reply.GetProperty("Code").GetInt32());
        Assert.Equal("success", reply.GetProperty("Message").GetString());
        Assert.Matches("^[0-9]{19}$", reply.GetProperty("RequestId").GetString());
        var round = reply.GetProperty("Data").GetProperty("Round").GetInt64();
        Assert.True(round > 0);

        // The subtitle (Cmd 4) of that round carries the text, and the agent's voice arrives.
        var messages = await WaitForRoomMessagesAsync(room.User, m => Cmd(m) == 4 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean());
        var subtitles = messages.Where(m => Cmd(m) == 4).ToList();
        Assert.Equal(Sentence, string.Concat(subtitles.Select(m => m.GetProperty("Data").GetProperty("Text").GetString())));
        Assert.All(subtitles, m => Assert.Equal(round, m.GetProperty("Round").GetInt64()));
        var frames = await room.User.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(20));
        Assert.True(frames.Sum(f => f.Samples.Length) > 16000 / 2, "less than 0.5 s of the agent's voice");

        // The same semantics as the HTTP action: the spoken text joined the context (AddHistory defaults to true).
        Assert.Equal(Sentence, Assert.Single((await room.Api.GetAgentInstanceMsgListAsync(room.InstanceId)).Data!.MessageList).Content);
    }

    [Fact]
    [Trait("Category", "RealEngine")]
    public async Task InterruptAgentInstance_OverTheRoom_StopsTheReply()
    {
        var text = string.Join(' ', Enumerable.Repeat("This sentence goes on for a long time.", 7));
        await using var room = await AgentRoom.StartAsync(3000102, "d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2d2");

        await room.User.SendJsonAsync(Request(Content("SendAgentInstanceTTS", "s1", new { Text = text })));
        Assert.Equal(0, (await ReplyAsync(room.User, "s1")).GetProperty("Code").GetInt32());
        await WaitForRoomMessagesAsync(room.User, m => Cmd(m) == 2 && m.GetProperty("Data").GetProperty("SpeakStatus").GetInt32() == 1);

        await room.User.SendJsonAsync(Request(Content("InterruptAgentInstance", "s2", new { })));
        var reply = await ReplyAsync(room.User, "s2");
        Assert.Equal(0, reply.GetProperty("Code").GetInt32());
        Assert.Equal("InterruptAgentInstance", reply.GetProperty("Action").GetString());

        await WaitForRoomMessagesAsync(room.User, m => Cmd(m) == 4 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean());
        var frames = await room.User.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(20));
        var heard = frames.Sum(f => f.Samples.Length) / 16000.0;
        Assert.True(heard < 8, $"{heard:0.0} s heard: the interruption did not stop a reply of ~15 s");
    }

    [Fact]
    public async Task BadRequests_GetErrorReplies_NamingTheField_AndTheChannelGoesOn()
    {
        await using var room = await AgentRoom.StartAsync(3000103, "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3");

        // msg_content that is not JSON: 410000004, as a control API body that is not JSON.
        await room.User.SendJsonAsync(new { Type = "RoomMessage", ToUserIds = new[] { AgentUser }, Message = new { msg_type = 20, msg_content = "{\"Action\":" } });
        var bad = await ReplyAsync(room.User, "");
        Assert.Equal(410000004, bad.GetProperty("Code").GetInt32());
        Assert.Contains("msg_content", bad.GetProperty("Message").GetString(), StringComparison.Ordinal);

        await ExpectErrorAsync(room, Content("DeleteAgentInstance", "e1", new { }), "e1", 410000003, "Action");
        await ExpectErrorAsync(room, Content("NoSuchAction", "e2", new { }), "e2", 410000003, "Action");
        await ExpectErrorAsync(room, """{"Seq":"e3","Params":{}}""", "e3", 410000003, "Action is required");
        await ExpectErrorAsync(room, """{"Action":"InterruptAgentInstance","Params":{}}""", "", 410000003, "Seq is required");
        await ExpectErrorAsync(room, """{"Action":"InterruptAgentInstance","Seq":5}""", "", 410000003, "Seq");
        await ExpectErrorAsync(room, """{"Action":"SendAgentInstanceTTS","Seq":"e4","Params":[1]}""", "e4", 410000003, "Params");
        await ExpectErrorAsync(room, """{"Action":"SendAgentInstanceTTS","Seq":"e5","Params":{"Text":"a","Text":"b"}}""", "e5", 410000003, "Params.Text");

        // The handler's own validation, with the control API's codes and messages.
        await ExpectErrorAsync(room, Content("SendAgentInstanceTTS", "e6", new { }), "e6", 410000003, "Text");
        await ExpectErrorAsync(room, Content("SendAgentInstanceTTS", "e7", new { Text = new string('x', 301) }), "e7", 410000003, "300");
        await ExpectErrorAsync(room, Content("SendAgentInstanceTTS", "e8", new { Text = "hi", Priority = "Urgent" }), "e8", 410000003, "Priority");

        // StartListening: until the listening actions are registered, the control API's "not supported"; once they
        // are, this instance is not in walkie-talkie mode.
        await room.User.SendJsonAsync(Request(Content("StartListening", "e9", new { UserId = "user_1" })));
        var listening = await ReplyAsync(room.User, "e9");
        Assert.Contains(listening.GetProperty("Code").GetInt32(), new[] { 100000007, 410001042 });

        // A client cannot aim at another instance: AgentInstanceId in Params is replaced by the agent's own.
        await room.User.SendJsonAsync(Request(Content("InterruptAgentInstance", "ok", new { AgentInstanceId = "1234567890123456789" })));
        Assert.Equal(0, (await ReplyAsync(room.User, "ok")).GetProperty("Code").GetInt32());
    }

    [Fact]
    public async Task MessagesNotAddressedToTheAgent_OrNotMsgType20_AreIgnored()
    {
        await using var room = await AgentRoom.StartAsync(3000104, "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4");
        await using var other = await RoomTestClient.ConnectAsync(room.Server.BaseAddress);
        await other.LoginAsync(Token04.Mint(room.App.AppId, "user_2", room.App.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System), "room_1", "user_2");

        // To another user, to everyone, another msg_type, and a Cmd-shaped message: none is an action.
        await room.User.SendJsonAsync(new { Type = "RoomMessage", ToUserIds = new[] { "user_2" }, Message = new { msg_type = 20, msg_content = Content("InterruptAgentInstance", "n1", new { }) } });
        await room.User.SendJsonAsync(new { Type = "RoomMessage", Message = new { msg_type = 20, msg_content = Content("InterruptAgentInstance", "n2", new { }) } });
        await room.User.SendJsonAsync(new { Type = "RoomMessage", ToUserIds = new[] { AgentUser }, Message = new { msg_type = 21, msg_content = Content("InterruptAgentInstance", "n3", new { }) } });
        await room.User.SendJsonAsync(new { Type = "RoomMessage", ToUserIds = new[] { AgentUser }, Message = new { Cmd = 4, Data = new { Text = "hi" } } });
        await room.User.SendJsonAsync(Request(Content("InterruptAgentInstance", "y1", new { })));

        Assert.Equal(0, (await ReplyAsync(room.User, "y1")).GetProperty("Code").GetInt32());
        await other.WaitForAsync(m => m.GetProperty("Type").GetString() == "RoomMessage" && m.GetProperty("Message").GetRawText().Contains("n2", StringComparison.Ordinal), TimeSpan.FromSeconds(5));
        Assert.Equal("y1", Assert.Single(Replies(room.User)).GetProperty("Seq").GetString());
        Assert.Empty(Replies(other));
        Assert.Contains(other.RoomMessages, m => m.GetRawText().Contains("n1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WebShape_CamelCaseObjectContent_AndTheBareEnvelope_AreRead()
    {
        await using var room = await AgentRoom.StartAsync(3000105, "d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5d5");

        await room.User.SendJsonAsync(new { Type = "RoomMessage", ToUserIds = new[] { AgentUser }, Message = new { msgType = 20, msgContent = new { Action = "InterruptAgentInstance", Seq = "w1", Params = new { } } } });
        Assert.Equal(0, (await ReplyAsync(room.User, "w1")).GetProperty("Code").GetInt32());
        await room.User.SendJsonAsync(new { Type = "RoomMessage", ToUserIds = new[] { AgentUser }, Message = new { Action = "InterruptAgentInstance", Seq = "w2" } });
        Assert.Equal(0, (await ReplyAsync(room.User, "w2")).GetProperty("Code").GetInt32());

        // The reply's wire shape: msg_type 22 and msg_content a JSON string (ZEGO's clients parse it twice), from the agent.
        var raw = room.User.Messages.First(m => m.GetProperty("Type").GetString() == "RoomMessage" && m.GetProperty("Message").TryGetProperty("msg_type", out _));
        Assert.Equal(AgentUser, raw.GetProperty("FromUserId").GetString());
        Assert.Equal(JsonValueKind.String, raw.GetProperty("Message").GetProperty("msg_content").ValueKind);
        Assert.Equal(22, raw.GetProperty("Message").GetProperty("msg_type").GetInt32());
    }

    [Fact]
    public async Task WebRtcClient_StillSendsActionsOverItsWebSocket()
    {
        await using var room = await AgentRoom.StartAsync(3000106, "d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6", webRtc: true);
        await room.User.SendJsonAsync(Request(Content("InterruptAgentInstance", "rtc1", new { })));
        var reply = await ReplyAsync(room.User, "rtc1");
        Assert.Equal(0, reply.GetProperty("Code").GetInt32());
    }

    internal static string Content(string action, string seq, object parameters) =>
        JsonSerializer.Serialize(new { Action = action, Seq = seq, Params = parameters });

    internal static object Request(string content) =>
        new { Type = "RoomMessage", ToUserIds = new[] { AgentUser }, Message = new { msg_type = 20, msg_content = content } };

    private static async Task ExpectErrorAsync(AgentRoom room, string content, string seq, int code, string field)
    {
        var before = Replies(room.User).Count;
        await room.User.SendJsonAsync(Request(content));
        JsonElement reply = default;
        for (var i = 0; i < 200; i++)
        {
            var replies = Replies(room.User);
            if (replies.Count > before)
            {
                reply = replies[before];
                break;
            }

            await Task.Delay(25);
        }

        Assert.True(reply.ValueKind == JsonValueKind.Object, $"no reply to {content}");
        Assert.Equal(seq, reply.GetProperty("Seq").GetString());
        Assert.Equal(code, reply.GetProperty("Code").GetInt32());
        Assert.Contains(field, reply.GetProperty("Message").GetString(), StringComparison.Ordinal);
        Assert.Matches("^[0-9]{19}$", reply.GetProperty("RequestId").GetString());
        Assert.False(reply.TryGetProperty("Data", out _));
    }

    /// <summary>The msg_type 22 replies this client received, their msg_content parsed, in order.</summary>
    internal static List<JsonElement> Replies(RoomTestClient client) =>
    [
        .. client.RoomMessages
            .Where(m => m.TryGetProperty("msg_type", out var t) && t.ValueKind == JsonValueKind.Number && t.GetInt32() == 22)
            .Select(m => JsonDocument.Parse(m.GetProperty("msg_content").GetString()!).RootElement.Clone()),
    ];

    internal static async Task<JsonElement> ReplyAsync(RoomTestClient client, string seq)
    {
        for (var i = 0; i < 200; i++)
        {
            var found = Replies(client).FirstOrDefault(r => r.GetProperty("Seq").GetString() == seq);
            if (found.ValueKind == JsonValueKind.Object)
            {
                return found;
            }

            await Task.Delay(25);
        }

        throw new TimeoutException($"no msg_type 22 reply for Seq '{seq}' within 5 s; room messages: {string.Join(" | ", client.RoomMessages.Select(m => m.GetRawText()))}");
    }

    private static int Cmd(JsonElement message) => message.TryGetProperty("Cmd", out var cmd) ? cmd.GetInt32() : -1;

    private static async Task<IReadOnlyList<JsonElement>> WaitForRoomMessagesAsync(RoomTestClient client, Func<JsonElement, bool> until)
    {
        for (var i = 0; i < 400; i++)
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

    /// <summary>A server, an app, an agent with the Local TTS, a user in room_1 and an agent instance there.</summary>
    internal sealed class AgentRoom : IAsyncDisposable
    {
        private static readonly string OfferSdp = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "WebRtc", "chrome156-offer.sdp"));

        public required ParleyTestServer Server { get; init; }

        public required TestApp App { get; init; }

        public required ParleyClient Api { get; init; }

        public required RoomTestClient User { get; init; }

        public required string InstanceId { get; init; }

        public static async Task<AgentRoom> StartAsync(uint appId, string secret, bool webRtc = false)
        {
            var app = new TestApp(appId, secret);
            var server = await ParleyTestServer.StartAsync([app]);
            var api = server.CreateClient();
            Assert.Equal(0, (await api.RegisterAgentAsync(new RegisterAgentRequest
            {
                AgentId = "actor",
                LLM = new LlmConfig { Url = "http://127.0.0.1:9/v1/chat/completions", Model = "unused" },
                TTS = new TtsConfig { Vendor = "Local", Params = new JsonObject { ["engine"] = "flite", ["voice"] = "kal16" } },
            })).Code);

            var user = await RoomTestClient.ConnectAsync(server.BaseAddress);
            var token = Token04.Mint(app.AppId, "user_1", app.ServerSecret, TimeSpan.FromHours(1), Token04.BuildPayload("room_1", true, true), TimeProvider.System);
            Assert.Equal(0, (await user.LoginAsync(token, "room_1", "user_1")).GetProperty("Code").GetInt32());
            if (webRtc)
            {
                // Media over WebRTC (a recorded browser offer; no ICE completes here): room messages stay on the WebSocket.
                await user.SendJsonAsync(new { Type = "WebRtcOffer", Sdp = OfferSdp, PublishStreamId = "user_stream_1", PlayStreamId = "agent_stream_1" });
                var answer = await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "WebRtcAnswer", TimeSpan.FromSeconds(10));
                Assert.Equal(0, answer.GetProperty("Code").GetInt32());
            }
            else
            {
                Assert.Equal(0, (await user.PlayAsync("agent_stream_1")).GetProperty("Code").GetInt32());
            }

            var instanceId = (await api.CreateAgentInstanceAsync(new CreateAgentInstanceRequest
            {
                AgentId = "actor",
                UserId = "user_1",
                RTC = new RtcConfig { RoomId = "room_1", AgentStreamId = "agent_stream_1", AgentUserId = AgentUser, UserStreamId = "user_stream_1" },
            })).Data!.AgentInstanceId;
            await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamAdded" && m.GetProperty("StreamId").GetString() == "agent_stream_1", TimeSpan.FromSeconds(10));

            return new AgentRoom { Server = server, App = app, Api = api, User = user, InstanceId = instanceId };
        }

        public async ValueTask DisposeAsync()
        {
            await User.DisposeAsync();
            await Server.DisposeAsync();
        }
    }
}
