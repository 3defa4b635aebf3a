using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Speech;
using Parley.Core.Input;
using Parley.Core.Sessions;
using Parley.Core.Turns;

namespace Parley.Core.Tests.Voice;

/// <summary>Test audio whose level is the VAD script: "speech" samples are ±1000, silence is 0.</summary>
internal static class ScriptAudio
{
    public const int Rate = 16000;

    public static short[] Speech(int ms) => Enumerable.Range(0, ms * 16).Select(i => (short)(i % 2 == 0 ? 1000 : -1000)).ToArray();

    public static short[] Silence(int ms) => new short[ms * 16];

    public static short[] Concat(params short[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>Turn options as the contract's ASR settings would give them (VAD silence, PauseInterval).</summary>
    public static UserInputOptions TurnOptions(int silenceMs = 500, int? pauseMs = null) => new()
    {
        Vad = new VadSegmenterOptions { SilenceDuration = TimeSpan.FromMilliseconds(silenceMs) },
        PauseInterval = pauseMs is { } p ? TimeSpan.FromMilliseconds(p) : null,
    };

    /// <summary>A pipeline over one recogniser (the factory hands out the same stream).</summary>
    public static UserInputPipeline Pipeline(UserInputOptions options, IVoiceActivityDetector vad, ISpeechRecognitionStream asr, TimeProvider time) =>
        new(options, vad, () => asr, time);

    /// <summary>Feeds 20 ms frames, advancing the fake clock by 20 ms per frame.</summary>
    public static async Task FeedAsync(UserInputPipeline detector, FakeTimeProvider time, short[] audio)
    {
        for (var i = 0; i < audio.Length; i += 320)
        {
            var n = Math.Min(320, audio.Length - i);
            await detector.PushAsync(audio.AsMemory(i, n), CancellationToken.None);
            time.Advance(TimeSpan.FromMilliseconds(20));
        }
    }
}

/// <summary>A VAD scripted by the audio level: mean |sample| ≥ 500 scores 0.95, else 0.02.</summary>
internal sealed class LevelVad : IVoiceActivityDetector
{
    public int WindowSamples => 512;

    public bool Disposed { get; private set; }

    public float Score(ReadOnlySpan<short> window)
    {
        long sum = 0;
        foreach (var s in window)
        {
            sum += Math.Abs((int)s);
        }

        return sum / window.Length >= 500 ? 0.95f : 0.02f;
    }

    public void Reset()
    {
    }

    public void Dispose() => Disposed = true;
}

/// <summary>
/// A VAD that stands in for a native one: <see cref="Score"/> blocks until <see cref="Release"/> is set, a score after
/// Dispose (use after free) is counted, and so is a Dispose while a window is being scored.
/// </summary>
internal sealed class GatedVad : IVoiceActivityDetector
{
    private int _disposed;
    private int _scoring;

    public int WindowSamples => 512;

    public ManualResetEventSlim Release { get; } = new(initialState: true);

    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int ScoredAfterDispose;

    public int DisposedWhileScoring;

    public int Scores;

    public float Score(ReadOnlySpan<short> window)
    {
        Volatile.Write(ref _scoring, 1);
        Interlocked.Increment(ref Scores);
        Entered.TrySetResult();
        Release.Wait();
        if (Volatile.Read(ref _disposed) != 0)
        {
            Interlocked.Increment(ref ScoredAfterDispose);
        }

        Volatile.Write(ref _scoring, 0);
        return 0.02f;
    }

    public void Reset()
    {
    }

    public void Dispose()
    {
        if (Volatile.Read(ref _scoring) != 0)
        {
            Interlocked.Increment(ref DisposedWhileScoring);
        }

        Volatile.Write(ref _disposed, 1);
    }
}

/// <summary>
/// A recogniser that records the audio of each utterance, sends a partial (the first word of its scripted text)
/// after 300 ms of audio and the scripted text as the final at each end of utterance.
/// </summary>
internal sealed class ScriptedRecognizer : ISpeechRecognitionStream
{
    private readonly Channel<SpeechRecognitionResult> _results = Channel.CreateUnbounded<SpeechRecognitionResult>();
    private readonly ConcurrentQueue<string> _finals;
    private List<short> _current = [];
    private bool _partialSent;

    public ScriptedRecognizer(params string[] finals) => _finals = new ConcurrentQueue<string>(finals);

    public List<short[]> Utterances { get; } = [];

    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Disposed { get; private set; }

    /// <summary>Completes when the stream is disposed (its owner closes it on its own task).</summary>
    public Task Closed => _closed.Task.WaitAsync(TimeSpan.FromSeconds(10));

    public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        _current.AddRange(samples.ToArray());
        if (!_partialSent && _current.Count >= 4800 && _finals.TryPeek(out var next) && next.Length > 0)
        {
            _partialSent = true;
            _results.Writer.TryWrite(new SpeechRecognitionResult(next.Split(' ')[0], false));
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask EndUtteranceAsync(CancellationToken cancellationToken)
    {
        Utterances.Add([.. _current]);
        _current = [];
        _partialSent = false;
        _results.Writer.TryWrite(new SpeechRecognitionResult(_finals.TryDequeue(out var text) ? text : string.Empty, true));
        return ValueTask.CompletedTask;
    }

    public IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken) => _results.Reader.ReadAllAsync(cancellationToken);

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        _results.Writer.TryComplete();
        _closed.TrySetResult();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A recogniser whose vendor session breaks: it fails at the end of an utterance, or on its results stream.</summary>
internal sealed class BrokenRecognizer(bool failResults = false) : ISpeechRecognitionStream
{
    private readonly Channel<SpeechRecognitionResult> _results = Channel.CreateUnbounded<SpeechRecognitionResult>();

    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Pushed;

    public bool Disposed { get; private set; }

    /// <summary>Completes when the stream is disposed (its owner closes it on its own task).</summary>
    public Task Closed => _closed.Task.WaitAsync(TimeSpan.FromSeconds(10));

    public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref Pushed, samples.Length);
        return ValueTask.CompletedTask;
    }

    public ValueTask EndUtteranceAsync(CancellationToken cancellationToken)
    {
        if (failResults)
        {
            _results.Writer.TryComplete(new InvalidOperationException("vendor session closed"));
            return ValueTask.CompletedTask;
        }

        throw new InvalidOperationException("vendor session closed");
    }

    public IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken) => _results.Reader.ReadAllAsync(cancellationToken);

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        _results.Writer.TryComplete();
        _closed.TrySetResult();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Hands out scripted streams in order and records how many were opened.</summary>
internal sealed class RecognizerFactory(params ISpeechRecognitionStream[] streams)
{
    private int _opened;

    public int Opened => Volatile.Read(ref _opened);

    /// <summary>Once the script runs out, every further stream is this one's product (default: a broken one).</summary>
    public Func<ISpeechRecognitionStream> Then { get; init; } = () => new BrokenRecognizer();

    public ISpeechRecognitionStream Open()
    {
        var i = Interlocked.Increment(ref _opened) - 1;
        return i < streams.Length ? streams[i] : Then();
    }
}

/// <summary>A chat model that plays scripted replies (default "OK.").</summary>
internal sealed class ScriptedChatModel : IChatModel
{
    private readonly ConcurrentQueue<Func<CancellationToken, IAsyncEnumerable<string>>> _replies = new();

    public ConcurrentQueue<ChatModelRequest> Requests { get; } = new();

    public int Cancelled;

    /// <summary>Set when a <see cref="StallAfter"/> reply has sent its delta and was asked for the next one: the
    /// caller's stall watchdog, armed before it asks, is then running.</summary>
    public TaskCompletionSource Stalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Reply(params string[] deltas) => _replies.Enqueue(ct => Yield(deltas, null, ct));

    /// <summary>Yields nothing until <paramref name="gate"/> is released, then the deltas.</summary>
    public void HeldReply(TaskCompletionSource gate, params string[] deltas) => _replies.Enqueue(ct => Yield(deltas, gate, ct));

    public void FailAfter(string delta) => _replies.Enqueue(ct => Fail(delta, ct));

    public void StallAfter(string delta) => _replies.Enqueue(ct => Stall(delta, Stalled, ct));

    public IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, CancellationToken cancellationToken)
    {
        Requests.Enqueue(request);
        cancellationToken.Register(() => Interlocked.Increment(ref Cancelled));
        return _replies.TryDequeue(out var reply) ? reply(cancellationToken) : Yield(["OK."], null, cancellationToken);
    }

    private static async IAsyncEnumerable<string> Yield(string[] deltas, TaskCompletionSource? gate, [EnumeratorCancellation] CancellationToken ct)
    {
        if (gate is not null)
        {
            await gate.Task.WaitAsync(ct);
        }

        foreach (var delta in deltas)
        {
            ct.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return delta;
        }
    }

    private static async IAsyncEnumerable<string> Fail(string delta, [EnumeratorCancellation] CancellationToken ct)
    {
        await Task.Yield();
        yield return delta;
        throw new LlmException(LlmErrorKind.General, "The LLM stream broke");
    }

    private static async IAsyncEnumerable<string> Stall(string delta, TaskCompletionSource stalled, [EnumeratorCancellation] CancellationToken ct)
    {
        await Task.Yield();
        yield return delta;
        stalled.TrySetResult();
        await Task.Delay(Timeout.Infinite, ct);
    }
}

/// <summary>
/// A speech output the test plays by hand: each segment waits until <see cref="Play"/> reports a fraction or
/// <see cref="Finish"/> completes it. With <see cref="AutoFinish"/> segments report full progress and return at once.
/// <see cref="Hang"/> makes segments never return nor report (ignoring cancellation).
/// </summary>
internal sealed class ManualSpeechOutput : ISpeechOutput
{
    private readonly ConcurrentDictionary<int, TaskCompletionSource> _done = new();
    private readonly List<SpeechSegment> _segments = [];

    public bool AutoFinish { get; set; }

    public bool Hang { get; set; }

    public IReadOnlyList<SpeechSegment> Segments
    {
        get
        {
            lock (_segments)
            {
                return [.. _segments];
            }
        }
    }

    public int Cancelled;

    public async ValueTask SpeakAsync(SpeechSegment segment, CancellationToken cancellationToken)
    {
        int index;
        lock (_segments)
        {
            index = _segments.Count;
            _segments.Add(segment);
        }

        if (Hang)
        {
            await new TaskCompletionSource().Task; // never returns, even when cancelled
        }

        segment.Progress.ReportFirstAudio();
        segment.Progress.ReportFirstFrameOut();
        if (AutoFinish)
        {
            segment.Progress.ReportPlayed(1);
            return;
        }

        var done = _done.GetOrAdd(index, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            await done.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref Cancelled);
            throw;
        }
    }

    public void Play(int index, double fraction) => Segments[index].Progress.ReportPlayed(fraction);

    public void Finish(int index)
    {
        Segments[index].Progress.ReportPlayed(1);
        _done.GetOrAdd(index, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
}

/// <summary>Reads a session's events in order for assertions.</summary>
internal sealed class EventLog(ChannelReader<SessionEvent> reader)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public List<SessionEvent> Seen { get; } = [];

    public async Task<T> NextAsync<T>(Func<T, bool>? match = null)
        where T : SessionEvent
    {
        using var cts = new CancellationTokenSource(Wait);
        while (true)
        {
            var e = await reader.ReadAsync(cts.Token);
            Seen.Add(e);
            if (e is T t && (match?.Invoke(t) ?? true))
            {
                return t;
            }
        }
    }

    /// <summary>Takes the events already written (for "nothing happened" checks after synchronous steps).</summary>
    public void TakeWritten()
    {
        while (reader.TryRead(out var e))
        {
            Seen.Add(e);
        }
    }

    /// <summary>Events that arrive within a short real-time window (for "nothing happens" checks).</summary>
    public async Task DrainAsync(int ms = 150)
    {
        using var cts = new CancellationTokenSource(ms);
        try
        {
            while (true)
            {
                Seen.Add(await reader.ReadAsync(cts.Token));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public static async Task UntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(5);
        }
    }
}
