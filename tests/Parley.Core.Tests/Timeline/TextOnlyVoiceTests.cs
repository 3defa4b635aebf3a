using Parley.Core.Sessions;

namespace Parley.Core.Tests.Timeline;

/// <summary>A text-only agent (<c>AdvancedConfig.DisableTTS</c>): it hears and answers, but nothing is synthesised or played.</summary>
[Collection(nameof(TimelineCollection))]
public sealed class TextOnlyVoiceTests
{
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public async Task TextOnly_AnswersTheUserTurn_ButNothingReachesTheSink()
    {
        await using var t = new VoiceTimeline(textOnly: true);
        t.UserSays(Ms(200), Ms(800), "what is the weather");
        t.Llm.Add(LlmScript.Words("It is sunny today. Take a hat."));
        await t.RunUntilAsync(Ms(5000));

        Assert.Equal("It is sunny today. Take a hat.", t.First<ReplyFinishedEvent>().Text);
        Assert.Empty(t.Sink.Played);
        Assert.Empty(t.Tts.Texts);
        Assert.Equal(
            [new ContextMessage(MessageRole.User, "what is the weather"), new ContextMessage(MessageRole.Assistant, "It is sunny today. Take a hat.")],
            t.Session.GetMessages());
    }
}
