using System.Text.Json.Nodes;
using Parley.Core.Turns;
using Parley.Server.Zego;

namespace Parley.Server.Tests.Zego;

/// <summary>
/// The <c>VAD</c> object (shared-components.yaml <c>VAD</c>; advanced/voice-interruption-sensitivity-adjustment.mdx,
/// speech-segmentation-control.mdx) mapped onto the Silero VAD's thresholds and minimum speech, over the deprecated ASR fields.
/// </summary>
public sealed class VadConfigTests
{
    private static JsonObject Json(string text) => JsonNode.Parse(text)!.AsObject();

    [Theory]
    [InlineData(0, 0.50f, 0.35f, 96)] // medium (default): Parley's defaults
    [InlineData(1, 0.70f, 0.55f, 196)] // low: 0.4 / 100 ms
    [InlineData(2, 0.40f, 0.25f, 96)] // high: 0.1 / 0 ms
    public void Levels_MapToTheirPresets(int level, float activation, float deactivation, int minSpeechMs)
    {
        var vad = ZegoConfig.ToTurnOptions(null, Json($$$$"""{"VoiceDetectConfig":{"SensitiveConfig":{"Level":{{{{level}}}},"MinSpeechDur":900,"EnergyThreshold":0.9}}}""")).Vad;
        Assert.Equal(activation, vad.ActivationThreshold, 3);
        Assert.Equal(deactivation, vad.DeactivationThreshold, 3);
        Assert.Equal(TimeSpan.FromMilliseconds(minSpeechMs), vad.MinSpeechDuration);
    }

    [Fact]
    public void CustomLevel_TakesTheGivenValues_AndNoVadObjectIsMedium()
    {
        var custom = ZegoConfig.ToTurnOptions(null, Json("""{"VoiceDetectConfig":{"SensitiveConfig":{"Level":3,"MinSpeechDur":300,"EnergyThreshold":0.05}}}""")).Vad;
        Assert.Equal(0.35f, custom.ActivationThreshold, 3);
        Assert.Equal(TimeSpan.FromMilliseconds(396), custom.MinSpeechDuration);
        var clamped = ZegoConfig.ToTurnOptions(null, Json("""{"VoiceDetectConfig":{"SensitiveConfig":{"Level":3,"EnergyThreshold":1}}}""")).Vad;
        Assert.Equal(0.95f, clamped.ActivationThreshold, 3);

        var none = ZegoConfig.ToTurnOptions(null, null);
        Assert.Equal(0.5f, none.Vad.ActivationThreshold, 3);
        Assert.Equal(TimeSpan.FromMilliseconds(500), none.Vad.SilenceDuration);
        Assert.False(none.Stitching);
    }

    [Fact]
    public void TheVadObjectWins_FieldByField_OverTheDeprecatedAsrFields()
    {
        var asr = Json("""{"VADSilenceSegmentation":800,"PauseInterval":1500,"VADSensitiveLevel":1}""");

        // Only the deprecated fields: honoured.
        var old = ZegoConfig.ToTurnOptions(asr, null);
        Assert.Equal(TimeSpan.FromMilliseconds(800), old.Vad.SilenceDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), old.PauseInterval);
        Assert.Equal(0.7f, old.Vad.ActivationThreshold, 3);

        // The VAD object gives the silence and the level: those win, the pause interval stays the ASR's.
        var both = ZegoConfig.ToTurnOptions(asr, Json("""{"TurnDetectConfig":{"SilenceSegmentation":300},"VoiceDetectConfig":{"SensitiveConfig":{"Level":2}}}"""));
        Assert.Equal(TimeSpan.FromMilliseconds(300), both.Vad.SilenceDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), both.PauseInterval);
        Assert.True(both.Stitching);
        Assert.Equal(0.4f, both.Vad.ActivationThreshold, 3);

        // Deprecated custom values apply only at level 3.
        var custom = ZegoConfig.ToTurnOptions(Json("""{"VADSensitiveLevel":3,"VADMinSpeechDur":200,"VADEnergyThreshold":0.3}"""), null).Vad;
        Assert.Equal(0.6f, custom.ActivationThreshold, 3);
        Assert.Equal(TimeSpan.FromMilliseconds(296), custom.MinSpeechDuration);
        var ignored = ZegoConfig.ToTurnOptions(Json("""{"VADMinSpeechDur":200,"VADEnergyThreshold":0.3}"""), null).Vad;
        Assert.Equal(0.5f, ignored.ActivationThreshold, 3);
    }

    [Fact]
    public void InterruptionPolicy_FollowsTheSensitivityLevel_AndInterruptModeOneStaysUninterruptible()
    {
        var medium = ZegoConfig.ToInterruptionPolicy(0, null, null);
        Assert.Equal(InterruptionPolicy.Parley, medium);
        Assert.True(medium.Backchannels.Matches("mm-hmm"));
        var low = ZegoConfig.ToInterruptionPolicy(0, null, Json("""{"VoiceDetectConfig":{"SensitiveConfig":{"Level":1}}}"""));
        Assert.Equal((TimeSpan.FromMilliseconds(400), 2, TimeSpan.FromMilliseconds(800)), (low.MinSpeech, low.MinWords, low.EchoGuardMinSpeech));
        var high = ZegoConfig.ToInterruptionPolicy(0, Json("""{"VADSensitiveLevel":2}"""), null);
        Assert.Equal((TimeSpan.FromMilliseconds(200), 1, TimeSpan.FromMilliseconds(600)), (high.MinSpeech, high.MinWords, high.EchoGuard));
        Assert.Equal(InterruptionPolicy.NoBargeIn, ZegoConfig.ToInterruptionPolicy(1, null, Json("""{"VoiceDetectConfig":{"SensitiveConfig":{"Level":2}}}""")));
    }

    [Fact]
    public void TurnOptions_AreClauseAware_WithinTheSilenceBound()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(1200), ZegoConfig.ToTurnOptions(null, null).UnfinishedClauseWait);
        Assert.IsType<ClauseAwareEndOfTurn>(ZegoConfig.ToTurnOptions(null, null).CreateEndOfTurnPolicy());
        var long_ = ZegoConfig.ToTurnOptions(null, Json("""{"TurnDetectConfig":{"SilenceSegmentation":2000}}"""));
        Assert.Equal(TimeSpan.FromMilliseconds(2000), long_.UnfinishedClauseWait);
    }
}
