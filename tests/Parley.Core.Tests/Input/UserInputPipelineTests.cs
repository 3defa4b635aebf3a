using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Abstractions.Media;
using Parley.Core.Input;
using Parley.Core.Sessions;
using Parley.Core.Tests.Voice;
using Parley.Core.Turns;
using static Parley.Core.Tests.Voice.ScriptAudio;

namespace Parley.Core.Tests.Input;

public sealed class UserInputPipelineTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Reads events until <paramref name="count"/> of type <typeparamref name="T"/> (matching) have come.</summary>
    internal static async Task<List<UserTurnEvent>> ReadUntilAsync<T>(UserInputPipeline pipeline, int count = 1, Func<T, bool>? match = null)
        where T : UserTurnEvent
    {
        var seen = new List<UserTurnEvent>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)); // a bound for a broken test, not a wait
        var found = 0;
        while (found < count)
        {
            var e = await pipeline.Events.ReadAsync(cts.Token);
            if (e is UserSpeechProvisional or UserSpeechReleased)
            {
                continue; // the provisional start's own tests are in TurnTakingRulesTests and BargeInTimelineTests
            }

            seen.Add(e);
            found += e is T t && (match?.Invoke(t) ?? true) ? 1 : 0;
        }

        return seen;
    }

    /// <summary>The events already written (the VAD's events are written before PushAsync returns).</summary>
    internal static List<UserTurnEvent> Pending(UserInputPipeline pipeline)
    {
        var seen = new List<UserTurnEvent>();
        while (pipeline.Events.TryRead(out var e))
        {
            if (e is not (UserSpeechProvisional or UserSpeechReleased))
            {
                seen.Add(e);
            }
        }

        return seen;
    }

    [Fact]
    public async Task OneUtterance_StartEndPartialFinalThenCompletion_WithPreRollAndTimestamps()
    {
        var time = new FakeTimeProvider(T0);
        var asr = new ScriptedRecognizer("hello there");
        var vad = new LevelVad();
        var pipeline = Pipeline(TurnOptions(500), vad, asr, time);

        await FeedAsync(pipeline, time, Concat(Silence(1000), Speech(1000), Silence(700)));
        var events = await ReadUntilAsync<UserTurnCompleted>(pipeline);

        Assert.IsType<UserSpeechStarted>(events[0]);
        Assert.InRange(events[0].At - T0, TimeSpan.FromMilliseconds(1100), TimeSpan.FromMilliseconds(1250));
        var ended = Assert.Single(events.OfType<UserSpeechEnded>());
        Assert.InRange(ended.At - T0, TimeSpan.FromMilliseconds(2450), TimeSpan.FromMilliseconds(2600));
        var transcripts = events.OfType<TranscriptUpdated>().ToList();
        Assert.Equal(["hello", "hello there"], transcripts.Select(t => t.Text));
        Assert.Equal([false, true], transcripts.Select(t => t.IsFinal));
        Assert.Single(transcripts.Select(t => t.MessageId).Distinct());
        var completed = Assert.IsType<UserTurnCompleted>(events[^1]);
        Assert.Equal("hello there", completed.Text);
        Assert.Equal(transcripts[^1].MessageId, completed.MessageId);
        Assert.Equal(events[0].At, completed.Times.SpeechStartedAt);
        Assert.Equal(ended.At, completed.Times.SpeechEndedAt);
        Assert.True(events.IndexOf(transcripts[^1]) < events.IndexOf(completed));

        // The recogniser got ~300 ms of audio before speech started (pre-roll), then all of the speech.
        var utterance = Assert.Single(asr.Utterances);
        var lead = Array.FindIndex(utterance, s => s != 0);
        Assert.InRange(lead, (300 * 16) - 512, (300 * 16) + 512);
        Assert.Equal(1000 * 16, utterance.Count(s => s != 0));

        await pipeline.DisposeAsync();
        Assert.True(asr.Disposed && vad.Disposed);
        Assert.True(pipeline.Events.Completion.IsCompleted);
    }

    [Fact]
    public async Task NoiseShorterThanMinSpeech_NoEventsAndNothingRecognised()
    {
        var time = new FakeTimeProvider(T0);
        var asr = new ScriptedRecognizer("noise");
        await using var pipeline = Pipeline(new(), new LevelVad(), asr, time);

        await FeedAsync(pipeline, time, Concat(Silence(500), Speech(100), Silence(1000), Speech(60), Silence(800)));

        // Nothing reached the recogniser, so every event there could be is the VAD's, written during PushAsync.
        Assert.Empty(asr.Utterances);
        Assert.Empty(Pending(pipeline));
    }

    [Fact]
    public async Task SpeechWithEmptyRecognition_IsAnEmptyUtterance()
    {
        var time = new FakeTimeProvider(T0);
        await using var pipeline = Pipeline(new(), new LevelVad(), new ScriptedRecognizer(string.Empty), time);

        await FeedAsync(pipeline, time, Concat(Speech(600), Silence(700)));
        var events = await ReadUntilAsync<EmptyUtterance>(pipeline);

        Assert.Equal([typeof(UserSpeechStarted), typeof(UserSpeechSustained), typeof(UserSpeechEnded), typeof(EmptyUtterance)], events.Select(e => e.GetType()));
    }

    [Fact]
    public async Task TwoUtterances300msApart_WithPauseInterval1000_AreOneTurn_FinalOnlyAtTheEnd()
    {
        var time = new FakeTimeProvider(T0);
        var asr = new ScriptedRecognizer("the weather is great", "and you");
        await using var pipeline = Pipeline(TurnOptions(200, 1000), new LevelVad(), asr, time);
        Assert.True(pipeline.Options.Stitching);

        // The 300 ms pause ends the first utterance (VAD silence 200) but is shorter than PauseInterval.
        await FeedAsync(pipeline, time, Concat(Speech(800), Silence(300), Speech(600)));

        // The second utterance's partial follows the first one's final: every result so far has been applied.
        var early = await ReadUntilAsync<TranscriptUpdated>(pipeline, match: t => t.Text == "the weather is great and");
        Assert.DoesNotContain(early, e => e is TranscriptUpdated { IsFinal: true } or UserTurnCompleted);

        await FeedAsync(pipeline, time, Silence(1200));
        var events = await ReadUntilAsync<UserTurnCompleted>(pipeline);
        var completed = (UserTurnCompleted)events[^1];
        Assert.Equal("the weather is great and you", completed.Text);
        Assert.Equal(2, asr.Utterances.Count);
        Assert.Single(events, e => e is TranscriptUpdated { IsFinal: true });
        Assert.Single(events.OfType<UserTurnCompleted>());
        Assert.Single(early.Concat(events).OfType<TranscriptUpdated>().Select(t => t.MessageId).Distinct());
    }

    [Fact]
    public async Task TwoUtterances300msApart_WithoutPauseInterval_AreTwoTurns()
    {
        var time = new FakeTimeProvider(T0);
        var asr = new ScriptedRecognizer("the weather is great", "and you");
        await using var pipeline = Pipeline(TurnOptions(200), new LevelVad(), asr, time);

        await FeedAsync(pipeline, time, Concat(Speech(800), Silence(300), Speech(600), Silence(700)));
        var events = await ReadUntilAsync<UserTurnCompleted>(pipeline, count: 2);

        var turns = events.OfType<UserTurnCompleted>().ToList();
        Assert.Equal(["the weather is great", "and you"], turns.Select(t => t.Text));
        Assert.NotEqual(turns[0].MessageId, turns[1].MessageId);
    }

    [Fact]
    public void PauseIntervalNotAboveVadSilence_DoesNotStitch()
    {
        Assert.False(TurnOptions(800, 600).Stitching);
        Assert.False(TurnOptions(500).Stitching);
        Assert.IsType<SilenceEndOfTurn>(TurnOptions(800, 600).CreateEndOfTurnPolicy());
        var stitching = Assert.IsType<PauseIntervalStitching>(TurnOptions(200, 1000).CreateEndOfTurnPolicy());
        Assert.Equal(TimeSpan.FromSeconds(1), stitching.PauseInterval);
    }

    [Fact]
    public async Task RunAsync_ReadsPooledFramesAndDisposesThem()
    {
        var time = new FakeTimeProvider(T0);
        await using var pipeline = Pipeline(new(), new LevelVad(), new ScriptedRecognizer("hi"), time);
        var frames = Channel.CreateUnbounded<AudioChunk>();
        var audio = Concat(Silence(200), Speech(600), Silence(700));
        for (var i = 0; i < audio.Length; i += 320)
        {
            frames.Writer.TryWrite(AudioChunk.CopyOf(audio.AsSpan(i, 320), 16000));
        }

        frames.Writer.Complete();
        await pipeline.RunAsync(frames.Reader, CancellationToken.None);
        var events = await ReadUntilAsync<UserTurnCompleted>(pipeline);
        Assert.Equal("hi", ((UserTurnCompleted)events[^1]).Text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AsrSessionFails_FailureReportedOnce_AFreshStreamHearsTheNextTurn(bool failResults)
    {
        var time = new FakeTimeProvider(T0);
        var broken = new BrokenRecognizer(failResults);
        var healthy = new ScriptedRecognizer("are you there");
        var factory = new RecognizerFactory(broken, healthy);
        await using var pipeline = new UserInputPipeline(TurnOptions(500), new LevelVad(), factory.Open, time);

        await FeedAsync(pipeline, time, Concat(Speech(800), Silence(600)));
        var first = await ReadUntilAsync<RecognitionFailed>(pipeline);
        Assert.Contains("vendor session closed", ((RecognitionFailed)first[^1]).Message, StringComparison.Ordinal);
        Assert.DoesNotContain(first, e => e is UserTurnCompleted or EmptyUtterance);

        // The backoff (250 ms of fake time) passes while the user is silent: a fresh stream is opened.
        await FeedAsync(pipeline, time, Silence(400));
        Assert.Equal(2, factory.Opened);

        await FeedAsync(pipeline, time, Concat(Speech(800), Silence(600)));
        var second = await ReadUntilAsync<UserTurnCompleted>(pipeline);
        Assert.Equal("are you there", ((UserTurnCompleted)second[^1]).Text);
        Assert.DoesNotContain(second, e => e is RecognitionFailed or UserTurnDropped);
        await broken.Closed;
        Assert.Single(healthy.Utterances);
    }

    [Fact]
    public async Task AsrKeepsFailing_ReportedOnce_LaterTurnsDropped_BackoffGrows_ThenRecovers()
    {
        var time = new FakeTimeProvider(T0);
        var factory = new RecognizerFactory(new BrokenRecognizer(), new BrokenRecognizer(), new BrokenRecognizer(), new ScriptedRecognizer("finally"));
        await using var pipeline = new UserInputPipeline(TurnOptions(500), new LevelVad(), factory.Open, time);

        // Stream 1 fails; 250 ms later stream 2 opens.
        await FeedAsync(pipeline, time, Concat(Speech(800), Silence(600)));
        await FeedAsync(pipeline, time, Silence(260));
        Assert.Equal(2, factory.Opened);

        // Stream 2 fails too: the same outage (no result came between), so the turn is dropped, not re-reported.
        await FeedAsync(pipeline, time, Concat(Speech(800), Silence(600)));
        var events = await ReadUntilAsync<UserTurnDropped>(pipeline);
        Assert.Single(events.OfType<RecognitionFailed>());

        // The next wait is 500 ms: not yet after 260 ms, then stream 3 opens.
        await FeedAsync(pipeline, time, Silence(260));
        Assert.Equal(2, factory.Opened);
        await FeedAsync(pipeline, time, Silence(260));
        Assert.Equal(3, factory.Opened);

        // Stream 3 fails; speech during the 1 s backoff has no recogniser: heard (barge-in) but dropped.
        await FeedAsync(pipeline, time, Concat(Speech(800), Silence(600)));
        await FeedAsync(pipeline, time, Concat(Speech(400)));
        var during = await ReadUntilAsync<UserTurnDropped>(pipeline, count: 2);
        Assert.Contains(during, e => e is UserSpeechStarted);
        Assert.DoesNotContain(during, e => e is RecognitionFailed);
        await FeedAsync(pipeline, time, Silence(1000));
        Assert.Equal(4, factory.Opened);

        await FeedAsync(pipeline, time, Concat(Speech(800), Silence(600)));
        var last = await ReadUntilAsync<UserTurnCompleted>(pipeline);
        Assert.Equal("finally", ((UserTurnCompleted)last[^1]).Text);
    }

    [Fact]
    public async Task UpdateRecognizer_TakesEffectFromTheNextUtterance_TheOldOneFinishesItsOwn()
    {
        var time = new FakeTimeProvider(T0);
        var before = new ScriptedRecognizer("first words", "never");
        var after = new ScriptedRecognizer("second words");
        await using var pipeline = Pipeline(TurnOptions(500), new LevelVad(), before, time);

        await FeedAsync(pipeline, time, Speech(600));
        Assert.IsType<UserSpeechStarted>(Pending(pipeline)[0]);
        pipeline.UpdateRecognizer(() => after);

        await FeedAsync(pipeline, time, Concat(Speech(200), Silence(600)));
        var first = await ReadUntilAsync<UserTurnCompleted>(pipeline);
        Assert.Equal("first words", ((UserTurnCompleted)first[^1]).Text);
        Assert.Empty(after.Utterances);

        await FeedAsync(pipeline, time, Concat(Speech(700), Silence(600)));
        var second = await ReadUntilAsync<UserTurnCompleted>(pipeline);
        Assert.Equal("second words", ((UserTurnCompleted)second[^1]).Text);
        Assert.Single(before.Utterances);
        Assert.Single(after.Utterances);
        await before.Closed;
    }

    [Fact]
    public async Task UpdateRecognizer_WithTurnOptions_PauseIntervalAppliesFromTheNextTurn()
    {
        var time = new FakeTimeProvider(T0);
        var before = new ScriptedRecognizer("one", "two");
        var after = new ScriptedRecognizer("three", "four");
        await using var pipeline = Pipeline(TurnOptions(200), new LevelVad(), before, time);

        await FeedAsync(pipeline, time, Concat(Speech(800), Silence(300), Speech(600), Silence(300)));
        var unstitched = await ReadUntilAsync<UserTurnCompleted>(pipeline, count: 2);
        Assert.Equal(["one", "two"], unstitched.OfType<UserTurnCompleted>().Select(c => c.Text));

        pipeline.UpdateRecognizer(() => after, TurnOptions(200, 1000));
        await FeedAsync(pipeline, time, Concat(Speech(800), Silence(300), Speech(600), Silence(1200)));
        var stitched = await ReadUntilAsync<UserTurnCompleted>(pipeline);
        Assert.Equal("three four", ((UserTurnCompleted)stitched[^1]).Text);
        Assert.Single(stitched.OfType<UserTurnCompleted>());
        Assert.True(pipeline.Options.Stitching);
    }

    [Fact]
    public async Task InputProcessors_SeeNearAndFarEnd_InOrder_AndTheirOutputIsWhatTheVadAndAsrGet()
    {
        var time = new FakeTimeProvider(T0);
        var asr = new ScriptedRecognizer("hello");
        var canceller = new EchoSubtractor();
        var gain = new Recorder(gain: 2);
        await using var pipeline = new UserInputPipeline(TurnOptions(500), new LevelVad(), () => asr, time, [canceller, gain]);

        // The agent speaks: the microphone hears only its echo. Cancelled, the VAD hears silence (no barge-in on itself).
        var agent = Speech(1000);
        for (var i = 0; i < agent.Length; i += 320)
        {
            pipeline.PushFarEnd(agent.AsSpan(i, 320));
            await pipeline.PushAsync(agent.AsMemory(i, 320), CancellationToken.None);
            time.Advance(TimeSpan.FromMilliseconds(20));
        }

        Assert.Empty(Pending(pipeline));
        Assert.Equal(agent, canceller.Far);
        Assert.Equal(agent, canceller.Near);
        Assert.All(gain.Near, s => Assert.Equal(0, s));

        // The user speaks while the agent is silent: the far end is zeros, and the recogniser gets the processed audio.
        await FeedAsync(pipeline, time, Concat(Speech(600), Silence(700)));
        var events = await ReadUntilAsync<UserTurnCompleted>(pipeline);
        Assert.IsType<UserSpeechStarted>(events[0]);
        Assert.All(canceller.Far.Skip(agent.Length), s => Assert.Equal(0, s));
        var heard = Assert.Single(asr.Utterances);
        Assert.Equal(600 * 16, heard.Count(s => s != 0));
        Assert.All(heard.Where(s => s != 0), s => Assert.Equal(2000, Math.Abs((int)s)));

        await pipeline.DisposeAsync();
        Assert.True(gain.Disposed);
    }

    [Fact]
    public async Task FarEnd_PushedAfterAPause_LinesUpWithTheUserAudioHeardThen()
    {
        var time = new FakeTimeProvider(T0);
        var recorder = new Recorder(gain: 1);
        await using var pipeline = new UserInputPipeline(new(), new LevelVad(), () => new ScriptedRecognizer(), time, [recorder]);

        await FeedAsync(pipeline, time, Silence(100));
        var played = Enumerable.Range(1, 320).Select(i => (short)i).ToArray();
        pipeline.PushFarEnd(played);
        await FeedAsync(pipeline, time, Silence(40));

        Assert.Equal(new short[100 * 16], recorder.Far.Take(100 * 16));
        Assert.Equal(played, recorder.Far.Skip(100 * 16).Take(320));
        Assert.All(recorder.Far.Skip((100 * 16) + 320), s => Assert.Equal(0, s));
    }

    [Fact]
    public async Task MinSpeech_SustainedOncePerUtteranceAtTheMinimum_NotForShorterSpeech()
    {
        var time = new FakeTimeProvider(T0);
        var options = TurnOptions(500) with { Interruption = new InterruptionPolicy(bargeIn: true, TimeSpan.FromMilliseconds(500), minWords: 0) };
        await using var pipeline = Pipeline(options, new LevelVad(), new ScriptedRecognizer("mm", "a real sentence"), time);

        await FeedAsync(pipeline, time, Concat(Speech(300), Silence(700)));
        var shortOne = await ReadUntilAsync<UserTurnCompleted>(pipeline);
        Assert.DoesNotContain(shortOne, e => e is UserSpeechSustained);

        await FeedAsync(pipeline, time, Speech(1000));
        var sustained = Assert.Single(Pending(pipeline).OfType<UserSpeechSustained>());
        Assert.InRange(sustained.Duration, TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(540));
        Assert.InRange(sustained.At - T0, TimeSpan.FromMilliseconds(1480), TimeSpan.FromMilliseconds(1560)); // the clock moves after each frame
    }

    [Fact]
    public async Task ModelLikePolicy_EndsTheTurnOnTheFinalTranscript_ReadingTheConversation()
    {
        var time = new FakeTimeProvider(T0);
        var conversation = new FixedConversation();
        var policy = new EndOnCompleteSentence();
        await using var pipeline = new UserInputPipeline(
            TurnOptions(200), new LevelVad(), () => new ScriptedRecognizer("I want to", "book a table."), time, endOfTurn: policy, conversation: conversation);

        // "I want to" is not complete: the turn waits; "book a table." ends it on its final, without a PauseInterval.
        await FeedAsync(pipeline, time, Concat(Speech(600), Silence(300)));
        await ReadUntilAsync<TranscriptUpdated>(pipeline, match: t => t.Text == "I want to"); // its final is in: the policy was asked
        await FeedAsync(pipeline, time, Concat(Speech(600), Silence(300)));
        var events = await ReadUntilAsync<UserTurnCompleted>(pipeline);

        Assert.Equal("I want to book a table.", ((UserTurnCompleted)events[^1]).Text);
        Assert.Equal(["I want to", "I want to book a table."], policy.Seen);
        Assert.All(policy.Conversations, c => Assert.Same(conversation.Messages, c));
    }

    [Fact]
    public async Task VadWindower_DisposeWaitsForTheWindowBeingScored_AndNothingIsScoredAfter()
    {
        var vad = new GatedVad();
        var windower = new VadWindower(vad, new VadSegmenterOptions(), 16000);
        vad.Release.Reset();
        var window = new short[512];
        var scoring = Task.Run(() => windower.Push(window));
        await vad.Entered.Task;

        var disposing = Task.Run(windower.Dispose);
        await Task.Yield();
        vad.Release.Set();
        await scoring;
        await disposing;

        windower.Push(window);
        Assert.Equal(1, vad.Scores);
        Assert.Equal(0, vad.DisposedWhileScoring);
        Assert.Equal(0, vad.ScoredAfterDispose);
    }

    [Fact]
    public async Task DisposeThenPush_NeverScoresTheFreedVad()
    {
        var vad = new GatedVad();
        var pipeline = Pipeline(new(), vad, new ScriptedRecognizer(), new FakeTimeProvider(T0));
        await pipeline.PushAsync(new short[512], CancellationToken.None);
        await pipeline.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => pipeline.PushAsync(new short[512], CancellationToken.None).AsTask());
        Assert.Equal(1, vad.Scores);
        Assert.Equal(0, vad.ScoredAfterDispose);
    }

    [Fact]
    public async Task SteadyAudio_WithProcessorsAndFarEnd_AllocatesNothingPerFrame()
    {
        var time = new FakeTimeProvider(T0);
        var asr = new NullRecognizer();
        await using var pipeline = new UserInputPipeline(TurnOptions(500), new LevelVad(), () => asr, time, [new EchoSubtractor(record: false)]);
        var silence = Silence(20);
        var speech = Speech(20);

        async Task<long> MeasureAsync(short[] frame)
        {
            for (var i = 0; i < 50; i++)
            {
                pipeline.PushFarEnd(silence);
                await pipeline.PushAsync(frame, CancellationToken.None);
            }

            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 500; i++)
            {
                pipeline.PushFarEnd(silence);
                await pipeline.PushAsync(frame, CancellationToken.None);
            }

            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(0, await MeasureAsync(silence));
        Assert.Equal(0, await MeasureAsync(speech)); // mid-utterance: streamed to the recogniser
        Assert.True(asr.Pushed > 0);
    }

    /// <summary>An ideal echo canceller: subtracts the far end. Records what it was given.</summary>
    private sealed class EchoSubtractor(bool record = true) : IAudioInputProcessor
    {
        public List<short> Near { get; } = [];

        public List<short> Far { get; } = [];

        public void Process(Span<short> nearEnd, ReadOnlySpan<short> farEnd)
        {
            if (record)
            {
                Assert.Equal(nearEnd.Length, farEnd.Length);
                Near.AddRange(nearEnd);
                Far.AddRange(farEnd);
            }

            for (var i = 0; i < nearEnd.Length; i++)
            {
                nearEnd[i] = (short)(nearEnd[i] - farEnd[i]);
            }
        }
    }

    /// <summary>Records what it sees (after the stages before it), then applies a gain.</summary>
    private sealed class Recorder(int gain) : IAudioInputProcessor, IDisposable
    {
        public List<short> Near { get; } = [];

        public List<short> Far { get; } = [];

        public bool Disposed { get; private set; }

        public void Process(Span<short> nearEnd, ReadOnlySpan<short> farEnd)
        {
            Near.AddRange(nearEnd);
            Far.AddRange(farEnd);
            for (var i = 0; i < nearEnd.Length; i++)
            {
                nearEnd[i] = (short)Math.Clamp(nearEnd[i] * gain, short.MinValue, short.MaxValue);
            }
        }

        public void Dispose() => Disposed = true;
    }

    /// <summary>A recogniser that takes audio and says nothing (allocates nothing).</summary>
    private sealed class NullRecognizer : ISpeechRecognitionStream
    {
        private readonly Channel<SpeechRecognitionResult> _results = Channel.CreateUnbounded<SpeechRecognitionResult>();

        public long Pushed;

        public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
        {
            Pushed += samples.Length;
            return ValueTask.CompletedTask;
        }

        public ValueTask EndUtteranceAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken) => _results.Reader.ReadAllAsync(cancellationToken);

        public ValueTask DisposeAsync()
        {
            _results.Writer.TryComplete();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class FixedConversation : IConversationView
    {
        public IReadOnlyList<ContextMessage> Messages { get; } = [new(MessageRole.Assistant, "Welcome, what can I do?")];

        public IReadOnlyList<ContextMessage> Snapshot() => Messages;
    }

    /// <summary>Stands in for a turn model: waits at speech end, ends the turn when the text so far ends a sentence.</summary>
    private sealed class EndOnCompleteSentence : IEndOfTurnPolicy
    {
        public List<string> Seen { get; } = [];

        public List<IReadOnlyList<ContextMessage>> Conversations { get; } = [];

        public EndOfTurn OnSpeechEnded(in TurnSnapshot turn) => EndOfTurn.Wait;

        public EndOfTurn OnAudioAdvanced(in TurnSnapshot turn) => turn.Silence >= TimeSpan.FromSeconds(3) ? EndOfTurn.End : EndOfTurn.Wait;

        public async ValueTask<EndOfTurn> OnFinalTranscriptAsync(TurnSnapshot turn, IConversationView conversation, CancellationToken cancellationToken)
        {
            await Task.Yield();
            Seen.Add(turn.Text);
            Conversations.Add(conversation.Snapshot());
            return turn.Text.EndsWith('.') ? EndOfTurn.End : EndOfTurn.Wait;
        }
    }
}
