using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Parley.Abstractions.Speech;
using Parley.Providers.Local;
using Xunit;
using Xunit.Abstractions;

namespace Parley.Providers.Tests.Local;

/// <summary>One unbatched and one batched factory over the real Silero v5 model.</summary>
public sealed class BatchedSileroVadFixture : IDisposable
{
    public SileroVadFactory Unbatched { get; } = new(options: new SileroVadOptions { BatchWorkers = 0 });

    public SileroVadFactory Batched { get; } = new(options: new SileroVadOptions { BatchWorkers = 1, MaxBatch = 64 });

    private readonly SessionOptions _options = SileroVadFactory.CreateSessionOptions();

    public BatchedSileroVadFixture() => Session = new(Path.Combine(AppContext.BaseDirectory, SileroVadFactory.DefaultModelRelativePath), _options);

    /// <summary>The model session, for runners driven by the test thread.</summary>
    public InferenceSession Session { get; }

    public void Dispose()
    {
        _options.Dispose();
        Batched.Dispose();
        Unbatched.Dispose();
        Session.Dispose();
    }
}

/// <summary>
/// The batched Silero VAD: the model takes B rows with per-row state and context, the probabilities equal those of
/// the unbatched detector row by row (within 1e-5), many sessions each get their own row, and a session disposed or
/// cancelled around a batch is dropped cleanly.
/// </summary>
[Trait("Category", "RealEngine")]
public sealed class BatchedSileroVadTests(BatchedSileroVadFixture fixture, ITestOutputHelper output) : IClassFixture<BatchedSileroVadFixture>
{
    private const int Window = 512;
    private const float Tolerance = 1e-5f;

    private static readonly string[] Texts =
    [
        "What is the weather like today?",
        "Good morning, how are you?",
        "I'd like to book a flight to Boston on Friday.",
        "Can you set an alarm for seven?",
    ];

    [Fact]
    public void Model_TakesABatch_AndEveryRowEqualsItsUnbatchedScores()
    {
        const int rows = 12;
        var streams = Enumerable.Range(0, rows).Select(Stream).ToArray();
        var windows = streams.Min(s => s.Length) / Window;
        var expected = streams.Select(s => Unbatched(s, windows)).ToArray();

        // All rows in one model call per window step, driven here: B = 12 every time.
        var queue = new List<BatchedSileroVad>();
        var vads = Enumerable.Range(0, rows).Select(_ => new BatchedSileroVad(queue.Add)).ToArray();
        using var runner = new SileroBatchRunner(fixture.Session);
        var actual = new float[rows][];
        for (var r = 0; r < rows; r++)
        {
            actual[r] = new float[windows];
        }

        var pending = new ValueTask<float>[rows];
        for (var w = 0; w < windows; w++)
        {
            for (var r = 0; r < rows; r++)
            {
                pending[r] = vads[r].ScoreAsync(streams[r].AsSpan(w * Window, Window), CancellationToken.None);
            }

            Assert.Equal(rows, runner.Run(queue.ToArray()));
            queue.Clear();
            for (var r = 0; r < rows; r++)
            {
                actual[r][w] = Completed(pending[r]);
            }
        }

        var worst = 0f;
        for (var r = 0; r < rows; r++)
        {
            for (var w = 0; w < windows; w++)
            {
                worst = Math.Max(worst, Math.Abs(expected[r][w] - actual[r][w]));
            }
        }

        output.WriteLine($"{rows} rows x {windows} windows, largest difference {worst:E2}");
        Assert.True(worst <= Tolerance, $"batched and unbatched probabilities differ by {worst:E2}");
        Assert.Contains(expected, e => e.Max() > 0.9f); // real speech was scored, not silence only
    }

    [Fact]
    public async Task ManySessionsAtOnce_EachGetsItsOwnRowsResult()
    {
        const int sessions = 32;
        var streams = Enumerable.Range(0, sessions).Select(Stream).ToArray();
        var windows = streams.Min(s => s.Length) / Window;
        var expected = streams.Select(s => Unbatched(s, windows)).ToArray();
        var batchesBefore = fixture.Batched.Scorer!.Batches;
        var windowsBefore = fixture.Batched.Scorer.Windows;

        using var start = new Barrier(sessions);
        var results = await Task.WhenAll(Enumerable.Range(0, sessions).Select(r => Task.Run(async () =>
        {
            using var vad = fixture.Batched.Create();
            var scores = new float[windows];
            start.SignalAndWait();
            for (var w = 0; w < windows; w++)
            {
                scores[w] = await vad.ScoreAsync(streams[r].AsSpan(w * Window, Window), CancellationToken.None);
            }

            return scores;
        }))).WaitAsync(TimeSpan.FromSeconds(120));

        var batches = fixture.Batched.Scorer.Batches - batchesBefore;
        var scored = fixture.Batched.Scorer.Windows - windowsBefore;
        output.WriteLine($"{scored} windows in {batches} model calls ({(double)scored / batches:0.0} per call)");
        Assert.Equal(sessions * windows, scored);
        Assert.True(batches < scored, "every window had a model call of its own: nothing was batched");
        for (var r = 0; r < sessions; r++)
        {
            for (var w = 0; w < windows; w++)
            {
                Assert.True(Math.Abs(expected[r][w] - results[r][w]) <= Tolerance, $"session {r} window {w}: {results[r][w]} != {expected[r][w]}");
            }
        }
    }

    [Fact]
    public async Task TwoWorkers_ManySubmittersOnAndOff_NoWindowIsLostOrScoredTwice()
    {
        // Sessions that submit one window at a time, with pauses that let both workers go idle between them, exercise
        // every order of "a worker goes to sleep" and "a window arrives"; a lost wake-up would leave a window unscored
        // (the guard below), a window taken twice would count twice.
        using var factory = new SileroVadFactory(options: new SileroVadOptions { BatchWorkers = 2, MaxBatch = 8 });
        var scorer = factory.Scorer!;
        const int sessions = 12;
        const int windowsEach = 150;
        var audio = Stream(1);
        await Task.WhenAll(Enumerable.Range(0, sessions).Select(r => Task.Run(async () =>
        {
            using var vad = factory.Create();
            for (var w = 0; w < windowsEach; w++)
            {
                var window = audio.AsSpan((w % (audio.Length / Window)) * Window, Window);
                var p = await vad.ScoreAsync(window, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
                Assert.InRange(p, 0f, 1f);
                if ((w + r) % 7 == 0)
                {
                    Thread.Yield();
                }
            }
        })));

        Assert.Equal(sessions * windowsEach, scorer.Windows);
        factory.Dispose();
        using var late = new SileroVadFactory(options: new SileroVadOptions { BatchWorkers = 2 });
        late.Dispose(); // workers idle at disposal stop at once (every sleeping worker is woken)
    }

    [Fact]
    public async Task LoneSession_IsScoredWithoutWaitingForATick()
    {
        var audio = Stream(0);
        using var vad = fixture.Batched.Create();
        var times = new List<double>();
        for (var w = 0; w < 60; w++)
        {
            var clock = Stopwatch.StartNew();
            await vad.ScoreAsync(audio.AsSpan(w * Window, Window), CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        var median = times[times.Count / 2];
        output.WriteLine($"lone session: median {median:0.000} ms, max {times[^1]:0.000} ms per window");

        // Nothing waits for a period: a window is scored as soon as the worker is free (one inference is ~0.1–1 ms).
        Assert.True(median < 32, $"a lone window took {median:0.0} ms (one window is 32 ms)");
    }

    [Fact]
    public void DisposedWhileQueued_IsDroppedFromTheBatch_AndTheOthersAreScored()
    {
        var queue = new List<BatchedSileroVad>();
        var a = new BatchedSileroVad(queue.Add);
        var b = new BatchedSileroVad(queue.Add);
        var speech = Stream(0);
        var pa = a.ScoreAsync(speech.AsSpan(0, Window), CancellationToken.None);
        var pb = b.ScoreAsync(speech.AsSpan(0, Window), CancellationToken.None);
        a.Dispose();

        using var runner = new SileroBatchRunner(fixture.Session);
        Assert.Equal(1, runner.Run(queue.ToArray()));

        Assert.Throws<ObjectDisposedException>(() => Completed(pa));
        using var alone = fixture.Unbatched.Create();
        Assert.Equal(alone.Score(speech.AsSpan(0, Window)), Completed(pb), Tolerance);
    }

    [Fact]
    public void DisposedWhileItsBatchRuns_IsNotWrittenBack_AndItsResultFails()
    {
        var queue = new List<BatchedSileroVad>();
        var vad = new BatchedSileroVad(queue.Add);
        var speech = Stream(0);
        var pending = vad.ScoreAsync(speech.AsSpan(0, Window), CancellationToken.None);
        Assert.True(vad.TryTake()); // in the batch, the model running

        vad.Dispose();
        vad.Complete(new float[128], new float[128], 0.9f);

        Assert.Throws<ObjectDisposedException>(() => Completed(pending));
        Assert.Throws<ObjectDisposedException>(() => vad.ScoreAsync(speech.AsSpan(0, Window), CancellationToken.None));
    }

    [Fact]
    public async Task SessionsDisposedWhileOthersScore_LeaveTheOthersCorrect()
    {
        const int sessions = 16;
        var streams = Enumerable.Range(0, sessions).Select(Stream).ToArray();
        var windows = streams.Min(s => s.Length) / Window;
        var expected = streams.Select(s => Unbatched(s, windows)).ToArray();

        var results = await Task.WhenAll(Enumerable.Range(0, sessions).Select(r => Task.Run(async () =>
        {
            var vad = fixture.Batched.Create();
            var scores = new float[windows];
            try
            {
                for (var w = 0; w < windows; w++)
                {
                    var pending = vad.ScoreAsync(streams[r].AsSpan(w * Window, Window), CancellationToken.None);
                    if (r % 2 == 1 && w == r * 3)
                    {
                        vad.Dispose(); // mid-stream: queued, in a batch, or just scored
                        try
                        {
                            await pending;
                        }
                        catch (ObjectDisposedException)
                        {
                        }

                        return null;
                    }

                    scores[w] = await pending;
                }

                return scores;
            }
            finally
            {
                vad.Dispose();
            }
        }))).WaitAsync(TimeSpan.FromSeconds(120));

        for (var r = 0; r < sessions; r += 2)
        {
            for (var w = 0; w < windows; w++)
            {
                Assert.True(Math.Abs(expected[r][w] - results[r]![w]) <= Tolerance, $"session {r} window {w}");
            }
        }
    }

    [Fact]
    public void CancelledWhileQueued_FailsWithCancellation_AndTheDetectorScoresOnAfterwards()
    {
        var queue = new List<BatchedSileroVad>();
        var vad = new BatchedSileroVad(queue.Add);
        var speech = Stream(0);
        using var cancel = new CancellationTokenSource();
        var pending = vad.ScoreAsync(speech.AsSpan(0, Window), cancel.Token);
        cancel.Cancel();
        using var runner = new SileroBatchRunner(fixture.Session);

        Assert.Equal(0, runner.Run(queue.ToArray()));
        Assert.ThrowsAny<OperationCanceledException>(() => Completed(pending));

        queue.Clear();
        var next = vad.ScoreAsync(speech.AsSpan(0, Window), CancellationToken.None);
        Assert.Equal(1, runner.Run(queue.ToArray()));
        using var alone = fixture.Unbatched.Create();
        Assert.Equal(alone.Score(speech.AsSpan(0, Window)), Completed(next), Tolerance);
    }

    [Fact]
    public async Task FactoryDisposed_FailsQueuedWindows_AndRefusesNewDetectors()
    {
        var factory = new SileroVadFactory(options: new SileroVadOptions { BatchWorkers = 2 });
        var vad = factory.Create();
        var speech = Stream(0);
        Assert.InRange(await vad.ScoreAsync(speech.AsSpan(0, Window), CancellationToken.None), 0f, 1f);

        factory.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => vad.ScoreAsync(speech.AsSpan(Window, Window), CancellationToken.None).AsTask());
        Assert.Throws<ObjectDisposedException>(() => factory.Create());
    }

    [Fact]
    public void ScoreWhileAWindowIsPending_Throws_AndWrongLengthNamesTheParameter()
    {
        var queue = new List<BatchedSileroVad>();
        var vad = new BatchedSileroVad(queue.Add);
        _ = vad.ScoreAsync(new short[Window], CancellationToken.None);

        Assert.Throws<InvalidOperationException>(() => vad.ScoreAsync(new short[Window], CancellationToken.None));
        Assert.Throws<InvalidOperationException>(vad.Reset);
        Assert.Equal("window", Assert.Throws<ArgumentException>(() => vad.ScoreAsync(new short[480], CancellationToken.None)).ParamName);
    }

    [Fact]
    public void Options_OutOfRange_NameTheKey()
    {
        var workers = Assert.Throws<ArgumentOutOfRangeException>(() => new SileroVadOptions { BatchWorkers = -1 }.Validate());
        Assert.Contains("Parley:Vad:BatchWorkers", workers.Message, StringComparison.Ordinal);
        var batch = Assert.Throws<ArgumentOutOfRangeException>(() => new SileroVadOptions { MaxBatch = 0 }.Validate());
        Assert.Contains("Parley:Vad:MaxBatch", batch.Message, StringComparison.Ordinal);
    }

    /// <summary>Speech of one of the texts, between silences whose length depends on the row (so rows differ).</summary>
    private static short[] Stream(int row) => SpeechTestAudio.Concat(
        SpeechTestAudio.Silence(TimeSpan.FromMilliseconds(40 * (row % 7))),
        SpeechTestAudio.Speech(Texts[row % Texts.Length]),
        SpeechTestAudio.WhiteNoise(TimeSpan.FromMilliseconds(300 + (20 * row)), amplitude: (short)(200 + (50 * row))),
        SpeechTestAudio.Speech(Texts[(row + 1) % Texts.Length]));

    private float[] Unbatched(short[] audio, int windows)
    {
        using var vad = fixture.Unbatched.Create();
        var scores = new float[windows];
        for (var w = 0; w < windows; w++)
        {
            scores[w] = vad.Score(audio.AsSpan(w * Window, Window));
        }

        return scores;
    }

    private static float Completed(ValueTask<float> pending)
    {
        Assert.True(pending.IsCompleted, "the batch ran but the result is not complete");
        return pending.GetAwaiter().GetResult();
    }
}
