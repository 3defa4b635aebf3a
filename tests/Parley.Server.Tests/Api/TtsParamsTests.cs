using Parley.Server.Api;
using Parley.Testing;

namespace Parley.Server.Tests.Api;

/// <summary>TTS Params are checked by the engine when the agent is configured, not first when it speaks.</summary>
public sealed class TtsParamsTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Llm = """{"Url":"http://127.0.0.1:9/v1/chat/completions","Model":"m"}""";

    private static string Body(string agentId, string tts) => $"{{\"AgentId\":\"{agentId}\",\"LLM\":{Llm},\"TTS\":{tts}}}";

    private static string NewId() => "agent_" + Guid.NewGuid().ToString("N")[..12];

    public static TheoryData<string, string> BadLocalParams => new()
    {
        { """{"engine":"flite","voice":"xyz"}""", "TTS.Params.voice 'xyz' is not a flite voice; available: " },
        { """{"engine":"espeak-ng","voice":"no-such-language"}""", "TTS.Params.voice 'no-such-language' is not an espeak-ng voice" },
        { """{"engine":"festival"}""", "TTS.Params.engine 'festival' is not a local TTS engine" },
        { """{"speed":5}""", "TTS.Params.speed 5 is outside [0.5, 2.0]" },
        { """{"speed":"fast"}""", "TTS.Params.speed must be a number" },
        { """{"voice":42}""", "TTS.Params.voice must be a non-empty string" },
    };

    [Theory]
    [MemberData(nameof(BadLocalParams))]
    public async Task Register_LocalTtsParamsTheEngineCannotSpeak_AreInvalidParameter_NotStored(string parameters, string message)
    {
        var api = fixture.Api();
        var id = NewId();

        var reply = await api.SendAsync(api.Query("RegisterAgent"), Body(id, """{"Vendor":"Local","Params":""" + parameters + "}"));

        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.StartsWith(message, reply.Message(), StringComparison.Ordinal);
        Assert.Equal(0, (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents").GetArrayLength());
    }

    [Fact]
    public async Task Register_InstalledVoicesAndSpeeds_AreAccepted()
    {
        var api = fixture.Api();
        Assert.Equal(0, (await api.SendAsync(api.Query("RegisterAgent"), Body(NewId(), """{"Vendor":"local","Params":{"engine":"flite","voice":"kal16","speed":1.5}}"""))).Code());
        Assert.Equal(0, (await api.SendAsync(api.Query("RegisterAgent"), Body(NewId(), """{"Vendor":"Local","Params":{"engine":"espeak-ng","voice":"en-us"}}"""))).Code());
    }

    [Fact]
    public async Task Update_ToAVoiceTheEngineLacks_IsRefused_AndTheStoredVoiceStays()
    {
        var api = fixture.Api();
        var id = NewId();
        Assert.Equal(0, (await api.SendAsync(api.Query("RegisterAgent"), Body(id, """{"Vendor":"Local","Params":{"voice":"slt"}}"""))).Code());

        var reply = await api.SendAsync(api.Query("UpdateAgent"), "{\"AgentId\":\"" + id + "\",\"TTS\":{\"Vendor\":\"Local\",\"Params\":{\"voice\":\"xyz\"}}}");

        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.StartsWith("TTS.Params.voice 'xyz'", reply.Message(), StringComparison.Ordinal);
        var tts = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents")[0].GetProperty("TTS");
        Assert.Equal("slt", tts.GetProperty("Params").GetProperty("voice").GetString());
    }

    [Fact]
    public async Task Register_CosyVoiceParamsItCannotSpeak_AreRefused_ButTrialCredentialsAreNot()
    {
        var api = fixture.Api();

        var mp3 = await api.SendAsync(api.Query("RegisterAgent"), Body(NewId(), """{"Vendor":"CosyVoice","Params":{"app":{"api_key":"sk-x"},"payload":{"parameters":{"format":"mp3"}}}}"""));
        Assert.Equal(ReturnCodes.InvalidParameter, mp3.Code());
        Assert.StartsWith("TTS.Params.payload.parameters.format must be \"pcm\"", mp3.Message(), StringComparison.Ordinal);

        var keyType = await api.SendAsync(api.Query("RegisterAgent"), Body(NewId(), """{"Vendor":"CosyVoice","Params":{"app":{"api_key":42}}}"""));
        Assert.Equal(ReturnCodes.InvalidParameter, keyType.Code());
        Assert.StartsWith("TTS.Params.app.api_key", keyType.Message(), StringComparison.Ordinal);

        // ZEGO's trial placeholder is not a DashScope key: the instance will speak with the fallback engine, as before.
        Assert.Equal(0, (await api.SendAsync(api.Query("RegisterAgent"), Body(NewId(), """{"Vendor":"CosyVoice","Params":{"app":{"api_key":"zego_test"}}}"""))).Code());
    }
}
