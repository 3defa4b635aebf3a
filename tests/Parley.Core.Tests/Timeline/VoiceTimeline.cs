using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Agents;
using Parley.Core.Input;
using Parley.Core.Output;
using Parley.Core.Sessions;
using Parley.Core.Turns;

namespace Parley.Core.Tests.Timeline;

/// <summary>
/// A whole instance's voice loop (<see cref="VoiceAgent"/>: input pipeline, session, LLM stage, TTS output, sink) on a
/// fake clock, livekit-style: script user speech (<see cref="UserSays"/>), LLM replies (<see cref="Llm"/>) and the TTS
/// (<see cref="Tts"/>), run to a time, then read what was heard, said and played when. No sockets, no sleeps: the clock
/// moves in 5 ms steps, and between steps the harness waits until the thread pool has nothing queued.
/// </summary>
internal sealed class VoiceTimeline : IAsyncDisposable
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(5);

    private readonly Channel<AudioChunk> _mic = Channel.CreateUnbounded<AudioChunk>();
    private readonly List<(TimeSpan At, TimeSpan For, string Text)> _speech = [];
    private readonly Task _pump;
    private TimeSpan _now;
    private TimeSpan _micSent;
    private bool _attached;
    private readonly ObservedReader _reader;

    public VoiceTimeline(
        InterruptionPolicy? interruption = null,
        UserInputOptions? turns = null,
        TimeSpan? llmStall = null,
        TimeSpan? lookahead = null,
        bool attachMedia = true,
        bool textOnly = false,
        bool walkieTalkie = false,
        Func<TimelineRecognizer, ISpeechRecognitionStream>? openRecognition = null,
        Parley.Core.Text.MetaInfoRules? metaInfo = null)
    {
        _reader = new ObservedReader(_mic.Reader);
        Time = new FakeTimeProvider(T0);
        Llm = new TimelineLlm(Time);
        Tts = new ScriptedTts(Time);
        Sink = new FakeAudioSink(Time, T0);
        Turns = turns ?? new UserInputOptions { Vad = new VadSegmenterOptions { SilenceDuration = TimeSpan.FromMilliseconds(500) } };
        Agent = new VoiceAgent(
            new VoiceAgentOptions
            {
                Session = new AgentSessionOptions
                {
                    Identity = new SessionIdentity("i1", "room", "agent", "user"),
                    Llm = new LlmSettings("http://llm.invalid", "k", "m", null, 0.7, 0.9, null, false),
                    Interruption = interruption ?? InterruptionPolicy.Default,
                    LlmStallTimeout = llmStall ?? TimeSpan.FromSeconds(15),
                    MetaInfo = metaInfo,
                },
                SpeechLookahead = lookahead ?? TimeSpan.FromMilliseconds(300),
                TextOnly = textOnly,
                WalkieTalkie = walkieTalkie,
            },
            Llm,
            Time);
        Agent.UpdateVoice(new TtsVoice(Tts, null, [], null));
        Recognizer = new TimelineRecognizer();
        var open = openRecognition ?? (r => r);
        Agent.UpdateListening(() => new ListeningSetup(Turns, () => new TimelineVad(), () => open(Recognizer)));
        Agent.RecognitionFailed += f => RecognitionFailures.Add(f);
        _pump = Task.Run(PumpAsync);
        if (attachMedia)
        {
            AttachMedia();
        }
    }

    public FakeTimeProvider Time { get; }

    public TimelineLlm Llm { get; }

    public ScriptedTts Tts { get; }

    public FakeAudioSink Sink { get; }

    public UserInputOptions Turns { get; }

    public VoiceAgent Agent { get; }

    public AgentSession Session => Agent.Session;

    public TimelineRecognizer Recognizer { get; }

    public List<RecognitionFailed> RecognitionFailures { get; } = [];

    /// <summary>Session events with the (fake) time they were read at.</summary>
    public List<(TimeSpan At, SessionEvent Event)> Events { get; } = [];

    public TimeSpan Now => _now;

    public void AttachMedia()
    {
        Agent.AttachMedia(new VoiceMedia(_reader, Sink));
        _attached = true;
    }

    /// <summary>The user speaks at <paramref name="at"/> for <paramref name="duration"/>; the recogniser hears <paramref name="text"/>.</summary>
    public VoiceTimeline UserSays(TimeSpan at, TimeSpan duration, string text)
    {
        _speech.Add((at, duration, text));
        Recognizer.Expect(text);
        return this;
    }

    /// <summary>The user speaks but nothing is expected to be recognised (the recogniser's script is not touched).</summary>
    public VoiceTimeline UserSpeaksUnheard(TimeSpan at, TimeSpan duration)
    {
        _speech.Add((at, duration, string.Empty));
        return this;
    }

    /// <summary>Moves the clock to <paramref name="until"/>, feeding the microphone (speech or silence) every 20 ms.</summary>
    public async Task RunUntilAsync(TimeSpan until)
    {
        while (_now < until)
        {
            while (_micSent <= _now)
            {
                _mic.Writer.TryWrite(MicFrame(_micSent));
                _micSent += TimeSpan.FromMilliseconds(20);
            }

            await DrainMicrophoneAsync();
            await SettleAsync();
            Time.Advance(Step);
            _now += Step;
            await SettleAsync();
        }
    }

    /// <summary>Moves the clock until <paramref name="condition"/> holds (fails after <paramref name="max"/> more).</summary>
    public async Task RunUntilAsync(Func<bool> condition, TimeSpan max)
    {
        var end = _now + max;
        while (!condition())
        {
            Assert.True(_now < end, $"still not there at {_now.TotalMilliseconds} ms");
            await RunUntilAsync(_now + Step);
        }
    }

    public Task RunForAsync(TimeSpan duration) => RunUntilAsync(_now + duration);

    public T First<T>(Func<T, bool>? match = null) where T : SessionEvent =>
        Events.Select(e => e.Event).OfType<T>().First(e => match?.Invoke(e) ?? true);

    public TimeSpan TimeOf<T>(Func<T, bool>? match = null) where T : SessionEvent =>
        Events.First(e => e.Event is T t && (match?.Invoke(t) ?? true)).At;

    public IEnumerable<T> All<T>() where T : SessionEvent => Events.Select(e => e.Event).OfType<T>();

    /// <summary>Frames of agent audio that left the sink after <paramref name="at"/>.</summary>
    public int FramesPlayedAfter(TimeSpan at) => Sink.Played.Count(f => f.At > at && f.Marker != 0);

    public async ValueTask DisposeAsync()
    {
        _mic.Writer.TryComplete();
        await Agent.DisposeAsync();
        await _pump;
        Sink.Dispose();
    }

    private AudioChunk MicFrame(TimeSpan at)
    {
        var speaking = _speech.Any(s => at >= s.At && at < s.At + s.For);
        var chunk = AudioChunk.Rent(320, 16000);
        var span = chunk.WritableSpan[..320];
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = speaking ? (short)(i % 2 == 0 ? 1000 : -1000) : (short)0;
        }

        return chunk.WithLength(320);
    }

    private async Task PumpAsync()
    {
        await foreach (var e in Session.Events.ReadAllAsync())
        {
            lock (Events)
            {
                Events.Add((_now, e));
            }
        }
    }

    /// <summary>
    /// Lets the work started by the last step finish: every task of the loop waits on the fake clock, on the
    /// microphone channel or on another task, so once the pool has stayed empty for a few yields, the step is done.
    /// </summary>
    /// <summary>
    /// Waits (at most 5 s of real time) until the input pipeline has processed every microphone frame written so far
    /// (it is back waiting for the next one): on a loaded machine its loop can be mid-frame while the pool looks empty,
    /// and the fake clock must not run ahead of it.
    /// </summary>
    private async Task DrainMicrophoneAsync()
    {
        var deadline = Environment.TickCount64 + 5000;
        while (_attached && !_reader.Parked && Environment.TickCount64 < deadline)
        {
            await Task.Yield();
            Thread.Yield();
        }
    }

    private static async Task SettleAsync()
    {
        var quiet = 0;
        for (var i = 0; i < 2000 && quiet < 4; i++)
        {
            await Task.Yield();
            Thread.Yield();
            quiet = ThreadPool.PendingWorkItemCount == 0 ? quiet + 1 : 0;
        }
    }
}

/// <summary>
/// The microphone as the pipeline reads it, telling whether its reader is parked: it asked to wait for a frame after
/// taking the last one (so that frame's processing is finished) and nothing is queued.
/// </summary>
internal sealed class ObservedReader(ChannelReader<AudioChunk> inner) : ChannelReader<AudioChunk>
{
    private long _reads;
    private long _waitsAfterRead = -1;

    /// <summary>Nothing queued, and the reader waited after its last read.</summary>
    public bool Parked => inner.Count == 0 && Interlocked.Read(ref _waitsAfterRead) == Interlocked.Read(ref _reads);

    public override bool CanCount => true;

    public override int Count => inner.Count;

    public override Task Completion => inner.Completion;

    public override bool TryRead(out AudioChunk item)
    {
        if (inner.TryRead(out item))
        {
            Interlocked.Increment(ref _reads);
            return true;
        }

        return false;
    }

    public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Exchange(ref _waitsAfterRead, Interlocked.Read(ref _reads));
        return inner.WaitToReadAsync(cancellationToken);
    }
}
