using Parley.Rtc.Rooms;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Abstractions.Audio;
using Parley.Rtc.WebSockets;

namespace Parley.Rtc.Tests.WebSockets;

public sealed class RtcWebSocketTests
{
    private static short[] Pcm(IEnumerable<(byte[] Data, long Timestamp)> frames) =>
        frames.SelectMany(f => MemoryMarshal.Cast<byte, short>(f.Data).ToArray()).ToArray();

    private static async Task PublishAsync(TestClient client, string streamId, int sampleRate = 16000)
    {
        await client.SendJsonAsync(new { Type = "Publish", StreamId = streamId, Codec = "pcm16", SampleRate = sampleRate });
        var result = await client.ExpectAsync("PublishResult");
        Assert.Equal(0, result.GetProperty("Code").GetInt32());
    }

    private static async Task PlayAsync(TestClient client, string streamId, int sampleRate = 16000)
    {
        await client.SendJsonAsync(new { Type = "Play", StreamId = streamId, Codec = "pcm16", SampleRate = sampleRate });
        var result = await client.ExpectAsync("PlayResult");
        Assert.Equal(0, result.GetProperty("Code").GetInt32());
    }

    private static async Task SendToneAsync(TestClient client, short[] tone, int frameSamples)
    {
        for (var i = 0; i < tone.Length; i += frameSamples)
        {
            await client.SendPcmAsync(tone.AsSpan(i, Math.Min(frameSamples, tone.Length - i)));
        }
    }

    [Fact]
    public async Task Login_WithValidToken_ReturnsCodeZeroAndRoomState()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var alice = await server.LoginAsync("room1", "alice");
        await PublishAsync(alice, "alice_stream");
        await using var bob = await server.ConnectAsync();
        await bob.SendJsonAsync(new { Type = "Login", Token = RtcTestServer.TokenFor("bob", "room1"), RoomId = "room1", UserId = "bob" });
        var result = await bob.ExpectAsync("LoginResult");
        Assert.Equal(0, result.GetProperty("Code").GetInt32());
        var stream = Assert.Single(result.GetProperty("Streams").EnumerateArray());
        Assert.Equal("alice_stream", stream.GetProperty("StreamId").GetString());
        Assert.Equal("alice", stream.GetProperty("UserId").GetString());
        Assert.Equal("alice", Assert.Single(result.GetProperty("Users").EnumerateArray()).GetProperty("UserId").GetString());
        var joined = await alice.ExpectAsync("UserJoined");
        Assert.Equal("bob", joined.GetProperty("UserId").GetString());
    }

    [Theory]
    [InlineData("forged", RtcCodes.TokenForged)]
    [InlineData("wrongUser", RtcCodes.TokenWrongUser)]
    [InlineData("wrongRoom", RtcCodes.TokenWrongRoom)]
    [InlineData("missing", RtcCodes.TokenMissing)]
    [InlineData("badId", RtcCodes.InvalidId)]
    public async Task Login_Refused_ReturnsReasonCodeAndConnectionStaysUsable(string scenario, int expectedCode)
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        var token = scenario switch
        {
            "forged" => Parley.Rtc.Tokens.Token04.Mint(RtcTestServer.AppId, "bob", "ffffffffffffffffffffffffffffffff", TimeSpan.FromHours(1), "", TimeProvider.System),
            "wrongUser" => RtcTestServer.TokenFor("mallory", "room1"),
            "wrongRoom" => RtcTestServer.TokenFor("bob", "room2"),
            "missing" => null,
            _ => RtcTestServer.TokenFor("bob", "room1"),
        };
        var userId = scenario == "badId" ? "bob/../x" : "bob";
        await client.SendJsonAsync(new { Type = "Login", Token = token, RoomId = "room1", UserId = userId });
        var result = await client.ExpectAsync("LoginResult");
        Assert.Equal(expectedCode, result.GetProperty("Code").GetInt32());
        Assert.False(string.IsNullOrEmpty(result.GetProperty("Message").GetString()));
        Assert.Equal(0, server.Rooms.RoomCount);

        await client.SendJsonAsync(new { Type = "Login", Token = RtcTestServer.TokenFor("bob", "room1"), RoomId = "room1", UserId = "bob" });
        Assert.Equal(0, (await client.ExpectAsync("LoginResult")).GetProperty("Code").GetInt32());
    }

    [Fact]
    public async Task PublishedTone_IsPlayedByAnotherClient_InRealTime20msFrames()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var player = await server.LoginAsync("room1", "bob");
        await PlayAsync(player, "alice_stream");
        await using var publisher = await server.LoginAsync("room1", "alice");
        await PublishAsync(publisher, "alice_stream");

        var tone = Tone.Make(16000, 1000);
        var collecting = player.CollectAudioAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10));
        await SendToneAsync(publisher, tone, 480); // 30 ms pieces, sent as fast as possible
        var frames = await collecting;

        var pcm = Pcm(frames);
        Assert.Equal(16000, pcm.Length);
        Assert.All(frames, f => Assert.True(f.Data.Length <= 640, $"frame of {f.Data.Length} bytes"));
        Assert.Equal(50, frames.Count);
        Assert.InRange(Tone.Frequency(pcm, 16000), 430, 450);
        var spread = Stopwatch.GetElapsedTime(frames[0].Timestamp, frames[^1].Timestamp);
        Assert.InRange(spread.TotalMilliseconds, 850, 1300); // 49 frame periods = 980 ms
    }

    [Fact]
    public async Task Play_At48k_ReceivesResampledToneAtRequestedRate()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var player = await server.LoginAsync("room1", "bob");
        await PlayAsync(player, "s1", 48000);
        await using var publisher = await server.LoginAsync("room1", "alice");
        await PublishAsync(publisher, "s1", 8000);
        var collecting = player.CollectAudioAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10));
        await SendToneAsync(publisher, Tone.Make(8000, 400, frequency: 300), 160);
        var pcm = Pcm(await collecting);
        // The windowed-sinc resamplers (8k→16k in, 16k→48k out) hold back their filter delay (a few ms) until more audio comes.
        Assert.InRange(pcm.Length, 48000 * 4 / 10 - 400, 48000 * 4 / 10 + 10);
        Assert.InRange(Tone.Frequency(pcm, 48000), 290, 310);
    }

    [Fact]
    public async Task InProcessParticipant_PublishesToWsPlayer_AndPlaysWsPublisher()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var agent = await server.Rooms.JoinAsync(RoomIds.Scoped(RtcTestServer.AppId, "room1"), "agent_1", isAgent: true, CancellationToken.None);
        await using var userStream = await agent.PlayAsync("user_stream", CancellationToken.None);
        await using var user = await server.LoginAsync("room1", "user_1");
        await PlayAsync(user, "agent_stream");
        await PublishAsync(user, "user_stream");

        // agent → client: 400 ms of 600 Hz written in one go, paced out to the player.
        await using (var output = await agent.PublishAsync("agent_stream", CancellationToken.None))
        {
            var added = await user.ExpectAsync("StreamAdded");
            Assert.Equal("agent_stream", added.GetProperty("StreamId").GetString());
            var collecting = user.CollectAudioAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10));
            await output.WriteAsync(AudioChunk.CopyOf(Tone.Make(16000, 400, 600), 16000), CancellationToken.None);
            await output.WaitUntilPlayedAsync(CancellationToken.None);
            var frames = await collecting;
            var pcm = Pcm(frames);
            Assert.Equal(6400, pcm.Length);
            Assert.InRange(Tone.Frequency(pcm, 16000), 590, 610);
        }

        Assert.Equal("agent_stream", (await user.ExpectAsync("StreamRemoved")).GetProperty("StreamId").GetString());

        // client → agent: 200 ms of 440 Hz in 20 ms frames.
        await SendToneAsync(user, Tone.Make(16000, 200), 320);
        var received = new List<short>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (received.Count < 3200)
        {
            using var chunk = await userStream.Audio.ReadAsync(timeout.Token);
            Assert.Equal(16000, chunk.SampleRate);
            Assert.True(chunk.Length <= 320);
            received.AddRange(chunk.Samples.ToArray());
        }

        Assert.Equal(3200, received.Count);
        Assert.InRange(Tone.Frequency(received.ToArray(), 16000), 430, 450);
    }

    [Fact]
    public async Task RoomMessages_ReachClients_WithMonotonicSeqIdAndServerTimestamps()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var user = await server.LoginAsync("room1", "user_1");
        await using var agent = await server.Rooms.JoinAsync(RoomIds.Scoped(RtcTestServer.AppId, "room1"), "agent_1", isAgent: true, CancellationToken.None);
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < 5; i++)
        {
            await agent.SendRoomMessageAsync(4, 7, new JsonObject { ["Text"] = $"t{i}", ["MessageId"] = "m1", ["EndFlag"] = i == 4 }, null, CancellationToken.None);
        }

        long last = 0;
        for (var i = 0; i < 5; i++)
        {
            var envelope = await user.ExpectAsync("RoomMessage");
            Assert.Equal("agent_1", envelope.GetProperty("FromUserId").GetString());
            var message = envelope.GetProperty("Message");
            var seq = message.GetProperty("SeqId").GetInt64();
            Assert.True(seq > last);
            last = seq;
            Assert.Equal(4, message.GetProperty("Cmd").GetInt32());
            Assert.Equal(7, message.GetProperty("Round").GetInt64());
            Assert.Equal($"t{i}", message.GetProperty("Data").GetProperty("Text").GetString());
            var ms = message.GetProperty("TimestampMs").GetInt64();
            Assert.InRange(ms, before - 1000, before + 10000);
            Assert.Equal(ms / 1000, message.GetProperty("Timestamp").GetInt64());
        }

        // Client → agent (ZEGO's agent actions ride on room messages).
        await user.SendJsonAsync(new { Type = "RoomMessage", Message = new { Action = "InterruptAgentInstance", Seq = "1" }, ToUserIds = new[] { "agent_1" } });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (true)
        {
            var ev = await agent.Events.ReadAsync(timeout.Token);
            if (ev.Kind == Parley.Rtc.Rooms.RoomEventKind.RoomMessage)
            {
                Assert.Equal("user_1", ev.Message!.FromUserId);
                Assert.Equal("InterruptAgentInstance", ev.Message.ToJsonElement().GetProperty("Action").GetString());
                break;
            }
        }
    }

    [Fact]
    public async Task DuplicateStreamId_IsRefusedWithClearError()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var alice = await server.LoginAsync("room1", "alice");
        await PublishAsync(alice, "s1");
        await using var bob = await server.LoginAsync("room1", "bob");
        await bob.SendJsonAsync(new { Type = "Publish", StreamId = "s1", Codec = "pcm16", SampleRate = 16000 });
        var result = await bob.ExpectAsync("PublishResult");
        Assert.Equal(RtcCodes.StreamIdInUse, result.GetProperty("Code").GetInt32());
        Assert.Contains("alice", result.GetProperty("Message").GetString());

        await using var agent = await server.Rooms.JoinAsync(RoomIds.Scoped(RtcTestServer.AppId, "room1"), "agent", true, CancellationToken.None);
        var error = await Assert.ThrowsAsync<Parley.Rtc.Rooms.RoomException>(async () => await agent.PublishAsync("s1", CancellationToken.None));
        Assert.Equal(Parley.Rtc.Rooms.RoomErrorCode.StreamIdInUse, error.Code);
    }

    [Fact]
    public async Task GarbageFrames_GetErrors_AndServerStillServesNewClients()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var client = await server.ConnectAsync();
        await client.SendTextAsync("this is not json");
        Assert.Equal(RtcCodes.BadMessage, (await client.ExpectAsync("Error")).GetProperty("Code").GetInt32());
        await client.SendTextAsync("{\"Type\":\"Dance\"}");
        Assert.Equal(RtcCodes.UnknownType, (await client.ExpectAsync("Error")).GetProperty("Code").GetInt32());
        await client.SendTextAsync("[1,2,3]");
        Assert.Equal(RtcCodes.BadMessage, (await client.ExpectAsync("Error")).GetProperty("Code").GetInt32());
        await client.SendJsonAsync(new { Type = "Publish", StreamId = "s1" });
        Assert.Equal(RtcCodes.NotLoggedIn, (await client.ExpectAsync("Error")).GetProperty("Code").GetInt32());
        await client.SendBinaryAsync(new byte[] { 1, 2, 3, 4 });
        Assert.Equal(RtcCodes.AudioBeforePublish, (await client.ExpectAsync("Error")).GetProperty("Code").GetInt32());

        await client.SendJsonAsync(new { Type = "Login", Token = RtcTestServer.TokenFor("u1", "room1"), RoomId = "room1", UserId = "u1" });
        Assert.Equal(0, (await client.ExpectAsync("LoginResult")).GetProperty("Code").GetInt32());
        await client.SendJsonAsync(new { Type = "Publish", StreamId = "s1", Codec = "speex" });
        Assert.Equal(RtcCodes.UnsupportedCodec, (await client.ExpectAsync("PublishResult")).GetProperty("Code").GetInt32());
        await client.SendJsonAsync(new { Type = "Publish", StreamId = "s1", SampleRate = 11025 });
        Assert.Equal(RtcCodes.UnsupportedSampleRate, (await client.ExpectAsync("PublishResult")).GetProperty("Code").GetInt32());
        await PublishAsync(client, "s1");
        await client.SendBinaryAsync(new byte[] { 1, 2, 3 });
        var odd = await client.ExpectAsync("Error");
        Assert.Equal(RtcCodes.BadAudioFrame, odd.GetProperty("Code").GetInt32());
        Assert.Contains("odd", odd.GetProperty("Message").GetString());
        await client.SendBinaryAsync(new byte[16000 * 2 / 10]); // 100 ms
        Assert.Equal(RtcCodes.BadAudioFrame, (await client.ExpectAsync("Error")).GetProperty("Code").GetInt32());
        await client.SendJsonAsync(new { Type = "Ping" });
        await client.ExpectAsync("Pong");
        Assert.Equal(WebSocketState.Open, client.Socket.State);

        await using var other = await server.LoginAsync("room2", "u2");
        await other.SendJsonAsync(new { Type = "Ping" });
        await other.ExpectAsync("Pong");
    }

    [Fact]
    public async Task StalledClient_DoesNotSlowPlayerInAnotherRoom()
    {
        await using var server = await RtcTestServer.StartAsync();

        // Room A: a client that plays a stream and never reads its socket.
        var stalledSocket = new ClientWebSocket();
        await stalledSocket.ConnectAsync(server.Uri, CancellationToken.None);
        var stalled = new TestClient(stalledSocket, read: false);
        await stalled.SendJsonAsync(new { Type = "Login", Token = RtcTestServer.TokenFor("slow", "roomA"), RoomId = "roomA", UserId = "slow" });
        await stalled.SendJsonAsync(new { Type = "Play", StreamId = "a_stream", Codec = "pcm16", SampleRate = 48000 });
        await using var agentA = await server.Rooms.JoinAsync(RoomIds.Scoped(RtcTestServer.AppId, "roomA"), "agentA", true, CancellationToken.None);
        var outputA = await agentA.PublishAsync("a_stream", CancellationToken.None);
        using var stopA = new CancellationTokenSource();
        var floodA = Task.Run(async () =>
        {
            // Ends only by cancellation: a write that completed just before the cancel would otherwise end the loop normally.
            var tone = Tone.Make(16000, 200);
            while (true)
            {
                stopA.Token.ThrowIfCancellationRequested();
                await outputA.WriteAsync(AudioChunk.CopyOf(tone, 16000), stopA.Token);
            }
        });

        await Task.Delay(1500); // let the stalled client's socket buffers fill

        // Room B: a normal player must still get real-time audio.
        await using var player = await server.LoginAsync("roomB", "bob");
        await PlayAsync(player, "b_stream");
        await using var publisher = await server.LoginAsync("roomB", "alice");
        await PublishAsync(publisher, "b_stream");
        var collecting = player.CollectAudioAsync(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10));
        await SendToneAsync(publisher, Tone.Make(16000, 1000), 320);
        var frames = await collecting;
        Assert.Equal(16000, Pcm(frames).Length);
        var spread = Stopwatch.GetElapsedTime(frames[0].Timestamp, frames[^1].Timestamp);
        Assert.InRange(spread.TotalMilliseconds, 850, 1300);

        stopA.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => floodA);
        await outputA.DisposeAsync();
        stalledSocket.Abort();
        stalledSocket.Dispose();
    }

    [Fact]
    public async Task Disconnect_RemovesUserAndStream_OthersGetStreamRemovedAndUserLeft()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var bob = await server.LoginAsync("room1", "bob");
        var alice = await server.LoginAsync("room1", "alice");
        await PublishAsync(alice, "alice_stream");
        Assert.Equal("alice_stream", (await bob.ExpectAsync("StreamAdded")).GetProperty("StreamId").GetString());
        Assert.Equal(2, server.Rooms.GetRealUserCount(RoomIds.Scoped(RtcTestServer.AppId, "room1")));

        alice.Socket.Abort(); // no goodbye
        var removed = await bob.ExpectAsync("StreamRemoved");
        Assert.Equal("alice_stream", removed.GetProperty("StreamId").GetString());
        Assert.Equal("alice", removed.GetProperty("UserId").GetString());
        Assert.Equal("alice", (await bob.ExpectAsync("UserLeft")).GetProperty("UserId").GetString());
        Assert.Equal(1, server.Rooms.GetRealUserCount(RoomIds.Scoped(RtcTestServer.AppId, "room1")));
        await alice.DisposeAsync();

        await bob.SendJsonAsync(new { Type = "Logout" });
        await bob.Closed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        for (var i = 0; i < 50 && server.Rooms.RoomCount > 0; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, server.Rooms.RoomCount);
    }

    [Fact]
    public async Task SecondLogin_WithSameUserId_KicksFirstConnection()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var agent = await server.Rooms.JoinAsync(RoomIds.Scoped(RtcTestServer.AppId, "room1"), "agent", true, CancellationToken.None);
        await using var first = await server.LoginAsync("room1", "alice");
        await PublishAsync(first, "s1");
        await using var second = await server.LoginAsync("room1", "alice");

        var kicked = await first.ExpectAsync("Kicked");
        Assert.Equal(RtcCodes.Kicked, kicked.GetProperty("Code").GetInt32());
        await first.Closed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(WebSocketCloseStatus.NormalClosure, first.CloseStatus);

        // The new login owns the user id: it can publish the stream id the kicked one held.
        await PublishAsync(second, "s1");
        Assert.Equal(1, server.Rooms.GetRealUserCount(RoomIds.Scoped(RtcTestServer.AppId, "room1")));
        Assert.Equal(1, agent.RealUserCount);
    }
}
