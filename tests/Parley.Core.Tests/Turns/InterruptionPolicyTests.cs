using Parley.Core.Turns;

namespace Parley.Core.Tests.Turns;

public sealed class InterruptionPolicyTests
{
    [Theory]
    [InlineData("", 0)]
    [InlineData("mm", 1)]
    [InlineData("  wait, don't go!  ", 3)]
    [InlineData("天气怎么样", 5)]
    [InlineData("ok 好的", 3)]
    [InlineData("' - ...", 0)]
    public void CountWords_SplitsOnNonLetters_AndCountsEachCjkCharacter(string text, int words) =>
        Assert.Equal(words, InterruptionPolicy.CountWords(text));

    [Fact]
    public void Allows_NeedsBargeInAndBothMinimums()
    {
        var policy = new InterruptionPolicy(bargeIn: true, TimeSpan.FromMilliseconds(500), minWords: 2);
        Assert.True(policy.Allows(TimeSpan.FromMilliseconds(500), 2));
        Assert.False(policy.Allows(TimeSpan.FromMilliseconds(499), 5));
        Assert.False(policy.Allows(TimeSpan.FromSeconds(2), 1));
        Assert.False(InterruptionPolicy.NoBargeIn.Allows(TimeSpan.FromSeconds(5), 10));
        Assert.True(InterruptionPolicy.Default.Allows(TimeSpan.Zero, 0));
    }

    [Fact]
    public void NegativeMinimums_AreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new InterruptionPolicy(true, TimeSpan.FromMilliseconds(-1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new InterruptionPolicy(true, TimeSpan.Zero, -1));
    }
}
