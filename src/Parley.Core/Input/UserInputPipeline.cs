using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Abstractions.Media;
using Parley.Core.Turns;
using Parley.Media;

namespace Parley.Core.Input;

/// <summary>
/// Hears the user's turns in a stream of 16 kHz mono PCM16, in stages: the input processors (<see cref="IAudioInputProcessor"/>,
/// with the agent's played audio from <see cref="PushFarEnd"/> as their far-end reference) clean the audio in place;
/// the VAD windower scores it and finds speech; the pre-roll buffer keeps the audio before a speech start so each
/// utterance reaches the recogniser with <see cref="UserInputOptions.PreRoll"/> before it; the utterance recogniser
/// streams utterances into recognition streams (reopened after a failure, swapped by <see cref="UpdateRecognizer"/>);
/// the transcript assembler joins the results per turn; and the end-of-turn policy (<see cref="IEndOfTurnPolicy"/>:
/// silence or PauseInterval stitching by default) decides when a turn ends.
/// What was heard leaves as <see cref="UserTurnEvent"/>s on <see cref="Events"/>, one way.
/// Audio time drives every decision (so feed silence too: a paused stream pauses turn detection); event timestamps
/// come from the TimeProvider. Audio moves through fixed buffers: nothing is allocated per frame.
/// <see cref="PushAsync"/> must not be called concurrently; <see cref="PushFarEnd"/> may be called from any thread.
/// Owns the VAD, the recognition streams and the disposable input processors.
/// </summary>
public sealed partial class UserInputPipeline : IAsyncDisposable, IRecognitionListener
{
    /// <summary>
    /// Events waiting for the reader. A turn makes a handful (partials are deduplicated and come at the recogniser's
    /// pace, never per frame), so the bound is reached only when nobody reads: then events are dropped and counted in
    /// <see cref="DroppedEvents"/> rather than growing without limit or blocking the audio path.
    /// </summary>
    public const int EventCapacity = 1024;

    private const int SampleRate = 16000;
    private const long TicksPerSample = TimeSpan.TicksPerSecond / SampleRate;
    private const int MaxPiece = 512;

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly VadWindower _vad;
    private readonly PreRollBuffer _preRoll;
    private readonly AudioInputChain _processors;
    private readonly FarEndReference _farEnd;
    private readonly UtteranceRecognizer _recognizer;
    private readonly TranscriptAssembler _transcripts;
    private readonly bool _customEndOfTurn;
    private readonly IConversationView _conversation;
    private readonly long _preRollSamples;
    private IEndOfTurnPolicy _endOfTurn;
    private long _minSpeechSamples;
    private long _guardSpeechSamples;
    private UserInputOptions? _nextOptions;
    private readonly int _pieceLength;
    private readonly short[] _near = new short[MaxPiece];
    private readonly short[] _far = new short[MaxPiece];
    private readonly Channel<UserTurnEvent> _events = Channel.CreateBounded<UserTurnEvent>(
        new BoundedChannelOptions(EventCapacity) { SingleReader = true, SingleWriter = false, FullMode = BoundedChannelFullMode.Wait });

    // Guarded by _gate.
    private UserTurn? _turn;

    // The current utterance: whether the VAD is in it, its recognition stream, where its speech began (samples), and
    // whether it has lasted the interruption policy's minimum speech (its silent tail does not count).
    private bool _inUtterance;
    private RecognitionSession? _utteranceSession;
    private long _utteranceStart;
    private bool _sustained;
    private bool _guardSustained;
    private long _pushedUntil;

    private long _dropped;
    private int _disposed;

    /// <param name="options">Turn settings.</param>
    /// <param name="vad">The VAD (owned: disposed with the pipeline).</param>
    /// <param name="openRecognition">Opens a recognition stream: at once, and again after a failure.</param>
    /// <param name="timeProvider">Event timestamps and the reopen backoff.</param>
    /// <param name="processors">Input processors, in order (disposable ones are owned).</param>
    /// <param name="endOfTurn">The end-of-turn policy; default from <paramref name="options"/> (<see cref="UserInputOptions.CreateEndOfTurnPolicy"/>).</param>
    /// <param name="conversation">What a model-based policy may read; default empty.</param>
    public UserInputPipeline(
        UserInputOptions options,
        IVoiceActivityDetector vad,
        Func<ISpeechRecognitionStream> openRecognition,
        TimeProvider timeProvider,
        IEnumerable<IAudioInputProcessor>? processors = null,
        IEndOfTurnPolicy? endOfTurn = null,
        IConversationView? conversation = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(vad);
        ArgumentNullException.ThrowIfNull(openRecognition);
        ArgumentNullException.ThrowIfNull(timeProvider);
        options.Validate();
        Options = options;
        _time = timeProvider;
        _processors = new AudioInputChain(processors);
        _vad = new VadWindower(vad, options.Vad, SampleRate, options.SilenceGate);
        _pieceLength = Math.Min(MaxPiece, _vad.WindowSamples);
        _preRollSamples = options.PreRoll.Ticks / TicksPerSample;
        _minSpeechSamples = options.Interruption.MinSpeech.Ticks / TicksPerSample;
        _guardSpeechSamples = options.Interruption.EchoGuardMinSpeech.Ticks / TicksPerSample;

        _preRoll = new PreRollBuffer(RingSamples(options.Vad));
        _farEnd = new FarEndReference((int)(options.FarEndBuffer.Ticks / TicksPerSample));
        _customEndOfTurn = endOfTurn is not null;
        _endOfTurn = endOfTurn ?? options.CreateEndOfTurnPolicy();
        (_endOfTurn as IAudioEndOfTurnPolicy)?.Attach(Reconsider);
        _conversation = conversation ?? EmptyConversation.Instance;
        _transcripts = new TranscriptAssembler(timeProvider, Emit);
        _recognizer = new UtteranceRecognizer(_gate, openRecognition, timeProvider, options.RecognitionRetryDelay, options.MaxRecognitionRetryDelay, this);
        _listenOnDemand = options.ListenOnDemand;
        _recognizer.Start();
    }

    /// <summary>The settings in use (an update applies between turns).</summary>
    public UserInputOptions Options { get; private set; }

    /// <summary>What was heard, in order. Completes when the pipeline is disposed.</summary>
    public ChannelReader<UserTurnEvent> Events => _events.Reader;

    /// <summary>Events dropped because <see cref="Events"/> was not read (see <see cref="EventCapacity"/>).</summary>
    public long DroppedEvents => Interlocked.Read(ref _dropped);

    /// <summary>
    /// Feeds 16 kHz mono PCM16 audio (any length; the room gives 20 ms frames). The samples are read before the
    /// returned task completes and not kept or modified (the processors work on a copy).
    /// </summary>
    public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        // Synchronous while the VAD scores and the recogniser takes audio synchronously: no state machine per frame.
        while (!samples.IsEmpty)
        {
            var n = Math.Min(samples.Length, _pieceLength);
            if (!Process(samples.Span[..n], cancellationToken, out var decided, out var scoring))
            {
                return ContinueAfterVadAsync(scoring, n, samples[n..], cancellationToken);
            }

            samples = samples[n..];
            var pending = StreamDecided(decided, samples, cancellationToken);
            if (!pending.IsCompletedSuccessfully)
            {
                return pending;
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Reads frames until <paramref name="frames"/> completes or <paramref name="cancellationToken"/> fires, feeding
    /// and disposing each (ownership moves here). Frames must be 16 kHz.
    /// </summary>
    public async Task RunAsync(ChannelReader<AudioChunk> frames, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(frames);
        using var waiter = new ChannelWaiter<AudioChunk>(frames, cancellationToken); // no allocation per frame's wait
        while (await waiter.WaitToReadAsync().ConfigureAwait(false))
        {
            while (frames.TryRead(out var frame))
            {
                try
                {
                    if (frame.SampleRate != SampleRate)
                    {
                        throw new ArgumentException($"User audio frames must be {SampleRate} Hz, got {frame.SampleRate} Hz.", nameof(frames));
                    }

                    ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

                    // PushAsync inlined: this long-lived method's own awaits allocate nothing, where PushAsync's pooled
                    // continuations miss their per-core cache when hundreds of sessions wait on one VAD batch.
                    var samples = frame.Memory;
                    while (!samples.IsEmpty)
                    {
                        var n = Math.Min(samples.Length, _pieceLength);
                        if (!Process(samples.Span[..n], cancellationToken, out var decided, out var scoring))
                        {
                            float probability;
                            try
                            {
                                probability = await scoring.Score.ConfigureAwait(false);
                            }
                            catch (Exception e) when (_vad.IsDisposedFailure(e))
                            {
                                probability = float.NaN; // disposed while the window waited for its batch: no event
                            }

                            var (kind, boundary) = _vad.Complete(scoring, probability);
                            decided = Decide(kind, boundary, n);
                        }

                        samples = samples[n..];
                        if (decided.Session is { } session)
                        {
                            var (first, second) = _preRoll.Range(decided.From, _preRoll.Total);
                            for (var stage = 0; stage < 3; stage++)
                            {
                                await Stream(session, stage, first, second, decided.End, cancellationToken).ConfigureAwait(false);
                            }
                        }
                    }
                }
                finally
                {
                    frame.Dispose();
                }
            }
        }
    }

    /// <summary>
    /// The agent's own audio as it is played (16 kHz mono PCM16), the far-end reference of the input processors. It
    /// lines up with the user's audio by sample count: it is placed at the user-audio position reached when pushed.
    /// Copied; any thread.
    /// </summary>
    public void PushFarEnd(ReadOnlySpan<short> played) => _farEnd.Push(played);

    /// <summary>
    /// Swaps the recogniser of the running pipeline (e.g. an instance's ASR settings were updated): the new stream opens
    /// now and hears from the next utterance on; an utterance in progress finishes on the old one. With
    /// <paramref name="options"/>, the VAD settings, the PauseInterval (unless the pipeline was given its own end-of-turn
    /// policy) and the interruption policy change too, from the first moment no turn is open and the VAD is quiet;
    /// the pre-roll, far-end buffer and retry settings stay as built.
    /// </summary>
    public void UpdateRecognizer(Func<ISpeechRecognitionStream> openRecognition, UserInputOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentNullException.ThrowIfNull(openRecognition);
        if (options is not null)
        {
            options.Validate();
            lock (_gate)
            {
                _nextOptions = options;
            }
        }

        _recognizer.Update(openRecognition);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        DisposeListening();
        await _recognizer.DisposeAsync().ConfigureAwait(false);

        // A PushAsync racing this dispose processes and scores under the stages' own locks: native state is freed
        // only between pieces and never used after.
        _processors.Dispose();
        _vad.Dispose();
        _events.Writer.TryComplete();
    }

    /// <summary>One step of streaming a piece: 0 and 1 push the (at most two) ring segments, 2 ends the utterance.</summary>
    private ValueTask Stream(
        RecognitionSession session, int stage, ReadOnlyMemory<short> first, ReadOnlyMemory<short> second, bool end, CancellationToken cancellationToken) => stage switch
    {
        0 when !first.IsEmpty => _recognizer.PushAsync(session, first, cancellationToken),
        1 when !second.IsEmpty => _recognizer.PushAsync(session, second, cancellationToken),
        2 when end => _recognizer.EndUtteranceAsync(session, cancellationToken),
        _ => ValueTask.CompletedTask,
    };

    /// <summary>
    /// Streams what one piece's decision gave to the recogniser; completes synchronously unless the recogniser makes it
    /// wait (then the rest of the push, <paramref name="rest"/>, continues after it).
    /// </summary>
    private ValueTask StreamDecided((RecognitionSession? Session, long From, bool End) decided, ReadOnlyMemory<short> rest, CancellationToken cancellationToken)
    {
        if (decided.Session is not { } session)
        {
            return ValueTask.CompletedTask;
        }

        var (first, second) = _preRoll.Range(decided.From, _preRoll.Total);
        for (var stage = 0; stage < 3; stage++)
        {
            var pending = Stream(session, stage, first, second, decided.End, cancellationToken);
            if (!pending.IsCompletedSuccessfully)
            {
                return ContinueAsync(pending, session, stage, first, second, decided.End, rest, cancellationToken);
            }

            pending.GetAwaiter().GetResult();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The rest of <see cref="PushAsync"/> once the VAD's score is still to come (a batched VAD): the decision and its
    /// streaming run when it arrives (nothing else touches the stages meanwhile: pushes are sequential). Pooled: no
    /// allocation per window.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ContinueAfterVadAsync(
        VadWindower.PendingScore scoring, int pieceLength, ReadOnlyMemory<short> rest, CancellationToken cancellationToken)
    {
        float probability;
        try
        {
            probability = await scoring.Score.ConfigureAwait(false);
        }
        catch (Exception e) when (_vad.IsDisposedFailure(e))
        {
            probability = float.NaN; // disposed while the window waited for its batch: no event
        }

        var (kind, boundary) = _vad.Complete(scoring, probability);
        var decided = Decide(kind, boundary, pieceLength);
        await StreamDecided(decided, ReadOnlyMemory<short>.Empty, cancellationToken).ConfigureAwait(false);
        if (!rest.IsEmpty)
        {
            await PushAsync(rest, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The rest of <see cref="PushAsync"/> once the recogniser made it wait (the ring is not written meanwhile).</summary>
    private async ValueTask ContinueAsync(
        ValueTask pending,
        RecognitionSession session,
        int stage,
        ReadOnlyMemory<short> first,
        ReadOnlyMemory<short> second,
        bool end,
        ReadOnlyMemory<short> rest,
        CancellationToken cancellationToken)
    {
        await pending.ConfigureAwait(false);
        for (stage++; stage < 3; stage++)
        {
            await Stream(session, stage, first, second, end, cancellationToken).ConfigureAwait(false);
        }

        await PushAsync(rest, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs one piece through the stages before the recogniser. True: <paramref name="decided"/> is what to stream (null
    /// session: nothing). False: the VAD's score is still to come (<paramref name="scoring"/>); finish with <see cref="VadWindower.Complete"/> and <see cref="Decide"/>.
    /// </summary>
    private bool Process(
        ReadOnlySpan<short> piece,
        CancellationToken cancellationToken,
        out (RecognitionSession? Session, long From, bool End) decided,
        out VadWindower.PendingScore scoring)
    {
        scoring = default;
        var near = _near.AsSpan(0, piece.Length);
        piece.CopyTo(near);
        if (!_processors.IsEmpty)
        {
            var far = _far.AsSpan(0, piece.Length);
            _farEnd.Read(_preRoll.Total, far);
            _processors.Process(near, far);
        }

        _preRoll.Write(near);
        if (Volatile.Read(ref _nextOptions) is not null)
        {
            lock (_gate)
            {
                if (_nextOptions is { } next && _turn is null && !_inUtterance && _vad.Phase == VadPhase.Quiet)
                {
                    ApplyLocked(next);
                }
            }
        }

        if (_listenOnDemand && !ListeningPiece(piece.Length, out decided))
        {
            return true;
        }

        if (!_vad.TryPush(near, cancellationToken, out var vad, out scoring))
        {
            decided = default;
            return false;
        }

        decided = Decide(vad.Kind, vad.Boundary, piece.Length);
        return true;
    }

    /// <summary>What the VAD's event for one piece means for the turn; returns what to stream (null: nothing).</summary>
    private (RecognitionSession? Session, long From, bool End) Decide(VadEventKind kind, long boundary, int pieceLength)
    {
        lock (_gate)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return (null, 0, false);
            }

            var total = _preRoll.Total;
            (_endOfTurn as IAudioEndOfTurnPolicy)?.OnAudio(_near.AsSpan(0, pieceLength)); // still this piece: pushes are sequential
            var session = _inUtterance ? _utteranceSession : null;
            var from = Math.Max(total - pieceLength, _pushedUntil);
            var end = false;
            if (kind == VadEventKind.SpeechStarted)
            {
                session = OnSpeechStartedLocked(boundary);
                from = Math.Max(Math.Max(Math.Max(boundary - _preRollSamples, _preRoll.Oldest), _pushedUntil), _listenFrom);
            }
            else if (kind == VadEventKind.SpeechProvisional)
            {
                Emit(new UserSpeechProvisional(_time.GetUtcNow()));
            }
            else if (kind == VadEventKind.SpeechReleased)
            {
                Emit(new UserSpeechReleased(_time.GetUtcNow()));
            }
            else if (kind == VadEventKind.SpeechEnded)
            {
                session = _utteranceSession;
                end = true;
                OnSpeechEndedLocked(boundary);
            }

            if (_inUtterance && !_sustained && _vad.Phase == VadPhase.Speaking && total - _utteranceStart >= _minSpeechSamples)
            {
                _sustained = true;
                Emit(new UserSpeechSustained(_time.GetUtcNow(), TimeSpan.FromTicks((total - _utteranceStart) * TicksPerSample)));
            }

            if (_inUtterance && _sustained && !_guardSustained && _vad.Phase == VadPhase.Speaking && total - _utteranceStart >= _guardSpeechSamples)
            {
                _guardSustained = true;
                if (_guardSpeechSamples > _minSpeechSamples)
                {
                    Emit(new UserSpeechSustained(_time.GetUtcNow(), TimeSpan.FromTicks((total - _utteranceStart) * TicksPerSample)));
                }
            }

            if (!_listenOnDemand && !_inUtterance && _turn is { } open && _endOfTurn.OnAudioAdvanced(SnapshotLocked(open)) == EndOfTurn.End)
            {
                CloseLocked(open);
            }

            if (session is null)
            {
                return (null, 0, false);
            }

            _pushedUntil = total;
            return (session, from, end);
        }
    }

    /// <summary>The ring holds the pre-roll, the speech before the start decision (MinSpeechDuration and a window), and one piece.</summary>
    private int RingSamples(VadSegmenterOptions vad) =>
        checked((int)(_preRollSamples + (vad.MinSpeechDuration.Ticks / TicksPerSample) + (2 * _vad.WindowSamples) + MaxPiece));

    /// <summary>Takes updated settings between turns (the VAD is quiet: its state machine restarts from quiet).</summary>
    private void ApplyLocked(UserInputOptions next)
    {
        _nextOptions = null;
        _vad.Reconfigure(next.Vad);

        // A longer minimum speech needs more audio held before the start decision, or the utterance's start is lost.
        _preRoll.Grow(RingSamples(next.Vad));
        if (!_customEndOfTurn)
        {
            _endOfTurn = next.CreateEndOfTurnPolicy();
            (_endOfTurn as IAudioEndOfTurnPolicy)?.Attach(Reconsider);
        }

        _minSpeechSamples = next.Interruption.MinSpeech.Ticks / TicksPerSample;
        _guardSpeechSamples = next.Interruption.EchoGuardMinSpeech.Ticks / TicksPerSample;
        Options = Options with
        {
            Vad = next.Vad, PauseInterval = next.PauseInterval, UnfinishedClauseWait = next.UnfinishedClauseWait, Interruption = next.Interruption,
            EndOfTurnModel = next.EndOfTurnModel,
        };
    }

    private void Emit(UserTurnEvent e)
    {
        if (!_events.Writer.TryWrite(e) && Volatile.Read(ref _disposed) == 0)
        {
            Interlocked.Increment(ref _dropped);
        }
    }
}
