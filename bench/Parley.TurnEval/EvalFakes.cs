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

namespace Parley.TurnEval;

/// <summary>
/// The room output on the fake clock: one 20 ms frame leaves every 20 ms and is written to a timeline of what the
/// agent played (so the microphone can hear it back as echo); <see cref="Clear"/> drops the queue and is recorded.
/// </summary>
internal sealed class EvalSink : IAudioSink, IDisposable
{
    private const int Frame = 320;
    private readonly Lock _gate = new();
    private readonly FakeTimeProvider _time;
    private readonly DateTimeOffset _start;
    private readonly Queue<short> _queue = new();
    private readonly short[] _played;
    private readonly ITimer _timer;
    private TaskCompletionSource? _drained;
    private long _playedSamples;
    private bool _cleared;
    private bool _paused;

    public EvalSink(FakeTimeProvider time, DateTimeOffset start, TimeSpan length)
    {
        _time = time;
        _start = start;
        _played = new short[(int)(length.TotalSeconds * Clips.Rate) + Frame];
        _timer = time.CreateTimer(_ => Tick(), null, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(20));
    }

    /// <summary>When the queue was cleared (an interruption), from the start.</summary>
    public List<TimeSpan> Clears { get; } = [];

    /// <summary>Start times of played 20 ms frames that carried audio.</summary>
    public List<TimeSpan> AudibleFrames { get; } = [];

    public TimeSpan Buffered
    {
        get
        {
            lock (_gate)
            {
                return TimeSpan.FromSeconds(_queue.Count / (double)Clips.Rate);
            }
        }
    }

    public long PlayedSamples => Interlocked.Read(ref _playedSamples);

    /// <summary>What the agent played from sample <paramref name="from"/> on, into <paramref name="into"/> (zeros outside).</summary>
    public void ReadPlayed(int from, Span<short> into)
    {
        lock (_gate)
        {
            for (var i = 0; i < into.Length; i++)
            {
                var at = from + i;
                into[i] = at >= 0 && at < _played.Length ? _played[at] : (short)0;
            }
        }
    }

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
            if (_queue.Count > 0)
            {
                Clears.Add(_time.GetUtcNow() - _start);
            }

            _queue.Clear();
            _paused = false;
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

        await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
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

            var now = _time.GetUtcNow() - _start;
            var at = (int)(now.TotalSeconds * Clips.Rate) - Frame;
            var n = Math.Min(Frame, _queue.Count);
            for (var i = 0; i < n; i++)
            {
                var s = _queue.Dequeue();
                if (at + i >= 0 && at + i < _played.Length)
                {
                    _played[at + i] = s;
                }
            }

            Interlocked.Add(ref _playedSamples, n);
            AudibleFrames.Add(now - TimeSpan.FromMilliseconds(20));
            if (_queue.Count == 0)
            {
                drained = _drained;
                _drained = null;
            }
        }

        drained?.TrySetResult();
    }
}

/// <summary>A TTS that speaks with flite: first audio after 100 ms of the fake clock, then 100 ms chunks at 0.2× real time.</summary>
internal sealed class FliteClipTts(FakeTimeProvider time) : SentenceTtsBase
{
    private int _synthesizing;

    public override string Name => "FliteClip";

    /// <summary>
    /// A sentence is being synthesised by flite (a clip not in the cache yet): real time passes that the fake clock
    /// must not, or the reply's audio would start later in scenario time the colder the cache and the busier the
    /// machine.
    /// </summary>
    public bool Synthesizing => Volatile.Read(ref _synthesizing) > 0;

    public override string? Validate(JsonObject? parameters) => null;

    protected override async IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(string text, JsonObject? parameters, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        short[] audio;
        Interlocked.Increment(ref _synthesizing);
        try
        {
            audio = Clips.Say(text);
        }
        finally
        {
            Interlocked.Decrement(ref _synthesizing);
        }

        await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken).ConfigureAwait(false);
        for (var sent = 0; sent < audio.Length; sent += 1600)
        {
            if (sent > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken).ConfigureAwait(false);
            }

            var n = Math.Min(1600, audio.Length - sent);
            var chunk = AudioChunk.Rent(n, Clips.Rate);
            audio.AsSpan(sent, n).CopyTo(chunk.WritableSpan);
            yield return chunk.WithLength(n);
        }
    }
}

/// <summary>An LLM that answers every request with <see cref="Answer"/> (first token after 200 ms, then a word per 30 ms) and records when it was asked.</summary>
internal sealed class EvalLlm(FakeTimeProvider time, DateTimeOffset start) : IChatModel
{
    public const string Answer = "Sure. Let me check that for you. It looks sunny all week, with a light breeze from the west.";

    public ConcurrentQueue<TimeSpan> Requests { get; } = new();

    public IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, CancellationToken cancellationToken)
    {
        Requests.Enqueue(time.GetUtcNow() - start);
        return PlayAsync(cancellationToken);
    }

    private async IAsyncEnumerable<string> PlayAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(200), time, cancellationToken).ConfigureAwait(false);
        var words = Answer.Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            if (i > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(30), time, cancellationToken).ConfigureAwait(false);
            }

            yield return i == 0 ? words[i] : " " + words[i];
        }
    }
}

/// <summary>
/// An oracle recogniser: it hears the words the scenario labels for the audio being pushed (one word per 250 ms of
/// speech as partials, all of them as the final), so turn-taking is judged apart from recognition errors. Noise and
/// silence have no words.
/// </summary>
internal sealed class OracleRecognizer(Func<string> wordsNow) : ISpeechRecognitionStream
{
    private readonly Channel<SpeechRecognitionResult> _results = Channel.CreateUnbounded<SpeechRecognitionResult>();
    private readonly List<string> _heard = [];
    private long _samples;
    private string _source = "";
    private int _count;

    public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        var before = _samples / 4000;
        _samples += samples.Length;
        var words = Words();
        if (_count < words.Length && _samples / 4000 > before)
        {
            _heard.Add(words[_count++]);
            _results.Writer.TryWrite(new SpeechRecognitionResult(string.Join(' ', _heard), false));
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask EndUtteranceAsync(CancellationToken cancellationToken)
    {
        var words = Words();
        while (_count < words.Length)
        {
            _heard.Add(words[_count++]);
        }

        _results.Writer.TryWrite(new SpeechRecognitionResult(string.Join(' ', _heard), true));
        _heard.Clear();
        _samples = 0;
        return ValueTask.CompletedTask;
    }

    /// <summary>The words under the audio now; a new segment starts counting from its first word (repeated words count).</summary>
    private string[] Words()
    {
        var now = wordsNow();
        if (now != _source)
        {
            _source = now;
            _count = 0;
        }

        return now.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    public IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken) => _results.Reader.ReadAllAsync(cancellationToken);

    public ValueTask DisposeAsync()
    {
        _results.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }
}
