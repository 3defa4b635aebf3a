using Parley.Core.Turns;
using Parley.Server.Zego;

namespace Parley.Server.Tests.Zego;

public sealed class ZegoConfigTests
{
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    [Theory]
    [InlineData(199)]
    [InlineData(2001)]
    [InlineData(0)]
    public void VadSilenceSegmentation_OutOfRange_ThrowsNamingTheField(int milliseconds)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ZegoConfig.ToVadOptions(milliseconds));
        Assert.Equal("VADSilenceSegmentation", error.ParamName);
        Assert.Contains("between 200 and 2000 ms", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void VadSilenceSegmentation_NullDefaults500_ValuesMapToTheSilence()
    {
        Assert.Equal(Ms(500), ZegoConfig.ToVadOptions(null).SilenceDuration);
        Assert.Equal(Ms(2000), ZegoConfig.ToVadOptions(2000).SilenceDuration);
    }

    [Fact]
    public void PauseInterval_StitchesOnlyAboveTheVadSilence_OutOfRangeThrowsNamingTheField()
    {
        Assert.True(ZegoConfig.ToUserInputOptions(200, 1000).Stitching);
        Assert.Equal(Ms(1000), ZegoConfig.ToUserInputOptions(200, 1000).PauseInterval);
        Assert.False(ZegoConfig.ToUserInputOptions(800, 600).Stitching);
        Assert.False(ZegoConfig.ToUserInputOptions(null, null).Stitching);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ZegoConfig.ToUserInputOptions(500, 100));
        Assert.Equal("PauseInterval", error.ParamName);
        Assert.Equal("VADSilenceSegmentation", Assert.Throws<ArgumentOutOfRangeException>(() => ZegoConfig.ToUserInputOptions(100, 500)).ParamName);
    }

    [Fact]
    public void InterruptMode_OneTurnsBargeInOff()
    {
        Assert.True(ZegoConfig.ToInterruptionPolicy(0).BargeIn);
        Assert.False(ZegoConfig.ToInterruptionPolicy(1).BargeIn);
        Assert.Equal(InterruptionPolicy.Parley, ZegoConfig.ToInterruptionPolicy(0));
    }
}
