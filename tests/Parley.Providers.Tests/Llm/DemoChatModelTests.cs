using Microsoft.Extensions.Time.Testing;
using Parley.Core.Sessions;
using Parley.Providers.Llm;

namespace Parley.Providers.Tests.Llm;

public sealed class DemoChatModelTests
{
    private static ChatModelRequest Request(string text, string url = DemoChatModel.Url) => new(
        new LlmSettings(url, "", "demo", null, 0.7, 0.9, null, false), null, [], text, new SessionIdentity("1", "r", "a", "u"), 1, 0);

    [Fact]
    public async Task Answer_SaysItIsTheDemo_WhatItHeard_AndTheTime_WordByWordOnTheClock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 14, 5, 30, TimeSpan.Zero));
        time.SetLocalTimeZone(TimeZoneInfo.Utc);
        var model = new DemoChatModel(time) { WordInterval = TimeSpan.FromMilliseconds(50) };
        var tokens = new List<string>();
        await using var e = model.StreamReplyAsync(Request("what is the weather like today?"), CancellationToken.None).GetAsyncEnumerator();

        Assert.True(await e.MoveNextAsync());
        tokens.Add(e.Current);
        var next = e.MoveNextAsync().AsTask();
        await Task.Delay(50);
        Assert.False(next.IsCompleted, "the second word came before its interval on the session's clock");
        time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.True(await next);
        tokens.Add(e.Current);
        while (true)
        {
            var more = e.MoveNextAsync().AsTask();
            while (!more.IsCompleted)
            {
                time.Advance(TimeSpan.FromMilliseconds(50));
                await Task.Yield();
            }

            if (!await more)
            {
                break;
            }

            tokens.Add(e.Current);
        }

        Assert.Equal("Demo LLM (no language model configured): I heard: what is the weather like today. It is 14:05.", string.Concat(tokens));
        Assert.True(tokens.Count > 10, "not streamed word by word");
        Assert.All(tokens.Skip(1), t => Assert.StartsWith(" ", t));
    }

    [Fact]
    public void Answer_ToSilence_SaysItHeardNothing() =>
        Assert.Equal("Demo LLM (no language model configured): I heard: nothing. It is 09:00.", DemoChatModel.Answer("  ", new DateTimeOffset(2026, 1, 1, 9, 0, 0, TimeSpan.Zero)));

    [Fact]
    public async Task Cancellation_StopsTheStream()
    {
        var time = new FakeTimeProvider();
        var model = new DemoChatModel(time);
        using var cts = new CancellationTokenSource();
        await using var e = model.StreamReplyAsync(Request("hello"), cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await e.MoveNextAsync());
        var next = e.MoveNextAsync().AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
    }

    [Fact]
    public async Task Router_SendsParleyDemoToTheDemo_AndEverythingElseToTheClient()
    {
        var other = new RecordingModel();
        var router = new ChatModelRouter(other, new DemoChatModel(new FakeTimeProvider()) { WordInterval = TimeSpan.Zero });
        var demo = string.Concat(await router.StreamReplyAsync(Request("hi", "PARLEY:DEMO"), CancellationToken.None).ToListAsync());
        Assert.StartsWith(DemoChatModel.Label, demo);
        Assert.Equal(0, other.Calls);
        Assert.Equal(["other"], await router.StreamReplyAsync(Request("hi", "http://llm.example/v1"), CancellationToken.None).ToListAsync());
        Assert.Equal(1, other.Calls);
    }

    private sealed class RecordingModel : IChatModel
    {
        public int Calls { get; private set; }

        public async IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            Calls++;
            await Task.Yield();
            yield return "other";
        }
    }
}
