using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Rtc.Tokens;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.FakeLlm;
using Parley.Testing.Postgres;
using Parley.Testing.Rooms;
using Parley.Testing.Speech;

namespace Parley.Server.Tests.Cluster;

/// <summary>
/// Rooms live where their agents live: a client that logs in on another node is redirected to the agent's node,
/// follows the redirect, asks the agent a question aloud there and hears it answered.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class ClusterRoomTests(PostgresDatabaseFixture postgres) : IClassFixture<PostgresDatabaseFixture>
{
    private const string Question = "What is the weather like today?";
    private const string Answer = "It is sunny and warm. Enjoy your day!";
    private static readonly TestApp App = new(3000017, "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5");

    [PostgresFact]
    public async Task ClientLoggingInOnANodeWithoutTheAgent_FollowsTheRedirect_AsksAloud_AndHearsTheAgentAnswer()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(10), "It is", " sunny", " and warm.", " Enjoy your day!"));
        await using var receiver = await CallbackReceiver.StartAsync();
        await using var cluster = await ThreeNodeCluster.StartAsync(postgres, App, receiver, maxInstances: 3);
        var registered = await cluster.Api(0, App).CallAsync("RegisterAgent", new
        {
            AgentId = "voice_agent",
            LLM = new { Url = llm.Url, Model = "fake", SystemPrompt = "You are a weather bot." },
            TTS = new { Vendor = "Local", Params = new { engine = "flite", voice = "kal16" } },
            ASR = new { VADSilenceSegmentation = 500 },
        });
        Assert.True(registered.Code() == 0, registered.ToString());
        var created = await ThreeNodeCluster.CreateAsync(cluster.Api(0, App), "voice_agent", 1);
        Assert.True(created["Code"]!.GetValue<int>() == 0, created.ToJsonString());
        var instance = created["Data"]!["AgentInstanceId"]!.GetValue<string>();
        await ThreeNodeCluster.WaitForEventsAsync(receiver, "AgentInstanceCreated", 1, instance);
        var host = await cluster.HostOfAsync(instance);
        var other = host == 2 ? 1 : 2;
        var third = 3 - host - other;

        // On the wire: a node without the agent answers LoginResult 30701 with the agent node's /rtc/ws.
        var token = Token04.Mint(App.AppId, "user_1", App.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
        await using (var raw = await RoomTestClient.ConnectAsync(cluster.Node(other).BaseAddress))
        {
            var redirect = await raw.LoginAsync(token, "room_1", "user_1", followRedirect: false);
            Assert.Equal(Parley.Rtc.WebSockets.RtcCodes.RoomOnAnotherNode, redirect.GetProperty("Code").GetInt32());
            var target = new Uri(redirect.GetProperty("Redirect").GetString()!);
            Assert.Equal("ws", target.Scheme);
            Assert.Equal(cluster.Node(host).BaseAddress.Port, target.Port);
            Assert.Equal("/rtc/ws", target.AbsolutePath);
        }

        // The client logs in on the same wrong node and follows the redirect by itself: one extra round trip.
        await using var client = await RoomTestClient.ConnectAsync(cluster.Node(other).BaseAddress);
        var login = await client.LoginAsync(token, "room_1", "user_1");
        Assert.True(login.GetProperty("Code").GetInt32() == 0, login.GetRawText());
        Assert.Equal(1, client.RedirectsFollowed);
        Assert.Equal(cluster.Node(host).BaseAddress.Port, client.ServerBase.Port);
        Assert.Contains(login.GetProperty("Streams").EnumerateArray(), s => s.GetProperty("StreamId").GetString() == "agent_stream_1");
        Assert.Equal(0, (await client.PlayAsync("agent_stream_1")).GetProperty("Code").GetInt32());
        Assert.Equal(0, (await client.PublishAsync("user_stream_1")).GetProperty("Code").GetInt32());

        // The user asks aloud (flite), then is silent; the agent's node hears it, asks the LLM, and answers.
        await client.SendAudioRealTimeAsync(TestSpeech.Flite(Question));
        await client.SendAudioRealTimeAsync(TestSpeech.Silence(1500));
        var request = await llm.WaitForRequestAsync(timeout: TimeSpan.FromSeconds(30));
        Assert.Contains("weather", request.Body["messages"]!.AsArray()[^1]!["content"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);

        var frames = await client.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        var loud = frames.Count(f => f.Samples.Any(s => Math.Abs((int)s) > 500));
        Assert.True(loud > 25, $"expected the agent's spoken answer, got {frames.Count} frames ({loud} with sound)");

        // Subtitles: the user's recognised question (Cmd 3, final) and the agent's answer (Cmd 4) reached the room.
        var final = await WaitForRoomMessageAsync(client, m => Cmd(m) == 4 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean());
        Assert.Contains(client.RoomMessages, m => Cmd(m) == 3 && m.GetProperty("Data").GetProperty("EndFlag").GetBoolean()
            && m.GetProperty("Data").GetProperty("Text").GetString()!.Contains("weather", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(Answer, string.Concat(client.RoomMessages.Where(m => Cmd(m) == 4).Select(m => m.GetProperty("Data").GetProperty("Text").GetString())));

        // Through the third node (forwarded through Orleans): the context holds both sides.
        var messages = await cluster.Api(third, App).CallAsync("GetAgentInstanceMsgList", new { AgentInstanceId = instance });
        Assert.True(messages.Code() == 0, messages.ToString());
        var list = JsonNode.Parse(messages.ToString())!["Data"]!["MessageList"]!.AsArray();
        Assert.True(list.Count >= 2, messages.ToString());
        Assert.Equal("assistant", list[^1]!["Role"]!.GetValue<string>());
        Assert.Equal(Answer, list[^1]!["Content"]!.GetValue<string>());

        // The web client Parley serves (parley-client.js) follows the redirect too: a second user's connect() through
        // the third node resolves on the agent's node, with the agent's stream in the room.
        var webToken = Token04.Mint(App.AppId, "user_2", App.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
        var web = await WebClientConnectAsync(cluster.Node(third).BaseAddress, webToken);
        Assert.Equal(cluster.Node(host).BaseAddress.Port, new Uri(web["url"]!.GetValue<string>()).Port);
        Assert.Equal(cluster.Node(third).BaseAddress.Port, new Uri(web["redirectedFrom"]!.GetValue<string>()).Port);
        Assert.Contains("agent_stream_1", web["streams"]!.AsArray().Select(s => s!.GetValue<string>()));
    }

    /// <summary>
    /// Runs the served parley-client.js in Node (its experimental WebSocket is the browser's API): <c>connect()</c> to
    /// <paramref name="node"/>'s /rtc/ws as user_2 in room_1, answering the room's url, redirectedFrom and streams.
    /// </summary>
    private static async Task<JsonObject> WebClientConnectAsync(Uri node, string token)
    {
        var directory = Directory.CreateTempSubdirectory("parley-webclient-");
        try
        {
            using (var http = new HttpClient { BaseAddress = node })
            {
                await File.WriteAllTextAsync(Path.Combine(directory.FullName, "parley-client.mjs"), await http.GetStringAsync("parley-client.js"));
            }

            await File.WriteAllTextAsync(Path.Combine(directory.FullName, "connect.mjs"), """
                import { connect } from './parley-client.mjs';
                const [url, appId, token] = process.argv.slice(2);
                const room = await connect({ url, appId: Number(appId), token, roomId: 'room_1', userId: 'user_2' });
                console.log(JSON.stringify({ url: room.url, redirectedFrom: room.redirectedFrom, streams: [...room.streams.keys()] }));
                room.close();
                process.exit(0);
                """);
            var start = new System.Diagnostics.ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = directory.FullName };
            foreach (var arg in new[] { "--experimental-websocket", "connect.mjs", new UriBuilder(node) { Scheme = "ws", Path = "/rtc/ws" }.Uri.ToString(), App.AppId.ToString(System.Globalization.CultureInfo.InvariantCulture), token })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = System.Diagnostics.Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"node exited {process.ExitCode}: {await errors}");
            return JsonNode.Parse((await output).Trim())!.AsObject();
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static int Cmd(JsonElement message) => message.GetProperty("Cmd").GetInt32();

    private static async Task<JsonElement> WaitForRoomMessageAsync(RoomTestClient client, Func<JsonElement, bool> match)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var found = client.RoomMessages.FirstOrDefault(match);
            if (found.ValueKind != JsonValueKind.Undefined)
            {
                return found;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException("room messages: " + string.Join(" | ", client.RoomMessages.Select(m => m.GetRawText())));
    }
}
