using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Testing;

namespace Parley.Server.Tests.Instances;

/// <summary>CreateAgentInstance's <c>VAD</c> object and the deprecated ASR sensitivity fields at the API: types and ranges.</summary>
public sealed class VadObjectTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    public static TheoryData<string, string> BadVad => new()
    {
        { """{"TurnDetectConfig":{"SilenceSegmentation":199}}""", "VAD.TurnDetectConfig.SilenceSegmentation" },
        { """{"TurnDetectConfig":{"SilenceSegmentation":2001}}""", "VAD.TurnDetectConfig.SilenceSegmentation" },
        { """{"TurnDetectConfig":{"PauseInterval":"800"}}""", "VAD.TurnDetectConfig.PauseInterval" },
        { """{"TurnDetectConfig":[]}""", "VAD.TurnDetectConfig" },
        { """{"VoiceDetectConfig":{"SensitiveConfig":{"Level":4}}}""", "VAD.VoiceDetectConfig.SensitiveConfig.Level" },
        { """{"VoiceDetectConfig":{"SensitiveConfig":{"Level":1.5}}}""", "VAD.VoiceDetectConfig.SensitiveConfig.Level" },
        { """{"VoiceDetectConfig":{"SensitiveConfig":{"Level":3,"MinSpeechDur":1001}}}""", "VAD.VoiceDetectConfig.SensitiveConfig.MinSpeechDur" },
        { """{"VoiceDetectConfig":{"SensitiveConfig":{"Level":3,"EnergyThreshold":1.2}}}""", "VAD.VoiceDetectConfig.SensitiveConfig.EnergyThreshold" },
        { """{"VoiceDetectConfig":{"SensitiveConfig":{"EnergyThreshold":-0.1}}}""", "VAD.VoiceDetectConfig.SensitiveConfig.EnergyThreshold" },
        { """{"VoiceDetectConfig":"high"}""", "VAD.VoiceDetectConfig" },
        { "7", "VAD" },
    };

    [Theory]
    [MemberData(nameof(BadVad))]
    public async Task BadVadValues_Are410000003NamingTheField(string vad, string field)
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["VAD"] = JsonNode.Parse(vad);
        var reply = await fixture.Api().CallAsync("CreateAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains(field, reply.Message());
    }

    [Theory]
    [InlineData("""{"VADSensitiveLevel":5}""", "ASR.VADSensitiveLevel")]
    [InlineData("""{"VADMinSpeechDur":-1}""", "ASR.VADMinSpeechDur")]
    [InlineData("""{"VADEnergyThreshold":"0.2"}""", "ASR.VADEnergyThreshold")]
    public async Task BadDeprecatedAsrFields_Are410000003NamingTheField(string asr, string field)
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["ASR"] = JsonNode.Parse(asr);
        var reply = await fixture.Api().CallAsync("CreateAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains(field, reply.Message());
    }

    [Fact]
    public async Task AValidVadObject_AndTheDeprecatedFields_AreAccepted()
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["VAD"] = JsonNode.Parse("""{"TurnDetectConfig":{"SilenceSegmentation":600,"PauseInterval":1200},"VoiceDetectConfig":{"SensitiveConfig":{"Level":3,"MinSpeechDur":100,"EnergyThreshold":0.1}}}""");
        body["ASR"] = JsonNode.Parse("""{"VADSilenceSegmentation":500,"VADSensitiveLevel":1,"VADMinSpeechDur":100,"VADEnergyThreshold":0.4}""");
        var id = await fixture.CreateInstanceAsync(body);
        AssertCode(0, await fixture.Api().CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));

        var empty = fixture.CreateBody(await fixture.RegisterAgentAsync());
        empty["VAD"] = new JsonObject();
        var second = await fixture.CreateInstanceAsync(empty);
        AssertCode(0, await fixture.Api().CallAsync("DeleteAgentInstance", new { AgentInstanceId = second }));
    }
}
