using System.Threading.Channels;
using System.Threading.Tasks.Sources;
using Parley.Abstractions.Audio;
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

    [Fact]
    public async Task RunAsync_AsyncScoring_HearsTheSameTurnsAsSyncScoring()
    {
        // The room's path: frames through a channel into RunAsync, which awaits a pending score itself.
        var audio = Concat(Silence(300), Speech(700), Silence(800), Speech(450), Silence(250), Speech(500), Silence(900));

        async Task<(List<string> Events, List<short[]> Utterances, int Deferred)> RunAsync(bool deferred)
        {
            var time = new FakeTimeProvider(T0);
            var asr = new ScriptedRecognizer("one", "two", "three");
            var vad = new DeferredLevelVad { Defer = deferred };
            await using var pipeline = Pipeline(TurnOptions(500), vad, asr, time);
            var frames = Channel.CreateUnbounded<AudioChunk>();
            for (var i = 0; i < audio.Length; i += 320)
            {
                frames.Writer.TryWrite(AudioChunk.CopyOf(audio.AsSpan(i, Math.Min(320, audio.Length - i)), Rate));
            }

            frames.Writer.Complete();
            await pipeline.RunAsync(frames.Reader, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            var events = UserInputPipelineTests.Pending(pipeline).Where(e => e.GetType().Name.StartsWith("UserSpeech", StringComparison.Ordinal)).Select(e => e.GetType().Name).ToList();
            return (events, asr.Utterances, vad.Deferred);
        }

        var sync = await RunAsync(deferred: false);
        var async = await RunAsync(deferred: true);

        Assert.Equal(0, sync.Deferred);
        Assert.True(async.Deferred > 0);
        Assert.Equal(2, sync.Events.Count(e => e == nameof(UserSpeechStarted))); // the 250 ms pause is shorter than the 500 ms end silence
        Assert.Equal(sync.Events, async.Events);
        Assert.Equal(2, async.Utterances.Count);
        for (var i = 0; i < sync.Utterances.Count; i++)
        {
            Assert.Equal(sync.Utterances[i], async.Utterances[i]);
        }
    }

    [Fact]
    public async Task RunAsync_DisposeWhileAWindowWaitsForItsBatch_EndsWithoutEventOrError()
    {
        var time = new FakeTimeProvider(T0);
        var vad = new DeferredLevelVad { Defer = true, Hold = true };
        var pipeline = Pipeline(TurnOptions(500), vad, new ScriptedRecognizer(), time);
        var frames = Channel.CreateUnbounded<AudioChunk>();
        var run = pipeline.RunAsync(frames.Reader, CancellationToken.None);
        frames.Writer.TryWrite(AudioChunk.CopyOf(Speech(32), Rate)); // exactly one window: held
        await vad.Pending.WaitAsync(TimeSpan.FromSeconds(10));

        await pipeline.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(vad.Disposed);
        vad.FailPending(new ObjectDisposedException("vad")); // what a batched VAD does for a row dropped at dispose
        frames.Writer.Complete();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Empty(UserInputPipelineTests.Pending(pipeline));
    }

    [Fact]
    public async Task RunAsync_ManySessionsWaitingOnOneBatch_AllocateNothingPerWindow()
    {
        // A batched VAD holds every session's window until the batch is scored: with a hundred sessions waiting at once,
        // pooled async continuations miss their per-core cache and are allocated (the profile's top VAD-path
        // allocators at 100 sessions). RunAsync awaits the score in its own state machine, allocated once per session.
        // Everything runs on this thread: the channels continue their reader inline, the VAD completes inline.
        const int Sessions = 64;
        var time = new FakeTimeProvider(T0);
        var options = TurnOptions(500) with { SilenceGate = new SilenceGateOptions { Enabled = false } }; // every window scored
        var vads = new InlineHeldVad[Sessions];
        var writers = new ChannelWriter<AudioChunk>[Sessions];
        var pipelines = new UserInputPipeline[Sessions];
        var runs = new Task[Sessions];
        for (var i = 0; i < Sessions; i++)
        {
            vads[i] = new InlineHeldVad();
            var frames = Channel.CreateBounded<AudioChunk>(new BoundedChannelOptions(8) { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = true });
            writers[i] = frames.Writer;
            pipelines[i] = Pipeline(options, vads[i], new ScriptedRecognizer(), time);
            runs[i] = pipelines[i].RunAsync(frames.Reader, CancellationToken.None);
        }

        var frame = Silence(20);
        void Round()
        {
            foreach (var writer in writers)
            {
                Assert.True(writer.TryWrite(AudioChunk.CopyOf(frame, Rate)));
            }

            foreach (var vad in vads)
            {
                vad.CompleteHeld(); // the batch is scored: every held session continues, here
            }
        }

        for (var r = 0; r < 50; r++)
        {
            Round(); // warm-up: pools filled, channels' buffers grown
        }

        var scoredBefore = vads.Sum(v => v.Scored);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var r = 0; r < 200; r++)
        {
            Round();
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var windows = vads.Sum(v => v.Scored) - scoredBefore;
        Assert.True(windows >= Sessions * 100, $"only {windows} windows were scored"); // 200 frames of 20 ms = 125 windows each
        Assert.True(vads.All(v => v.Completed == v.Scored), "a window is still held"); // every score was awaited and delivered
        // Nothing per window: the old nested continuations took ~400 B a window (5,184,000 B here). A few hundred bytes
        // can still appear when the suite runs tests in parallel: the pooled state machines of the per-frame path keep
        // their spare boxes per core as well as per thread, and another test's thread on the same core can take one.
        Assert.True(allocated < windows, $"{allocated} B allocated for {windows} windows");

        for (var i = 0; i < Sessions; i++)
        {
            writers[i].Complete();
            await runs[i].WaitAsync(TimeSpan.FromSeconds(10));
            await pipelines[i].DisposeAsync();
        }
    }

    /// <summary>A <see cref="LevelVad"/> whose every score is held until <see cref="CompleteHeld"/>, which continues the waiter inline.</summary>
    private sealed class InlineHeldVad : IVoiceActivityDetector, IValueTaskSource<float>
    {
        private readonly LevelVad _level = new();
        private ManualResetValueTaskSourceCore<float> _completion = new() { RunContinuationsAsynchronously = false };
        private bool _held;
        private float _score;

        public int Scored { get; private set; }

        public int Completed { get; private set; }

        public int WindowSamples => 512;

        public float Score(ReadOnlySpan<short> window) => _level.Score(window);

        public ValueTask<float> ScoreAsync(ReadOnlySpan<short> window, CancellationToken cancellationToken)
        {
            Scored++;
            _score = Score(window);
            _completion.Reset();
            _held = true;
            return new(this, _completion.Version);
        }

        public void CompleteHeld()
        {
            if (_held)
            {
                _held = false;
                Completed++;
                _completion.SetResult(_score);
            }
        }

        public void Reset()
        {
        }

        public void Dispose()
        {
        }

        float IValueTaskSource<float>.GetResult(short token) => _completion.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<float>.GetStatus(short token) => _completion.GetStatus(token);

        void IValueTaskSource<float>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _completion.OnCompleted(continuation, state, token, flags);
    }

    /// <summary>
    /// <see cref="LevelVad"/>'s scores, delivered through <see cref="ScoreAsync"/> from another thread (as a batch
    /// worker completes them), or held until <see cref="FailPending"/>.
    /// </summary>
    private sealed class DeferredLevelVad : IVoiceActivityDetector, IValueTaskSource<float>
    {
        private readonly LevelVad _level = new();
        private readonly TaskCompletionSource _pending = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private ManualResetValueTaskSourceCore<float> _completion = new() { RunContinuationsAsynchronously = true };

        public bool Defer { get; init; }

        public bool Hold { get; init; }

        public int Deferred;

        public int Scored;

        public bool Disposed { get; private set; }

        /// <summary>Completes when a score is held (<see cref="Hold"/>).</summary>
        public Task Pending => _pending.Task;

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
            else
            {
                _pending.TrySetResult();
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
