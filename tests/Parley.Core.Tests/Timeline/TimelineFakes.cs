using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Media;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;
using Parley.Core.Sessions;

namespace Parley.Core.Tests.Timeline;

/// <summary>One 20 ms frame that left the <see cref="FakeAudioSink"/>: when, and the marker value of its audio.</summary>
internal readonly record struct PlayedFrame(TimeSpan At, short Marker);

/// <summary>
/// An audio sink paced by the fake clock: every 20 ms one frame (320 samples) leaves it and is recorded with the time.
/// <see cref="Clear"/> drops everything queued at once.
/// </summary>
internal sealed class FakeAudioSink : IAudioSink, IDisposable
{
    public const int FrameSamples = 320;

    private readonly Lock _gate = new();
    private readonly FakeTimeProvider _time;
    private readonly DateTimeOffset _start;
    private readonly Queue<short> _queue = new();
    private readonly ITimer _timer;
    private TaskCompletionSource? _drained;
    private long _played;
    private bool _cleared;
    private bool _paused;

    public FakeAudioSink(FakeTimeProvider time, DateTimeOffset start)
    {
        _time = time;
        _start = start;
        _timer = time.CreateTimer(_ => Tick(), null, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(20));
    }

    public List<PlayedFrame> Played { get; } = [];

    public int Clears { get; private set; }

    public TimeSpan Buffered
    {
        get
        {
            lock (_gate)
            {
                return TimeSpan.FromSeconds(_queue.Count / 16000.0);
            }
        }
    }

    public long PlayedSamples => Interlocked.Read(ref _played);

    public ValueTask WriteAsync(AudioChunk chunk, CancellationToken cancellationToken)
    {
        using (chunk)
        {
            lock (_gate)
            {
                foreach (var s in chunk.Samples)
                {
                    _queue.Enqueue(s);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public void Clear()
    {
        TaskCompletionSource? drained;
        lock (_gate)
        {
            _queue.Clear();
            _paused = false;
            Clears++;
            _cleared = true;
            drained = _drained;
            _drained = null;
        }

        drained?.TrySetResult();
    }

    public async ValueTask<Playout> WaitForPlayoutAsync(CancellationToken cancellationToken)
    {
        Task wait;
        lock (_gate)
        {
            _cleared = false;
            if (_queue.Count == 0)
            {
                return new Playout(PlayedSamples, false);
            }

            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _drained.Task;
        }

        await wait.WaitAsync(cancellationToken);
        lock (_gate)
        {
            return new Playout(PlayedSamples, _cleared);
        }
    }

    public bool Paused
    {
        get
        {
            lock (_gate)
            {
                return _paused;
            }
        }
    }

    public void Pause()
    {
        lock (_gate)
        {
            if (!_paused)
            {
                _paused = true;
                Pauses.Add(_time.GetUtcNow() - _start);
            }
        }
    }

    public void Resume()
    {
        lock (_gate)
        {
            if (_paused)
            {
                _paused = false;
                Resumes.Add(_time.GetUtcNow() - _start);
            }
        }
    }

    /// <summary>When the output was paused (a provisional barge-in), from the start.</summary>
    public List<TimeSpan> Pauses { get; } = [];

    /// <summary>When a pause was released (the audio went on), from the start.</summary>
    public List<TimeSpan> Resumes { get; } = [];

    public void Dispose() => _timer.Dispose();

    private void Tick()
    {
        TaskCompletionSource? drained = null;
        lock (_gate)
        {
            if (_queue.Count == 0 || _paused)
            {
                return;
            }

            short marker = 0;
            var n = Math.Min(FrameSamples, _queue.Count);
            for (var i = 0; i < n; i++)
            {
                var s = _queue.Dequeue();
                marker = s != 0 ? s : marker;
            }

            Interlocked.Add(ref _played, n);
            Played.Add(new PlayedFrame(_time.GetUtcNow() - _start, marker));
            if (_queue.Count == 0)
            {
                drained = _drained;
                _drained = null;
            }
        }

        drained?.TrySetResult();
    }
}

/// <summary>
/// A TTS whose audio arrives after <see cref="FirstAudioDelay"/> and then in 100 ms chunks at <see cref="RealTimeFactor"/>
/// (synthesis time per audio time). Each sentence lasts 60 ms per character; its samples carry a marker (the sentence's
/// number, from 1) so the sink shows which sentence played when. <see cref="FailOnSentence"/> makes that sentence throw
/// after its first chunk.
/// </summary>
internal sealed class ScriptedTts(FakeTimeProvider time, string name = "Scripted") : SentenceTtsBase
{
    private int _sentences;

    public override string Name => name;

    public TimeSpan FirstAudioDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    public double RealTimeFactor { get; set; } = 0.2;

    public int? FailOnSentence { get; set; }

    public ConcurrentQueue<string> Texts { get; } = new();

    /// <summary>The Params each sentence was synthesised with, in order (a JSON string, "null" for none).</summary>
    public ConcurrentQueue<string> Params { get; } = new();

    /// <summary>The marker of each sentence synthesised, by its text.</summary>
    public ConcurrentDictionary<short, string> Markers { get; } = new();

    public override string? Validate(JsonObject? parameters) => null;

    protected override async IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(string text, JsonObject? parameters, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var number = (short)Interlocked.Increment(ref _sentences);
        Texts.Enqueue(text);
        Params.Enqueue(parameters?.ToJsonString() ?? "null");
        Markers[number] = text;
        await Task.Delay(FirstAudioDelay, time, cancellationToken);
        var total = text.Length * 60 * 16;
        for (var sent = 0; sent < total; sent += 1600)
        {
            if (sent > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 * RealTimeFactor), time, cancellationToken);
                if (FailOnSentence == number)
                {
                    throw new InvalidOperationException("the TTS vendor closed the stream");
                }
            }

            var n = Math.Min(1600, total - sent);
            var chunk = AudioChunk.Rent(n, 16000);
            chunk.WritableSpan[..n].Fill(number);
            yield return chunk.WithLength(n);
        }
    }
}

/// <summary>One scripted LLM reply: first-token delay, delay between tokens, the tokens, and how it ends.</summary>
internal sealed record LlmScript(TimeSpan FirstToken, TimeSpan PerToken, string[] Tokens, bool FailAtEnd = false, bool StallAtEnd = false)
{
    /// <summary>Splits <paramref name="text"/> into word tokens ("Hello", " there.", …).</summary>
    public static LlmScript Words(string text, int firstTokenMs = 200, int perTokenMs = 30) =>
        new(TimeSpan.FromMilliseconds(firstTokenMs), TimeSpan.FromMilliseconds(perTokenMs), [.. text.Split(' ').Select((w, i) => i == 0 ? w : " " + w)]);
}

/// <summary>A chat model that plays <see cref="LlmScript"/>s on the fake clock, in order (then "OK.").</summary>
internal sealed class TimelineLlm(FakeTimeProvider time) : IChatModel
{
    private readonly ConcurrentQueue<LlmScript> _scripts = new();

    public ConcurrentQueue<ChatModelRequest> Requests { get; } = new();

    public void Add(LlmScript script) => _scripts.Enqueue(script);

    public IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, CancellationToken cancellationToken)
    {
        Requests.Enqueue(request);
        return PlayAsync(_scripts.TryDequeue(out var s) ? s : LlmScript.Words("OK."), cancellationToken);
    }

    private async IAsyncEnumerable<string> PlayAsync(LlmScript script, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Delay(script.FirstToken, time, cancellationToken);
        for (var i = 0; i < script.Tokens.Length; i++)
        {
            if (i > 0 && script.PerToken > TimeSpan.Zero)
            {
                await Task.Delay(script.PerToken, time, cancellationToken);
            }

            yield return script.Tokens[i];
        }

        if (script.StallAtEnd)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        if (script.FailAtEnd)
        {
            throw new LlmException(LlmErrorKind.General, "The LLM stream broke");
        }
    }
}

/// <summary>A recogniser that answers each utterance with the next scripted text (a partial first, then the final).</summary>
internal sealed class TimelineRecognizer : ISpeechRecognitionStream
{
    private readonly Channel<SpeechRecognitionResult> _results = Channel.CreateUnbounded<SpeechRecognitionResult>();
    private readonly ConcurrentQueue<string> _finals = new();
    private bool _partialSent;

    public void Expect(string text) => _finals.Enqueue(text);

    public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        if (!_partialSent && _finals.TryPeek(out var next) && next.Length > 0)
        {
            _partialSent = true;
            _results.Writer.TryWrite(new SpeechRecognitionResult(next.Split(' ')[0], false));
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask EndUtteranceAsync(CancellationToken cancellationToken)
    {
        _partialSent = false;
        _results.Writer.TryWrite(new SpeechRecognitionResult(_finals.TryDequeue(out var text) ? text : string.Empty, true));
        return ValueTask.CompletedTask;
    }

    public IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken) => _results.Reader.ReadAllAsync(cancellationToken);

    public ValueTask DisposeAsync()
    {
        _results.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A VAD scripted by level: mean |sample| ≥ 500 is speech.</summary>
internal sealed class TimelineVad : IVoiceActivityDetector
{
    public int WindowSamples => 512;

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

    public void Dispose()
    {
    }
}

/// <summary>A vendor session that fails as soon as it is given audio (its results end with the error).</summary>
internal sealed class FailingRecognizer : ISpeechRecognitionStream
{
    private readonly Channel<SpeechRecognitionResult> _results = Channel.CreateUnbounded<SpeechRecognitionResult>();

    public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        _results.Writer.TryComplete(new InvalidOperationException("the ASR vendor closed the session"));
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
