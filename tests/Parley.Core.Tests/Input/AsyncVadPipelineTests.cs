using System.Threading.Tasks.Sources;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Speech;
using Parley.Core.Input;
using Parley.Core.Tests.Voice;
using Parley.Core.Turns;
using static Parley.Core.Tests.Voice.ScriptAudio;

namespace Parley.Core.Tests.Input;

/// <summary>
/// The asynchronous VAD seam (<see cref="IVoiceActivityDetector.ScoreAsync"/>, as a batched VAD scores): the pipeline
/// awaits the score and hears exactly what it hears from the same VAD scoring synchronously; a dispose while a window
/// waits for its batch gives no event and no error.
/// </summary>
public sealed class AsyncVadPipelineTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task AsyncScoring_HearsTheSameTurnsAsSyncScoring()
    {
        var audio = Concat(Silence(300), Speech(700), Silence(800), Speech(450), Silence(250), Speech(500), Silence(900));

        async Task<(List<string> Events, List<short[]> Utterances, int Deferred, int Scored)> RunAsync(bool deferred)
        {
            var time = new FakeTimeProvider(T0);
            var asr = new ScriptedRecognizer("one", "two", "three");
            var vad = new DeferredLevelVad { Defer = deferred };
            await using var pipeline = Pipeline(TurnOptions(500), vad, asr, time);
            await FeedAsync(pipeline, time, audio);
            // The VAD's own events (transcripts come from the recogniser's task, at its pace).
            var events = UserInputPipelineTests.Pending(pipeline).Where(e => e.GetType().Name.StartsWith("UserSpeech", StringComparison.Ordinal)).Select(e => $"{e.GetType().Name}@{(e.At - T0).TotalMilliseconds}").ToList();
            return (events, asr.Utterances, vad.Deferred, vad.Scored);
        }

        var sync = await RunAsync(deferred: false);
        var async = await RunAsync(deferred: true);

        Assert.Equal(0, sync.Deferred);
        // The silence gate skips quiet windows the same way in both runs; every window that is scored goes through the seam.
        Assert.True(sync.Scored > 0);
        Assert.Equal(sync.Scored, async.Deferred);
        Assert.Contains(sync.Events, e => e.StartsWith(nameof(UserSpeechStarted), StringComparison.Ordinal));
        Assert.Equal(sync.Events, async.Events);
        Assert.Equal(sync.Utterances.Count, async.Utterances.Count);
        for (var i = 0; i < sync.Utterances.Count; i++)
        {
            Assert.Equal(sync.Utterances[i], async.Utterances[i]);
        }
    }

    [Fact]
    public async Task DisposeWhileAWindowWaitsForItsBatch_PushCompletesWithoutEventOrError()
    {
        var time = new FakeTimeProvider(T0);
        var vad = new DeferredLevelVad { Defer = true, Hold = true };
        var pipeline = Pipeline(TurnOptions(500), vad, new ScriptedRecognizer(), time);
        var push = pipeline.PushAsync(Speech(32), CancellationToken.None).AsTask(); // exactly one window: held
        Assert.False(push.IsCompleted);

        var disposing = pipeline.DisposeAsync().AsTask();
        await disposing.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(vad.Disposed);
        vad.FailPending(new ObjectDisposedException("vad")); // what a batched VAD does for a row dropped at dispose
        await push.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Empty(UserInputPipelineTests.Pending(pipeline));
    }

    [Fact]
    public async Task AsyncScoring_Cancelled_FailsThePush()
    {
        var time = new FakeTimeProvider(T0);
        var vad = new DeferredLevelVad { Defer = true, Hold = true };
        await using var pipeline = Pipeline(TurnOptions(500), vad, new ScriptedRecognizer(), time);
        using var cancel = new CancellationTokenSource();
        var push = pipeline.PushAsync(Speech(32), cancel.Token).AsTask();
        cancel.Cancel();
        vad.FailPending(new OperationCanceledException(cancel.Token));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => push.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// <summary>
    /// <see cref="LevelVad"/>'s scores, delivered through <see cref="ScoreAsync"/> from another thread (as a batch
    /// worker completes them), or held until <see cref="FailPending"/>.
    /// </summary>
    private sealed class DeferredLevelVad : IVoiceActivityDetector, IValueTaskSource<float>
    {
        private readonly LevelVad _level = new();
        private ManualResetValueTaskSourceCore<float> _completion = new() { RunContinuationsAsynchronously = true };

        public bool Defer { get; init; }

        public bool Hold { get; init; }

        public int Deferred;

        public int Scored;

        public bool Disposed { get; private set; }

        public int WindowSamples => 512;

        public float Score(ReadOnlySpan<short> window) => _level.Score(window);

        public ValueTask<float> ScoreAsync(ReadOnlySpan<short> window, CancellationToken cancellationToken)
        {
            Scored++;
            if (!Defer)
            {
                return new(Score(window));
            }

            var score = Score(window); // read now: the caller reuses the window
            _completion.Reset();
            Deferred++;
            if (!Hold)
            {
                ThreadPool.UnsafeQueueUserWorkItem(s => ((DeferredLevelVad)s!)._completion.SetResult(score), this);
            }

            return new(this, _completion.Version);
        }

        public void FailPending(Exception error) => _completion.SetException(error);

        public void Reset()
        {
        }

        public void Dispose() => Disposed = true;

        float IValueTaskSource<float>.GetResult(short token) => _completion.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<float>.GetStatus(short token) => _completion.GetStatus(token);

        void IValueTaskSource<float>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _completion.OnCompleted(continuation, state, token, flags);
    }
}
