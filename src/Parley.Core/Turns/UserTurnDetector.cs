using System.Globalization;
using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;

namespace Parley.Core.Turns;

/// <summary>Immutable settings of a <see cref="UserTurnDetector"/>.</summary>
public sealed record UserTurnDetectorOptions
{
    public const int MinPauseIntervalMs = 200;
    public const int MaxPauseIntervalMs = 2000;

    /// <summary>VAD state machine settings; <see cref="VadSegmenterOptions.SilenceDuration"/> is <c>VADSilenceSegmentation</c>.</summary>
    public VadSegmenterOptions Vad { get; init; } = new();

    /// <summary>
    /// The ASR <c>PauseInterval</c>: when longer than <c>VADSilenceSegmentation</c>, utterances separated by a pause
    /// shorter than this are stitched into one turn. Null (the default) turns stitching off.
    /// </summary>
    public TimeSpan? PauseInterval { get; init; }

    /// <summary>Audio before the detected speech start that is sent to the recogniser too (the first syllable).</summary>
    public TimeSpan PreRoll { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Stitching is on: <see cref="PauseInterval"/> is set and longer than the VAD silence.</summary>
    public bool Stitching => PauseInterval is { } pause && pause > Vad.SilenceDuration;

    /// <summary>Options from the contract's ASR settings (milliseconds; null = default / off; each must be in [200, 2000]).</summary>
    public static UserTurnDetectorOptions FromAsr(int? vadSilenceSegmentationMs, int? pauseIntervalMs)
    {
        if (pauseIntervalMs is < MinPauseIntervalMs or > MaxPauseIntervalMs)
        {
            throw new ArgumentOutOfRangeException(
                "PauseInterval", pauseIntervalMs, $"PauseInterval must be between {MinPauseIntervalMs} and {MaxPauseIntervalMs} ms.");
        }

        return new UserTurnDetectorOptions
        {
            Vad = VadSegmenterOptions.FromVadSilenceSegmentation(vadSilenceSegmentationMs),
            PauseInterval = pauseIntervalMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
        };
    }
}

/// <summary>
/// Hears the user's turns in a stream of 16 kHz mono PCM16: windows the audio for the VAD, drives a
/// <see cref="VadSegmenter"/>, streams each utterance (with <see cref="UserTurnDetectorOptions.PreRoll"/> of audio
/// before it) into one recognition stream, and emits <see cref="UserTurnEvent"/>s on <see cref="Events"/>: speech
/// start/end, transcript updates (full text, final once per turn), turn completion or an empty utterance.
/// With stitching (<see cref="UserTurnDetectorOptions.Stitching"/>) the utterances of a turn are recognised one by
/// one and joined; the final transcript and the completion wait until a pause of PauseInterval has passed.
/// Audio time drives every decision (so feed silence too: a paused stream pauses turn detection); event timestamps
/// come from the TimeProvider. Audio is windowed through fixed buffers: nothing is allocated per frame.
/// <see cref="PushAsync"/> must not be called concurrently. Owns the VAD and the recognition stream.
/// </summary>
public sealed class UserTurnDetector : IAsyncDisposable
{
    private const int SampleRate = 16000;
    private const long TicksPerSample = TimeSpan.TicksPerSecond / SampleRate;
    private const int MaxPiece = 512;

    private readonly Lock _gate = new();
    private readonly IVoiceActivityDetector _vad;
    private readonly ISpeechRecognitionStream _asr;
    private readonly TimeProvider _time;
    private readonly VadSegmenter _segmenter;
    private readonly bool _stitching;
    private readonly long _pauseSamples;
    private readonly long _preRollSamples;
    private readonly short[] _window;
    private readonly short[] _ring;
    private readonly Queue<Turn> _decoding = new();
    private readonly Channel<UserTurnEvent> _events = Channel.CreateUnbounded<UserTurnEvent>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _results;
    private readonly long _idBase = Random.Shared.NextInt64(1_000_000_000L, 2_000_000_000L);

    private int _windowFill;
    private long _windowStart;
    private long _total;
    private long _pushedUntil;
    private bool _inUtterance;
    private long _stitchDeadline = -1;
    private Turn? _turn;
    private long _turns;
    private bool _failed;
    private int _disposed;

    public UserTurnDetector(UserTurnDetectorOptions options, IVoiceActivityDetector vad, ISpeechRecognitionStream recognition, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(vad);
        ArgumentNullException.ThrowIfNull(recognition);
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (options.PreRoll < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.PreRoll, "PreRoll must not be negative.");
        }

        if (vad.WindowSamples <= 0)
        {
            throw new ArgumentException("The VAD's WindowSamples must be positive.", nameof(vad));
        }

        Options = options;
        _vad = vad;
        _asr = recognition;
        _time = timeProvider;
        _segmenter = new VadSegmenter(options.Vad with { WindowDuration = TimeSpan.FromTicks(vad.WindowSamples * TicksPerSample) });
        _stitching = options.Stitching;
        _pauseSamples = options.PauseInterval is { } pause ? pause.Ticks / TicksPerSample : 0;
        _preRollSamples = options.PreRoll.Ticks / TicksPerSample;
        _window = new short[vad.WindowSamples];

        // Holds the pre-roll, the speech before the start decision (MinSpeechDuration and a window), and one piece.
        var ringSamples = _preRollSamples + (options.Vad.MinSpeechDuration.Ticks / TicksPerSample) + (2 * vad.WindowSamples) + MaxPiece;
        _ring = new short[ringSamples];
        _results = Task.Run(() => ReadResultsAsync(_stop.Token));
    }

    public UserTurnDetectorOptions Options { get; }

    /// <summary>What was heard, in order. Completes when the detector is disposed.</summary>
    public ChannelReader<UserTurnEvent> Events => _events.Reader;

    /// <summary>
    /// Feeds 16 kHz mono PCM16 audio (any length; the room gives 20 ms frames). The samples are read before the
    /// returned task completes and not kept (the recogniser copies what it is given).
    /// </summary>
    public async ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        while (!samples.IsEmpty)
        {
            var piece = samples.Length > MaxPiece ? samples[..MaxPiece] : samples;
            samples = samples[piece.Length..];
            long from;
            long to;
            bool end;
            lock (_gate)
            {
                (from, end) = ProcessLocked(piece.Span);
                to = _total;
                if (from >= 0)
                {
                    _pushedUntil = to;
                }
            }

            if (from >= 0 && !_failed)
            {
                try
                {
                    await StreamRingAsync(from, to, cancellationToken).ConfigureAwait(false);
                    if (end)
                    {
                        await _asr.EndUtteranceAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Fail(ex);
                }
            }
        }
    }

    /// <summary>
    /// Reads frames until <paramref name="frames"/> completes or <paramref name="cancellationToken"/> fires, feeding
    /// and disposing each (ownership moves here). Frames must be 16 kHz.
    /// </summary>
    public async Task RunAsync(ChannelReader<AudioChunk> frames, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(frames);
        while (await frames.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (frames.TryRead(out var frame))
            {
                try
                {
                    if (frame.SampleRate != SampleRate)
                    {
                        throw new ArgumentException($"User audio frames must be {SampleRate} Hz, got {frame.SampleRate} Hz.", nameof(frames));
                    }

                    await PushAsync(frame.Memory, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    frame.Dispose();
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _results.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _asr.DisposeAsync().ConfigureAwait(false);

        // A PushAsync racing this dispose scores under the same lock: the native VAD is freed only between windows,
        // and never scored again after (ProcessLocked checks _disposed).
        lock (_gate)
        {
            _vad.Dispose();
        }

        _stop.Dispose();
        _events.Writer.TryComplete();
    }

    /// <summary>Runs one piece through the VAD; returns where to stream from (-1: nothing) and whether the utterance ended.</summary>
    private (long From, bool End) ProcessLocked(ReadOnlySpan<short> piece)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return (-1, false);
        }

        var begin = _total;
        var at = (int)(_total % _ring.Length);
        var first = Math.Min(piece.Length, _ring.Length - at);
        piece[..first].CopyTo(_ring.AsSpan(at));
        piece[first..].CopyTo(_ring);
        _total += piece.Length;

        long from = _inUtterance ? Math.Max(begin, _pushedUntil) : -1;
        var end = false;
        var rest = piece;
        while (!rest.IsEmpty)
        {
            var n = Math.Min(rest.Length, _window.Length - _windowFill);
            rest[..n].CopyTo(_window.AsSpan(_windowFill));
            _windowFill += n;
            rest = rest[n..];
            if (_windowFill < _window.Length)
            {
                break;
            }

            var probability = _vad.Score(_window);
            var vadEvent = _segmenter.Process(probability, TimeSpan.FromTicks(_windowStart * TicksPerSample));
            _windowStart += _window.Length;
            _windowFill = 0;
            if (vadEvent.Kind == VadEventKind.SpeechStarted)
            {
                from = OnSpeechStartedLocked(vadEvent.SpeechBoundary.Ticks / TicksPerSample);
                end = false;
            }
            else if (vadEvent.Kind == VadEventKind.SpeechEnded)
            {
                OnSpeechEndedLocked(vadEvent.SpeechBoundary.Ticks / TicksPerSample);
                end = true;
            }
        }

        if (_stitchDeadline >= 0 && _total >= _stitchDeadline && _segmenter.Phase == VadPhase.Quiet && _turn is { } turn)
        {
            _stitchDeadline = -1;
            _turn = null;
            CloseLocked(turn);
        }

        return (from, end);
    }

    private long OnSpeechStartedLocked(long boundary)
    {
        var now = _time.GetUtcNow();
        if (_turn is null)
        {
            _turns++;
            _turn = new Turn((_idBase + _turns).ToString(CultureInfo.InvariantCulture), now);
        }

        _stitchDeadline = -1;
        _turn.Open++;
        _decoding.Enqueue(_turn);
        _inUtterance = true;
        Emit(new UserSpeechStarted(now));
        return Math.Max(Math.Max(boundary - _preRollSamples, _total - _ring.Length), Math.Max(_pushedUntil, 0));
    }

    private void OnSpeechEndedLocked(long boundary)
    {
        _inUtterance = false;
        var turn = _turn!;
        turn.SpeechEndedAt = _time.GetUtcNow();
        Emit(new UserSpeechEnded(turn.SpeechEndedAt));
        if (_stitching)
        {
            _stitchDeadline = boundary + _pauseSamples;
        }
        else
        {
            _turn = null;
            CloseLocked(turn);
        }
    }

    private void CloseLocked(Turn turn)
    {
        turn.Closed = true;
        if (turn.Open == 0)
        {
            CompleteLocked(turn);
        }
    }

    private void CompleteLocked(Turn turn)
    {
        var now = _time.GetUtcNow();
        var text = turn.Finals.ToString();
        if (text.Length == 0)
        {
            Emit(new EmptyUtterance(now, turn.MessageId));
            return;
        }

        Emit(new TranscriptUpdated(now, turn.MessageId, text, IsFinal: true));
        Emit(new UserTurnCompleted(now, turn.MessageId, text, new UserTurnTimes(turn.SpeechStartedAt, turn.SpeechEndedAt, turn.FinalAt)));
    }

    private async ValueTask StreamRingAsync(long from, long to, CancellationToken cancellationToken)
    {
        while (from < to)
        {
            var at = (int)(from % _ring.Length);
            var n = (int)Math.Min(to - from, _ring.Length - at);
            await _asr.PushAsync(_ring.AsMemory(at, n), cancellationToken).ConfigureAwait(false);
            from += n;
        }
    }

    private async Task ReadResultsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var result in _asr.Results(cancellationToken).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    OnResultLocked(result);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    private void OnResultLocked(SpeechRecognitionResult result)
    {
        if (!_decoding.TryPeek(out var turn))
        {
            return; // a result with no utterance in flight (recogniser quirk): nothing to attach it to
        }

        var text = result.Text.Trim();
        if (!result.IsFinal)
        {
            turn.Partial = text;
            EmitPartialLocked(turn);
            return;
        }

        _decoding.Dequeue();
        turn.Open--;
        turn.Partial = string.Empty;
        turn.FinalAt = _time.GetUtcNow();
        if (text.Length > 0)
        {
            turn.Finals.Append(turn.Finals.Length > 0 ? " " : string.Empty).Append(text);
        }

        if (turn.Closed && turn.Open == 0)
        {
            CompleteLocked(turn);
        }
        else
        {
            EmitPartialLocked(turn);
        }
    }

    private void EmitPartialLocked(Turn turn)
    {
        var text = turn.Partial.Length == 0 ? turn.Finals.ToString()
            : turn.Finals.Length == 0 ? turn.Partial
            : $"{turn.Finals} {turn.Partial}";
        if (text.Length == 0 || text == turn.LastSent)
        {
            return;
        }

        turn.LastSent = text;
        Emit(new TranscriptUpdated(_time.GetUtcNow(), turn.MessageId, text, IsFinal: false));
    }

    private void Fail(Exception ex)
    {
        lock (_gate)
        {
            if (_failed || Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            _failed = true;
            Emit(new RecognitionFailed(_time.GetUtcNow(), $"Speech recognition failed: {ex.Message}"));
        }
    }

    private void Emit(UserTurnEvent e) => _events.Writer.TryWrite(e);

    /// <summary>One user turn (one or more stitched utterances). Guarded by the detector's lock.</summary>
    private sealed class Turn(string messageId, DateTimeOffset speechStartedAt)
    {
        public string MessageId { get; } = messageId;

        public DateTimeOffset SpeechStartedAt { get; } = speechStartedAt;

        public DateTimeOffset SpeechEndedAt { get; set; }

        public DateTimeOffset FinalAt { get; set; }

        /// <summary>Utterances streamed to the recogniser whose final result has not arrived.</summary>
        public int Open { get; set; }

        /// <summary>No more utterances will join.</summary>
        public bool Closed { get; set; }

        public System.Text.StringBuilder Finals { get; } = new();

        public string Partial { get; set; } = string.Empty;

        public string LastSent { get; set; } = string.Empty;
    }
}
