using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Abstractions.Media;
using Parley.Core.Output;
using Parley.Core.Sessions;
using Parley.Core.Turns;

namespace Parley.Core.Agents;

/// <summary>Settings of a <see cref="VoiceAgent"/>.</summary>
public sealed record VoiceAgentOptions
{
    public required AgentSessionOptions Session { get; init; }

    /// <summary>How much of a sentence may still be playing when the next sentence's synthesis starts.</summary>
    public TimeSpan SpeechLookahead { get; init; } = TimeSpan.FromMilliseconds(300);
}

/// <summary>What a voice agent listens with: a VAD and a recognition stream, and how it finds turns.</summary>
public sealed record ListeningSetup(UserTurnDetectorOptions Turns, IVoiceActivityDetector Vad, ISpeechRecognitionStream Recognition);

/// <summary>The media of a voice agent: the user's audio in (20 ms frames of 16 kHz PCM16, owned by the reader) and the sink for its speech.</summary>
public sealed record VoiceMedia(ChannelReader<AudioChunk> UserAudio, IAudioSink Output);

/// <summary>
/// The one owner of an agent instance's voice loop: it builds and owns the <see cref="AgentSession"/>, the input
/// pipeline (VAD → ASR → turns), the speech output (TTS → sink) and every long-lived task, and has one teardown
/// (<see cref="DisposeAsync"/>). It exists before its media: control calls work at once, speech waits for the audio
/// path (<see cref="DeferredSpeechOutput"/>) instead of being spoken into nothing, and voice or listening changes made
/// before the media arrives apply when it does.
/// </summary>
public sealed class VoiceAgent : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly VoiceAgentOptions _options;
    private readonly TimeProvider _time;
    private readonly DeferredSpeechOutput _speech = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private TtsVoice? _voice;
    private Func<ListeningSetup>? _listening;
    private TtsSpeechOutput? _output;
    private VoiceMedia? _media;
    private UserTurnDetector? _detector;
    private bool _disposed;

    public VoiceAgent(VoiceAgentOptions options, IChatModel model, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = timeProvider;
        Session = new AgentSession(options.Session, model, timeProvider, _speech);
    }

    /// <summary>The conversation (control calls, context, events).</summary>
    public AgentSession Session { get; }

    /// <summary>A recognition failure (the host reports it, e.g. as an exception callback); the turn in progress is dropped.</summary>
    public event Action<RecognitionFailed>? RecognitionFailed;

    /// <summary>The TTS failed on a sentence (vendor, error), for the host's log.</summary>
    public event Action<string, Exception>? SynthesisFailed;

    /// <summary>The voice in use (null before one is set).</summary>
    public TtsVoice? Voice
    {
        get
        {
            lock (_gate)
            {
                return _voice;
            }
        }
    }

    /// <summary>Sets the voice: from the next sentence when speaking, at once otherwise (also before the media is attached).</summary>
    public void UpdateVoice(TtsVoice voice)
    {
        ArgumentNullException.ThrowIfNull(voice);
        lock (_gate)
        {
            _voice = voice;
            _output?.UpdateVoice(voice);
        }
    }

    /// <summary>
    /// Sets how the agent listens (VAD, recogniser, turn options): before the media is attached it is used at the
    /// attach; while running the input pipeline is rebuilt at once (a turn in progress is dropped).
    /// </summary>
    public async ValueTask UpdateListeningAsync(Func<ListeningSetup> listening, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(listening);
        UserTurnDetector? old;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _listening = listening;
            if (_media is null)
            {
                return;
            }

            old = _detector;
            _detector = null;
        }

        if (old is not null)
        {
            await old.DisposeAsync().ConfigureAwait(false);
        }

        Session.AbandonUserTurn();
        lock (_gate)
        {
            if (!_disposed && _media is { } media)
            {
                StartListeningLocked(media);
            }
        }
    }

    /// <summary>The audio path is ready: speech (also speech that waited for it) goes to <paramref name="media"/>, and listening starts.</summary>
    public void AttachMedia(VoiceMedia media)
    {
        ArgumentNullException.ThrowIfNull(media);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_media is not null)
            {
                throw new InvalidOperationException("the media is already attached");
            }

            var voice = _voice ?? throw new InvalidOperationException("set a voice before attaching the media");
            _media = media;
            _output = new TtsSpeechOutput(media.Output, voice, _time) { Lookahead = _options.SpeechLookahead };
            _output.SynthesisFailed += (vendor, ex) => SynthesisFailed?.Invoke(vendor, ex);
            _speech.Attach(_output);
            StartListeningLocked(media);
        }
    }

    /// <summary>There will be no audio path (the join failed): waiting speech ends as text only.</summary>
    public void AbandonMedia() => _speech.Abandon();

    public async ValueTask DisposeAsync()
    {
        UserTurnDetector? detector;
        Task[] tasks;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            detector = _detector;
            _detector = null;
            tasks = [.. _tasks];
        }

        _speech.Abandon();
        await _stop.CancelAsync().ConfigureAwait(false);
        await Session.DisposeAsync().ConfigureAwait(false);
        if (detector is not null)
        {
            await detector.DisposeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(tasks).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private void StartListeningLocked(VoiceMedia media)
    {
        if (_listening is null)
        {
            return;
        }

        var setup = _listening();
        var detector = new UserTurnDetector(setup.Turns, setup.Vad, setup.Recognition, _time);
        _detector = detector;
        var token = _stop.Token;
        _tasks.RemoveAll(t => t.IsCompleted);
        _tasks.Add(Task.Run(() => Session.ListenAsync(detector.Events, f => RecognitionFailed?.Invoke(f), token), CancellationToken.None));
        _tasks.Add(Task.Run(() => FeedAsync(detector, media.UserAudio, token), CancellationToken.None));
    }

    /// <summary>Feeds the user's audio to the current detector; after a listening update the new one takes over.</summary>
    private async Task FeedAsync(UserTurnDetector detector, ChannelReader<AudioChunk> audio, CancellationToken cancellationToken)
    {
        try
        {
            while (await audio.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    if (_detector != detector)
                    {
                        return;
                    }
                }

                if (!audio.TryRead(out var frame))
                {
                    continue;
                }

                using (frame)
                {
                    await detector.PushAsync(frame.Memory, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // Stopped, or the detector was replaced by a listening update.
        }
    }
}
