using Microsoft.Extensions.Time.Testing;
using Parley.Core.Sessions;
using Parley.Core.Tests.Voice;

namespace Parley.Core.Tests.Sessions;

/// <summary>Proactive replies (ZEGO 2.13): LLM replies not interruptible by the user (Priority High), the queue of at most 5.</summary>
public sealed class ProactiveReplyTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ScriptedChatModel _model = new();
    private readonly ManualSpeechOutput _output = new();

    private AgentSession NewSession() => new(
        new AgentSessionOptions
        {
            Identity = new SessionIdentity("1", "room_1", "agent_1", "user_1"),
            Llm = new LlmSettings("http://unused", "k", "m", "Be terse.", 0.7, 0.9, null, false),
        },
        _model,
        _time,
        _output);

    [Fact]
    public async Task LlmReplyNotInterruptibleByUser_IsNotCutByTheUsersVoice()
    {
        _model.Reply("Forced playback.");
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        var round = session.SubmitLlmReply(new LlmReplyRequest("Announce", Priority: ReplyPriority.High, InterruptibleByUser: false));
        await EventLog.UntilAsync(() => _output.Segments.Count == 1);

        Assert.Null(session.UserSpeechStarted());
        _output.Finish(0);

        Assert.Equal(round, (await log.NextAsync<ReplyFinishedEvent>()).RoundId);
        Assert.DoesNotContain(log.Seen, e => e is InterruptedEvent);
    }

    [Fact]
    public async Task LlmReplyInterruptibleByUser_ByDefault_IsCut()
    {
        _model.Reply("Ordinary reply.");
        await using var session = NewSession();
        var log = new EventLog(session.Events);
        var round = session.SubmitLlmReply(new LlmReplyRequest("Talk"));
        await EventLog.UntilAsync(() => _output.Segments.Count == 1);

        Assert.NotNull(session.UserSpeechStarted());
        var interrupted = await log.NextAsync<InterruptedEvent>();
        Assert.Equal((round, InterruptReason.UserSpeech), (interrupted.RoundId, interrupted.Reason));
    }

    [Fact]
    public async Task Queue_HoldsAtMostFive_TheSixthIsRefused_AHigherPriorityStillReplaces()
    {
        await using var session = NewSession();
        var playing = session.SubmitSpeech(new SpeechRequest("Playing."));
        await EventLog.UntilAsync(() => _output.Segments.Count == 1);

        for (var i = 0; i < 5; i++)
        {
            Assert.True(session.TrySubmitSpeech(new SpeechRequest($"Queued {i}.", SamePriorityOption: SamePriorityOption.Enqueue), out var queued));
            Assert.True(queued > playing);
        }

        Assert.False(session.TrySubmitSpeech(new SpeechRequest("Sixth.", SamePriorityOption: SamePriorityOption.Enqueue), out var refused));
        Assert.Equal(0, refused);
        Assert.False(session.TrySubmitLlmReply(new LlmReplyRequest("Sixth LLM", Priority: ReplyPriority.Low), out _));
        Assert.Throws<InvalidOperationException>(() => session.SubmitSpeech(new SpeechRequest("Sixth.", SamePriorityOption: SamePriorityOption.Enqueue)));

        // Not queued: a higher priority replaces the reply playing (and with Enqueue the queue stays).
        Assert.True(session.TrySubmitSpeech(new SpeechRequest("Urgent.", Priority: ReplyPriority.High, SamePriorityOption: SamePriorityOption.Enqueue), out _));
        await EventLog.UntilAsync(() => _output.Segments.Count == 2);
        Assert.Equal("Urgent.", _output.Segments[1].Text);
    }
}
