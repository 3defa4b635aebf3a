using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Parley.Core.Turns;
using static Parley.Core.Tests.Voice.ScriptAudio;

namespace Parley.Core.Tests.Voice;

public sealed class UserTurnDetectorTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static async Task<List<UserTurnEvent>> ReadUntilAsync<T>(UserTurnDetector detector, int count = 1)
        where T : UserTurnEvent
    {
        var seen = new List<UserTurnEvent>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var found = 0;
        while (found < count)
        {
            var e = await detector.Events.ReadAsync(cts.Token);
            seen.Add(e);
            found += e is T ? 1 : 0;
        }

        return seen;
    }

    private static async Task<List<UserTurnEvent>> DrainAsync(UserTurnDetector detector)
    {
        await Task.Delay(100);
        var seen = new List<UserTurnEvent>();
        while (detector.Events.TryRead(out var e))
        {
            seen.Add(e);
        }

        return seen;
    }

    [Fact]
    public async Task OneUtterance_StartEndPartialFinalThenCompletion_WithPreRollAndTimestamps()
    {
        var time = new FakeTimeProvider(T0);
        var asr = new ScriptedRecognizer("hello there");
        var vad = new LevelVad();
        var detector = new UserTurnDetector(UserTurnDetectorOptions.FromAsr(500, null), vad, asr, time);

        await FeedAsync(detector, time, Concat(Silence(1000), Speech(1000), Silence(700)));
        var events = await ReadUntilAsync<UserTurnCompleted>(detector);

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

        await detector.DisposeAsync();
        Assert.True(asr.Disposed && vad.Disposed);
        Assert.True(detector.Events.Completion.IsCompleted);
    }

    [Fact]
    public async Task NoiseShorterThanMinSpeech_NoEventsAndNothingRecognised()
    {
        var time = new FakeTimeProvider(T0);
        var asr = new ScriptedRecognizer("noise");
        await using var detector = new UserTurnDetector(new UserTurnDetectorOptions(), new LevelVad(), asr, time);

        await FeedAsync(detector, time, Concat(Silence(500), Speech(100), Silence(1000), Speech(60), Silence(800)));

        Assert.Empty(await DrainAsync(detector));
        Assert.Empty(asr.Utterances);
    }

    [Fact]
    public async Task SpeechWithEmptyRecognition_IsAnEmptyUtterance()
    {
        var time = new FakeTimeProvider(T0);
        await using var detector = new UserTurnDetector(new UserTurnDetectorOptions(), new LevelVad(), new ScriptedRecognizer(string.Empty), time);

        await FeedAsync(detector, time, Concat(Speech(600), Silence(700)));
        var events = await ReadUntilAsync<EmptyUtterance>(detector);

        Assert.Equal([typeof(UserSpeechStarted), typeof(UserSpeechEnded), typeof(EmptyUtterance)], events.Select(e => e.GetType()));
    }

    [Fact]
    public async Task TwoUtterances300msApart_WithPauseInterval1000_AreOneTurn_FinalOnlyAtTheEnd()
    {
        var time = new FakeTimeProvider(T0);
        var asr = new ScriptedRecognizer("the weather is great", "and you");
        await using var detector = new UserTurnDetector(UserTurnDetectorOptions.FromAsr(200, 1000), new LevelVad(), asr, time);
        Assert.True(detector.Options.Stitching);

        // The 300 ms pause ends the first utterance (VADSilenceSegmentation 200) but is shorter than PauseInterval.
        await FeedAsync(detector, time, Concat(Speech(800), Silence(300), Speech(600)));
        await Task.Delay(100);
        Assert.DoesNotContain(await DrainAsync(detector), e => e is TranscriptUpdated { IsFinal: true } or UserTurnCompleted);

        await FeedAsync(detector, time, Silence(1200));
        var events = await ReadUntilAsync<UserTurnCompleted>(detector);
        var completed = (UserTurnCompleted)events[^1];
        Assert.Equal("the weather is great and you", completed.Text);
        Assert.Equal(2, asr.Utterances.Count);
        Assert.Single(events, e => e is TranscriptUpdated { IsFinal: true });
        Assert.Single(events.OfType<UserTurnCompleted>());
    }

    [Fact]
    public async Task TwoUtterances300msApart_WithoutPauseInterval_AreTwoTurns()
    {
        var time = new FakeTimeProvider(T0);
        var asr = new ScriptedRecognizer("the weather is great", "and you");
        await using var detector = new UserTurnDetector(UserTurnDetectorOptions.FromAsr(200, null), new LevelVad(), asr, time);

        await FeedAsync(detector, time, Concat(Speech(800), Silence(300), Speech(600), Silence(700)));
        var events = await ReadUntilAsync<UserTurnCompleted>(detector, count: 2);

        var turns = events.OfType<UserTurnCompleted>().ToList();
        Assert.Equal(["the weather is great", "and you"], turns.Select(t => t.Text));
        Assert.NotEqual(turns[0].MessageId, turns[1].MessageId);
    }

    [Fact]
    public async Task PauseIntervalNotAboveVadSilence_DoesNotStitch()
    {
        Assert.False(UserTurnDetectorOptions.FromAsr(800, 600).Stitching);
        Assert.False(UserTurnDetectorOptions.FromAsr(null, null).Stitching);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => UserTurnDetectorOptions.FromAsr(500, 100));
        Assert.Equal("PauseInterval", error.ParamName);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task RunAsync_ReadsPooledFramesAndDisposesThem()
    {
        var time = new FakeTimeProvider(T0);
        await using var detector = new UserTurnDetector(new UserTurnDetectorOptions(), new LevelVad(), new ScriptedRecognizer("hi"), time);
        var frames = Channel.CreateUnbounded<Abstractions.Audio.AudioChunk>();
        var audio = Concat(Silence(200), Speech(600), Silence(700));
        for (var i = 0; i < audio.Length; i += 320)
        {
            frames.Writer.TryWrite(Abstractions.Audio.AudioChunk.CopyOf(audio.AsSpan(i, 320), 16000));
        }

        frames.Writer.Complete();
        await detector.RunAsync(frames.Reader, CancellationToken.None);
        var events = await ReadUntilAsync<UserTurnCompleted>(detector);
        Assert.Equal("hi", ((UserTurnCompleted)events[^1]).Text);
    }

    [Fact]
    public async Task DisposeWhileAudioIsBeingScored_NeverScoresTheFreedVad()
    {
        // The grain runs the detector's loop fire-and-forget and disposes the detector when the instance ends: a native
        // VAD freed while a window is being scored corrupts the heap (seen as a test-host crash).
        for (var round = 0; round < 20; round++)
        {
            var vad = new FreeingVad();
            var detector = new UserTurnDetector(new UserTurnDetectorOptions(), vad, new ScriptedRecognizer(), TimeProvider.System);
            var frames = System.Threading.Channels.Channel.CreateUnbounded<Parley.Abstractions.Audio.AudioChunk>();
            using var stop = new CancellationTokenSource();
            var loop = Task.Run(() => detector.RunAsync(frames.Reader, stop.Token));
            var feeding = Task.Run(async () =>
            {
                var silence = new short[320];
                while (!stop.IsCancellationRequested)
                {
                    frames.Writer.TryWrite(Parley.Abstractions.Audio.AudioChunk.CopyOf(silence, 16000));
                    await Task.Yield();
                }
            });

            while (Volatile.Read(ref vad.Scores) < 5)
            {
                await Task.Delay(1);
            }

            await detector.DisposeAsync();
            await Task.Delay(5);
            await stop.CancelAsync();
            await feeding;
            try
            {
                await loop;
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
            }

            Assert.Equal(0, vad.ScoredAfterDispose);
        }
    }
}
