using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Rtc.Tokens;
using Parley.Testing;
using Parley.Testing.Callbacks;
using Parley.Testing.FakeLlm;
using Parley.Testing.Rooms;

namespace Parley.Server.Tests.EndToEnd;

/// <summary>
/// An audio-output LLM (configuring-llm.mdx "multimodal": <c>LLM.Params.modalities ["text","audio"]</c>, <c>audio
/// {voice, format:"pcm"}</c>, <c>AdvancedConfig.DisableTTS</c>): the model's own streamed audio is what the user
/// hears (resampled 24 → 16 kHz and paced), and its transcript is the agent's text.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class AudioOutputLlmTests
{
    [Fact]
    public async Task ModelAudio_IsPlayedInTheRoom_AndItsTranscriptIsTheAgentsText()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        var part1 = Tone(24000, 440, TimeSpan.FromMilliseconds(800));
        var part2 = Tone(24000, 660, TimeSpan.FromMilliseconds(600));
        llm.Enqueue(FakeLlmResponse.AudioReply(TimeSpan.FromMilliseconds(50), ("Hello from", part1), (" the model.", part2)));
        await using var receiver = await CallbackReceiver.StartAsync("audio-llm");
        var app = new TestApp(4000011, "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3", receiver.Url.ToString(), "audio-llm");
        await using var server = await ParleyTestServer.StartAsync([app]);
        var api = new RawApi(server.CreateHttpClient(), app);
        var registered = await api.CallAsync("RegisterAgent", new JsonObject
        {
            ["AgentId"] = "omni",
            ["LLM"] = new JsonObject
            {
                ["Url"] = llm.Url,
                ["ApiKey"] = "sk-omni",
                ["Model"] = "qwen3-omni-flash",
                ["Params"] = JsonNode.Parse("""{"stream":true,"modalities":["text","audio"],"audio":{"voice":"Cherry","format":"pcm"}}"""),
            },
            ["TTS"] = new JsonObject { ["Vendor"] = "Local", ["Params"] = new JsonObject() },
        });
        Assert.Equal(0, registered.GetProperty("Code").GetInt32());

        await using var user = await RoomTestClient.ConnectAsync(server.BaseAddress);
        var token = Token04.Mint(app.AppId, "user_1", app.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
        Assert.Equal(0, (await user.LoginAsync(token, "room_omni", "user_1")).GetProperty("Code").GetInt32());
        Assert.Equal(0, (await user.PlayAsync("agent_s")).GetProperty("Code").GetInt32());
        var created = await api.CallAsync("CreateAgentInstance", new JsonObject
        {
            ["AgentId"] = "omni",
            ["UserId"] = "user_1",
            ["RTC"] = new JsonObject { ["RoomId"] = "room_omni", ["AgentStreamId"] = "agent_s", ["AgentUserId"] = "agent_1", ["UserStreamId"] = "user_s" },
            ["AdvancedConfig"] = new JsonObject { ["DisableTTS"] = true },
            ["CallbackConfig"] = new JsonObject { ["LLMResult"] = 1 },
        });
        Assert.Equal(0, created.GetProperty("Code").GetInt32());
        var instanceId = created.GetProperty("Data").GetProperty("AgentInstanceId").GetString();
        await WaitUntilAsync(() => receiver.Requests.Any(r => r.Event == "AgentInstanceCreated"), "no AgentInstanceCreated");
        await user.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamAdded", TimeSpan.FromSeconds(10));

        Assert.Equal(0, (await api.CallAsync("SendAgentInstanceLLM", new { AgentInstanceId = instanceId, Text = "Say hello" })).GetProperty("Code").GetInt32());
        var request = await llm.WaitForRequestAsync();
        Assert.Equal("audio", request.Body["modalities"]![1]!.GetValue<string>());
        Assert.Equal("pcm", request.Body["audio"]!["format"]!.GetValue<string>());

        var frames = await user.WaitForAudioToEndAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(20));
        var heard = frames.Sum(f => f.Samples.Length) / 16000.0;
        Assert.InRange(heard, 1.3, 1.6);
        var samples = frames.SelectMany(f => f.Samples).ToArray();
        var loud = samples.Count(s => Math.Abs((int)s) > 3000);
        Assert.True(loud > samples.Length / 3, $"{loud} of {samples.Length} samples carry the model's tone");

        // The transcript is the agent's text: subtitles (Cmd 4) and the LLMResult callback.
        await WaitUntilAsync(() => receiver.Requests.Any(r => r.Event == "LLMResult"), "no LLMResult");
        Assert.Equal("Hello from the model.", receiver.Requests.First(r => r.Event == "LLMResult").Data!["Text"]!.GetValue<string>());
        var subtitles = string.Concat(user.RoomMessages.Where(m => m.GetProperty("Cmd").GetInt32() == 4).Select(m => m.GetProperty("Data").GetProperty("Text").GetString()));
        Assert.Equal("Hello from the model.", subtitles);
    }

    private static short[] Tone(int rate, double hz, TimeSpan length)
    {
        var samples = new short[(int)(rate * length.TotalSeconds)];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (short)(12000 * Math.Sin(2 * Math.PI * hz * i / rate));
        }

        return samples;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string message)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(100);
        }

        Assert.True(condition(), message);
    }
}
