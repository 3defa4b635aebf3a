using System.Text.Json;
using Parley.Media;
using Parley.Testing;
using Parley.Testing.FakeLlm;
using Parley.Testing.Rooms;
using Parley.Testing.Speech;

namespace Parley.Server.Tests.Conformance;

/// <summary>
/// ZEGO's blog sample (blog-aiagent-server-and-web app/api/zego: token, start, stop) against Parley, run by Node.js
/// through <see cref="ZegoSampleDriver"/>: its own AES-GCM Token04, its RegisterAgent-then-UpdateAgent-on-410001008
/// registration with Tencent ASR and a ByteDance TTS without credentials, and a user who asks by voice and hears the reply.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class ZegoBlogSampleConformanceTests
{
    private static readonly Dictionary<string, string> BlogEnvironment = new() { ["TTS_VENDOR"] = "ByteDance", ["ZEGO_AGENT_ID"] = "blogAgent" };

    [ZegoSampleFact]
    public async Task BlogSampleFlows_AnswerCodeZero_AndTheUserWithItsGcmTokenHearsTheAgentAnswer()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        llm.DefaultResponse = FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(10), "It is", " sunny", " and warm.");
        var app = new TestApp(5000002, "f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3");
        await using var server = await ParleyTestServer.StartAsync([app], new Dictionary<string, string?> { ["Parley:RateLimitPerSecond"] = "100" });
        var sample = new ZegoSampleDriver(ZegoSampleDriver.Configured!, server.BaseAddress, app, llm.Url);
        var environment = new Dictionary<string, string>(BlogEnvironment) { ["LLM_URL"] = llm.Url };

        var token = Data(await sample.RunAsync("blog-token", new { userId = "blog_user" }, environment)).GetProperty("token").GetString()!;
        await using var user = await RoomTestClient.ConnectAsync(server.BaseAddress);
        var login = await user.LoginAsync(token, "blog_room", "blog_user");
        Assert.True(login.GetProperty("Code").GetInt32() == 0, $"login with the blog sample's GCM token: {login}");
        Assert.Equal(0, (await user.PublishAsync("blog_user_stream")).GetProperty("Code").GetInt32());

        var started = Data(await sample.RunAsync("blog-start", new { roomId = "blog_room", userId = "blog_user", userStreamId = "blog_user_stream" }, environment));
        var instanceId = started.GetProperty("agentInstanceId").GetString()!;
        Assert.Equal("agent_stream_blog_room", started.GetProperty("agentStreamId").GetString());
        Assert.Equal(0, (await user.PlayAsync("agent_stream_blog_room")).GetProperty("Code").GetInt32());
        await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamAdded" && m.GetProperty("StreamId").GetString() == "agent_stream_blog_room", TimeSpan.FromSeconds(15));

        await user.SendAudioRealTimeAsync(TestSpeech.Flite("What is the weather like today?"));
        await user.SendAudioRealTimeAsync(TestSpeech.Silence(1500));
        var frames = await user.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        var heard = frames.SelectMany(f => f.Samples).ToArray();
        Assert.True(heard.Length > 16000 / 2, $"only {heard.Length} samples of agent audio");
        Assert.True(PcmMath.Dbfs(heard) > -35, $"level {PcmMath.Dbfs(heard):0.0} dBFS");
        var request = await llm.WaitForRequestAsync();
        Assert.Contains("weather", request.Body["messages"]!.AsArray()[^1]!["content"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);

        // A second start re-registers: RegisterAgent answers 410001008, on which the sample's UpdateAgent succeeds; the instance starts.
        var again = await sample.RunAsync("blog-start", new { roomId = "blog_room_2", userId = "blog_user", userStreamId = "blog_user_stream_2" }, environment);
        var secondId = Data(again).GetProperty("agentInstanceId").GetString()!;
        var logs = again.GetProperty("logs").EnumerateArray().Select(l => l.GetString()).ToList();
        Assert.Contains("Agent already registered, updating...", logs);
        Assert.Contains("Agent updated successfully", logs);

        Assert.Equal(0, Body(await sample.RunAsync("blog-stop", new { agentInstanceId = instanceId }, environment)).GetProperty("code").GetInt32());
        await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamRemoved", TimeSpan.FromSeconds(10));
        Assert.Equal(0, Body(await sample.RunAsync("blog-stop", new { agentInstanceId = secondId }, environment)).GetProperty("code").GetInt32());
    }

    private static JsonElement Body(JsonElement result)
    {
        Assert.True(result.GetProperty("status").GetInt32() == 200, $"HTTP {result}");
        return result.GetProperty("body");
    }

    private static JsonElement Data(JsonElement result)
    {
        var body = Body(result);
        Assert.True(body.GetProperty("code").GetInt32() == 0, $"sample answered {result}");
        return body.GetProperty("data");
    }
}
