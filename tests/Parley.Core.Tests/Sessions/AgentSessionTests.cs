using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Parley.Core.Sessions;
using Parley.Providers.Llm;
using Parley.Testing.FakeLlm;
using Xunit;

namespace Parley.Core.Tests.Sessions;

public sealed class AgentSessionTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly OpenAICompatibleChatModel _model = new();
    private FakeLlmServer _llm = null!;

    public async Task InitializeAsync() => _llm = await FakeLlmServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _llm.DisposeAsync();
        _model.Dispose();
    }

    private AgentSession NewSession(
        Func<LlmSettings, LlmSettings>? llm = null,
        int windowSize = 20,
        IReadOnlyList<ContextMessage>? initial = null,
        TimeProvider? time = null,
        TimeSpan? stall = null,
        ISpeechOutput? speech = null)
    {
        var settings = new LlmSettings(_llm.Url, "sk-test", "fake-model", "You are terse.", 0.7, 0.9, null, false);
        return new AgentSession(
            new AgentSessionOptions
            {
                Identity = new SessionIdentity("1912122918452641792", "room_1", "agent_user_1", "user_1"),
                Llm = llm?.Invoke(settings) ?? settings,
                WindowSize = windowSize,
                InitialMessages = initial ?? [],
                LlmStallTimeout = stall ?? TimeSpan.FromSeconds(15),
            },
            _model,
            time ?? TimeProvider.System,
            speech);
    }

    private static async Task<T> NextAsync<T>(AgentSession session, List<SessionEvent>? seen = null)
        where T : SessionEvent
    {
        using var cts = new CancellationTokenSource(Wait);
        while (true)
        {
            var e = await session.Events.ReadAsync(cts.Token);
            seen?.Add(e);
            if (e is T match)
            {
                return match;
            }
        }
    }

    private static string[] Roles(JsonObject body) =>
        body["messages"]!.AsArray().Select(m => m!["role"]!.GetValue<string>()).ToArray();

    private static string[] Contents(JsonObject body) =>
        body["messages"]!.AsArray().Select(m => m!["content"]!.GetValue<string>()).ToArray();

    [Fact]
    public async Task LlmReply_RequestBody_IsTheContractBodyWithParamsMergedAndNoAgentInfo()
    {
        await using var session = NewSession(s => s with
        {
            Url = _llm.BaseAddress + "/custom/text/chatcompletion_v2",
            Temperature = 0.3,
            TopP = 0.5,
            Params = new JsonObject { ["max_tokens"] = 64, ["extra"] = new JsonObject { ["a"] = 1 } },
        });
        session.SubmitLlmReply(new LlmReplyRequest("Hi?"));
        await NextAsync<ReplyFinishedEvent>(session);

        var request = Assert.Single(_llm.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/custom/text/chatcompletion_v2", request.Path);
        Assert.Equal("Bearer sk-test", request.Headers["Authorization"]);
        var body = request.Body;
        Assert.Equal(
            ["extra", "max_tokens", "messages", "model", "stream", "temperature", "top_p"],
            body.Select(p => p.Key).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal("fake-model", body["model"]!.GetValue<string>());
        Assert.True(body["stream"]!.GetValue<bool>());
        Assert.Equal(0.3, body["temperature"]!.GetValue<double>(), 3);
        Assert.Equal(0.5, body["top_p"]!.GetValue<double>(), 3);
        Assert.Equal(64, body["max_tokens"]!.GetValue<int>());
        Assert.Equal(1, body["extra"]!["a"]!.GetValue<int>());
        Assert.Equal(["system", "user"], Roles(body));
        Assert.Equal(["You are terse.", "Hi?"], Contents(body));
    }

    [Fact]
    public async Task LlmReply_WithAddAgentInfo_SendsAgentInfo()
    {
        await using var session = NewSession(s => s with { AddAgentInfo = true, ApiKey = "" });
        var round = session.SubmitLlmReply(new LlmReplyRequest("Hi?"));
        await NextAsync<ReplyFinishedEvent>(session);

        var info = Assert.Single(_llm.Requests).Body["agent_info"]!.AsObject();
        Assert.Equal("room_1", info["room_id"]!.GetValue<string>());
        Assert.Equal("1912122918452641792", info["agent_instance_id"]!.GetValue<string>());
        Assert.Equal("agent_user_1", info["agent_user_id"]!.GetValue<string>());
        Assert.Equal("user_1", info["user_id"]!.GetValue<string>());
        Assert.Equal(round, info["round_id"]!.GetValue<long>());
        Assert.InRange(info["time_stamp"]!.GetValue<long>(), DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.StartsWith("Bearer", _llm.Requests[0].Headers["Authorization"]);
    }

    [Fact]
    public async Task LlmReply_SendsSystemPromptThenLastWindowSizeMessagesThenText()
    {
        ContextMessage[] initial =
        [
            new(MessageRole.User, "u1"), new(MessageRole.Assistant, "a1"),
            new(MessageRole.User, "u2"), new(MessageRole.Assistant, "a2"),
        ];
        await using var session = NewSession(windowSize: 3, initial: initial);
        session.SubmitLlmReply(new LlmReplyRequest("now", SystemPrompt: "Override prompt"));
        await NextAsync<ReplyFinishedEvent>(session);

        var body = _llm.Requests[0].Body;
        Assert.Equal(["system", "assistant", "user", "assistant", "user"], Roles(body));
        Assert.Equal(["Override prompt", "a1", "u2", "a2", "now"], Contents(body));
    }

    [Fact]
    public async Task LlmReply_WindowSizeZero_SendsNoHistory()
    {
        await using var session = NewSession(windowSize: 0, initial: [new(MessageRole.User, "old")]);
        session.SubmitLlmReply(new LlmReplyRequest("now"));
        await NextAsync<ReplyFinishedEvent>(session);
        Assert.Equal(["You are terse.", "now"], Contents(_llm.Requests[0].Body));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task LlmReply_QuestionAndAnswerFlags_DecideWhatJoinsTheContext(bool addQuestion, bool addAnswer)
    {
        _llm.Enqueue(FakeLlmResponse.Reply("Sunny", " today."));
        await using var session = NewSession();
        session.SubmitLlmReply(new LlmReplyRequest("Weather?", AddQuestionToHistory: addQuestion, AddAnswerToHistory: addAnswer));
        var finished = await NextAsync<ReplyFinishedEvent>(session);
        Assert.Equal("Sunny today.", finished.Text);

        var expected = new List<ContextMessage>();
        if (addQuestion)
        {
            expected.Add(new ContextMessage(MessageRole.User, "Weather?"));
        }

        if (addAnswer)
        {
            expected.Add(new ContextMessage(MessageRole.Assistant, "Sunny today."));
        }

        Assert.Equal(expected, session.GetMessages());
    }

    [Fact]
    public async Task LlmReply_StatusGoesThinkingThenIdle_AndSentencesAreReported()
    {
        _llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(30), "One. ", "Two", "! Three"));
        await using var session = NewSession();
        session.SubmitLlmReply(new LlmReplyRequest("Count"));
        var seen = new List<SessionEvent>();
        await NextAsync<ReplyFinishedEvent>(session, seen);
        await NextAsync<StatusChangedEvent>(session, seen);

        var statuses = seen.OfType<StatusChangedEvent>().Select(s => s.Status).ToList();
        Assert.Equal(AgentStatus.Thinking, statuses[0]);
        Assert.Equal(AgentStatus.Idle, statuses[^1]);
        Assert.Equal(AgentStatus.Idle, session.Status);
        Assert.Equal(["One.", "Two!", "Three"], seen.OfType<ReplySentenceEvent>().Select(s => s.Text).ToArray());
        Assert.Equal("One. Two! Three", string.Concat(seen.OfType<ReplyTextDeltaEvent>().Select(d => d.Delta)));
    }

    [Fact]
    public async Task QueryStatus_WhileTheLlmStreams_IsThinking()
    {
        _llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(300), "a", "b", "c"));
        await using var session = NewSession();
        session.SubmitLlmReply(new LlmReplyRequest("x"));
        await NextAsync<ReplyTextDeltaEvent>(session);
        Assert.Equal(AgentStatus.Thinking, session.Status);
        await NextAsync<ReplyFinishedEvent>(session);
    }

    [Fact]
    public async Task Interrupt_WhileThinking_KeepsThePartialReplyAndReportsReason()
    {
        _llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(150), "First", " part", " never", " said"));
        await using var session = NewSession();
        var round = session.SubmitLlmReply(new LlmReplyRequest("Talk", AddQuestionToHistory: true));
        await NextAsync<ReplyTextDeltaEvent>(session);
        await NextAsync<ReplyTextDeltaEvent>(session);

        Assert.True(session.Interrupt(InterruptReason.Manual));
        var interrupted = await NextAsync<InterruptedEvent>(session);
        Assert.Equal(InterruptReason.Manual, interrupted.Reason);
        Assert.Equal(round, interrupted.RoundId);
        Assert.Equal("", interrupted.PlayedText); // nothing was played, though the context keeps the generated part
        Assert.Equal(AgentStatus.Idle, session.Status);
        Assert.Equal(
            [new ContextMessage(MessageRole.User, "Talk"), new ContextMessage(MessageRole.Assistant, "First part")],
            session.GetMessages());

        await Task.Delay(400);
        Assert.Equal(2, session.GetMessages().Count);
        Assert.False(session.Interrupt(InterruptReason.Manual));
    }

    [Fact]
    public async Task NewLlmReply_WhileOneRuns_InterruptsItWithReasonProactiveLlm()
    {
        _llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(200), "slow", " reply", " here"), FakeLlmResponse.Reply("fast."));
        await using var session = NewSession();
        var first = session.SubmitLlmReply(new LlmReplyRequest("one"));
        await NextAsync<ReplyTextDeltaEvent>(session);
        var second = session.SubmitLlmReply(new LlmReplyRequest("two"));
        Assert.True(second > first);

        var interrupted = await NextAsync<InterruptedEvent>(session);
        Assert.Equal((first, InterruptReason.ProactiveLlm), (interrupted.RoundId, interrupted.Reason));
        var finished = await NextAsync<ReplyFinishedEvent>(session);
        Assert.Equal((second, "fast."), (finished.RoundId, finished.Text));
    }

    [Fact]
    public async Task Speech_WhileLlmRuns_InterruptsWithReasonSpeechAndJoinsContext()
    {
        _llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(200), "slow", " reply", " here"));
        var output = new RecordingSpeechOutput();
        await using var session = NewSession(speech: output);
        session.SubmitLlmReply(new LlmReplyRequest("one", AddAnswerToHistory: false));
        await NextAsync<ReplyTextDeltaEvent>(session);
        var round = session.SubmitSpeech(new SpeechRequest("Welcome!"));

        Assert.Equal(InterruptReason.ProactiveSpeech, (await NextAsync<InterruptedEvent>(session)).Reason);
        Assert.Equal(round, (await NextAsync<ReplyFinishedEvent>(session)).RoundId);
        Assert.Equal([new ContextMessage(MessageRole.Assistant, "Welcome!")], session.GetMessages());
        Assert.Contains(output.Spoken, s => s.Text == "Welcome!" && s.RoundId == round);
    }

    [Fact]
    public async Task EnqueuedSamePriority_WaitsBehindTheCurrentReply()
    {
        _llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(50), "first", "."), FakeLlmResponse.Reply("second."));
        await using var session = NewSession();
        var a = session.SubmitLlmReply(new LlmReplyRequest("a"));
        var b = session.SubmitLlmReply(new LlmReplyRequest("b", SamePriorityOption: SamePriorityOption.Enqueue));
        var seen = new List<SessionEvent>();
        Assert.Equal(a, (await NextAsync<ReplyFinishedEvent>(session, seen)).RoundId);
        Assert.Equal(b, (await NextAsync<ReplyFinishedEvent>(session, seen)).RoundId);
        Assert.DoesNotContain(seen, e => e is InterruptedEvent);
    }

    [Fact]
    public async Task ResetMessages_ClearsTheContext()
    {
        await using var session = NewSession(initial: [new(MessageRole.User, "x")]);
        session.ResetMessages();
        Assert.Empty(session.GetMessages());
    }

    public static TheoryData<int, LlmErrorKind> HttpFailures => new()
    {
        { 401, LlmErrorKind.Authentication },
        { 403, LlmErrorKind.Authentication },
        { 400, LlmErrorKind.InvalidParameter },
        { 422, LlmErrorKind.InvalidParameter },
        { 429, LlmErrorKind.RateLimited },
        { 402, LlmErrorKind.Arrears },
        { 500, LlmErrorKind.General },
    };

    [Theory]
    [MemberData(nameof(HttpFailures))]
    public async Task LlmHttpFailure_BecomesTheRightErrorKind_AndTheSessionRecovers(int status, LlmErrorKind kind)
    {
        _llm.Enqueue(FakeLlmResponse.Error(status, "The API key in the request is missing or invalid"));
        await using var session = NewSession();
        session.SubmitLlmReply(new LlmReplyRequest("x"));
        var error = await NextAsync<SessionErrorEvent>(session);
        Assert.Equal(kind, error.Kind);
        Assert.Contains(status.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
        Assert.DoesNotContain("sk-test", error.Message);
        await AssertRecoversAsync(session);
        Assert.Equal(1 + 1, _llm.Requests.Count); // no retries
    }

    [Fact]
    public async Task LlmUnreachable_IsAGeneralError_AndTheSessionRecovers()
    {
        await using var session = NewSession(s => s with { Url = FakeLlmServer.ClosedPortUrl() });
        session.SubmitLlmReply(new LlmReplyRequest("x"));
        Assert.Equal(LlmErrorKind.General, (await NextAsync<SessionErrorEvent>(session)).Kind);
        await NextAsync<StatusChangedEvent>(session);
        Assert.Equal(AgentStatus.Idle, session.Status);
    }

    [Fact]
    public async Task LlmStreamBreaking_IsAGeneralError_KeepingThePartialAnswer()
    {
        _llm.Enqueue(FakeLlmResponse.BreakAfter("Half", " an"));
        await using var session = NewSession();
        session.SubmitLlmReply(new LlmReplyRequest("x"));
        Assert.Equal(LlmErrorKind.General, (await NextAsync<SessionErrorEvent>(session)).Kind);
        await AssertRecoversAsync(session);
    }

    [Fact]
    public async Task LlmStall_EndsTheReplyWithAGeneralError()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        _llm.Enqueue(FakeLlmResponse.StallAfter("Wait"));
        await using var session = NewSession(time: time, stall: TimeSpan.FromSeconds(15));
        session.SubmitLlmReply(new LlmReplyRequest("x"));
        await NextAsync<ReplyTextDeltaEvent>(session);
        time.Advance(TimeSpan.FromSeconds(14));
        await Task.Delay(100);
        Assert.Equal(AgentStatus.Thinking, session.Status);
        time.Advance(TimeSpan.FromSeconds(2));

        var error = await NextAsync<SessionErrorEvent>(session);
        Assert.Equal(LlmErrorKind.General, error.Kind);
        Assert.Contains("15", error.Message);
        await NextAsync<StatusChangedEvent>(session);
        Assert.Equal(AgentStatus.Idle, session.Status);
        await WaitUntilAsync(() => _llm.OpenStreams == 0);
    }

    [Fact]
    public async Task Latency_IsMeasuredOverReplies()
    {
        _llm.Enqueue(FakeLlmResponse.Reply(TimeSpan.FromMilliseconds(40), "a", "b", "c", "."));
        await using var session = NewSession();
        session.SubmitLlmReply(new LlmReplyRequest("x"));
        await NextAsync<ReplyFinishedEvent>(session);
        var latency = session.GetLatency();
        Assert.InRange(latency.LlmFirstTokenMs, 20, 5000);
        Assert.InRange(latency.LlmTokensPerSecond, 1, 200);
        Assert.True(latency.TotalCostMs >= latency.LlmFirstTokenMs);
    }

    private async Task AssertRecoversAsync(AgentSession session)
    {
        _llm.Enqueue(FakeLlmResponse.Reply("Back."));
        session.SubmitLlmReply(new LlmReplyRequest("again"));
        Assert.Equal("Back.", (await NextAsync<ReplyFinishedEvent>(session)).Text);
        await WaitUntilAsync(() => session.Status == AgentStatus.Idle);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(10);
        }
    }

    private sealed class RecordingSpeechOutput : ISpeechOutput
    {
        private readonly List<SpeechSegment> _spoken = [];

        public IReadOnlyList<SpeechSegment> Spoken
        {
            get
            {
                lock (_spoken)
                {
                    return [.. _spoken];
                }
            }
        }

        public ValueTask SpeakAsync(SpeechSegment segment, CancellationToken cancellationToken)
        {
            lock (_spoken)
            {
                _spoken.Add(segment);
            }

            return ValueTask.CompletedTask;
        }
    }
}
