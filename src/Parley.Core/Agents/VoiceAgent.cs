using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Abstractions.Media;
using Parley.Core.Input;
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

    /// <summary>
    /// A text-only agent (<c>AdvancedConfig.DisableTTS</c>): replies are "played" as text only
    /// (<see cref="TextOnlySpeechOutput"/>): no synthesis, nothing reaches the media's output; no voice is needed.
    /// The media is still attached for listening.
    /// </summary>
    public bool TextOnly { get; init; }

    /// <summary>
    /// Walkie-talkie mode (<c>AdvancedConfig.CommunicationMode</c> 2): the user is heard only between
    /// <see cref="VoiceAgent.StartListening"/> and <see cref="VoiceAgent.StopListening"/> (<see cref="UserInputOptions.ListenOnDemand"/>).
    /// </summary>
    public bool WalkieTalkie { get; init; }
}

/// <summary>
/// What a voice agent listens with: how it finds turns, how to make its VAD, and how to open a recognition stream
/// (at once, again after a vendor failure, and after an update); optionally the input processors (echo cancellation,
/// noise suppression) that clean the user's audio first, with the agent's played audio as their far-end reference.
/// </summary>
public sealed record ListeningSetup(
    UserInputOptions Input,
    Func<IVoiceActivityDetector> CreateVad,
    Func<ISpeechRecognitionStream> OpenRecognition,
    Func<IReadOnlyList<IAudioInputProcessor>>? CreateProcessors = null);

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
    private PlayedAudioTap? _played;
    private UserInputPipeline? _pipeline;
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
    /// Sets how the agent listens (recogniser and turn options): before the media is attached it is used at the
    /// attach; while running the new recogniser takes over from the next utterance and the turn options apply at the
    /// next moment no turn is open (the turn in progress is kept).
    /// </summary>
    public void UpdateListening(Func<ListeningSetup> listening)
    {
        ArgumentNullException.ThrowIfNull(listening);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _listening = listening;
            if (_pipeline is { } pipeline)
            {
                var setup = listening();
                pipeline.UpdateRecognizer(setup.OpenRecognition, WithInterruption(setup.Input));
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

            if (_options.TextOnly)
            {
                _media = media;
                _speech.Attach(TextOnlySpeechOutput.Instance);
                StartListeningLocked(media);
                return;
            }

            var voice = _voice ?? throw new InvalidOperationException("set a voice before attaching the media");
            _media = media;
            _played = new PlayedAudioTap(media.Output);
            _output = new TtsSpeechOutput(_played, voice, _time) { Lookahead = _options.SpeechLookahead };
            _output.SynthesisFailed += (vendor, ex) => SynthesisFailed?.Invoke(vendor, ex);
            _speech.Attach(_output);
            StartListeningLocked(media);
        }
    }

    /// <summary>There will be no audio path (the join failed): waiting speech ends as text only.</summary>
    public void AbandonMedia() => _speech.Abandon();

    public async ValueTask DisposeAsync()
    {
        UserInputPipeline? pipeline;
        Task[] tasks;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            pipeline = _pipeline;
            _pipeline = null;
            tasks = [.. _tasks];
        }

        _speech.Abandon();
        await _stop.CancelAsync().ConfigureAwait(false);
        await Session.DisposeAsync().ConfigureAwait(false);
        if (pipeline is not null)
        {
            await pipeline.DisposeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(tasks).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    /// <summary>
    /// Walkie-talkie mode: the agent hears the user from now on. Starting does not interrupt the agent by itself; speech
    /// inside the window barges in as the interruption policy says. False when there is no user audio yet (the media
    /// is not attached: the user is not publishing) or the agent was not built with <see cref="VoiceAgentOptions.WalkieTalkie"/>.
    /// </summary>
    public bool StartListening()
    {
        lock (_gate)
        {
            if (!_options.WalkieTalkie || _pipeline is not { } pipeline)
            {
                return false;
            }

            pipeline.StartListening();
            return true;
        }
    }

    /// <summary>
    /// Walkie-talkie mode: the agent stops hearing the user and answers what was heard since <see cref="StartListening"/>
    /// at once (no silence wait; nothing heard, no reply). True also when it was not listening; false when not in walkie-talkie mode.
    /// </summary>
    public bool StopListening()
    {
        lock (_gate)
        {
            if (!_options.WalkieTalkie)
            {
                return false;
            }

            _pipeline?.StopListening();
            return true;
        }
    }

    /// <summary>The pipeline reports sustained speech by the session's interruption policy (and listens on demand in walkie-talkie mode).</summary>
    private UserInputOptions WithInterruption(UserInputOptions input) =>
        input with { Interruption = _options.Session.Interruption, ListenOnDemand = _options.WalkieTalkie };

    private void StartListeningLocked(VoiceMedia media)
    {
        if (_listening is null)
        {
            return;
        }

        var setup = _listening();
        var pipeline = new UserInputPipeline(WithInterruption(setup.Input), setup.CreateVad(), setup.OpenRecognition, _time, setup.CreateProcessors?.Invoke());
        _pipeline = pipeline;
        var token = _stop.Token;

        // The echo reference: what the sink played reaches the pipeline's far end before each microphone frame.
        var mic = _played is { } played ? new PlayedAudioTap.FeedingReader(media.UserAudio, played, pipeline) : media.UserAudio;
        _tasks.Add(Task.Run(() => Session.ListenAsync(pipeline.Events, f => RecognitionFailed?.Invoke(f), token), CancellationToken.None));
        _tasks.Add(Task.Run(() => pipeline.RunAsync(mic, token), CancellationToken.None));
    }
}
