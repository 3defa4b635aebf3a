using System.Runtime.CompilerServices;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Turns;

namespace Parley.Core.Input;

/// <summary>
/// Cuts audio into the VAD's fixed windows, scores each and runs the <see cref="VadSegmenter"/> over the scores.
/// Positions are in samples since the start. Fed with pieces no longer than one window, so each piece completes at
/// most one window and yields at most one event. Owns the VAD: it is scored and disposed under one lock, so a native
/// VAD is freed only between windows and never scored after (a push racing the dispose scores nothing).
/// A VAD that scores asynchronously (<see cref="IVoiceActivityDetector.ScoreAsync"/>: batched across sessions) is only
/// handed the window under the lock; its result is awaited outside it, and a dispose meanwhile gives no event.
/// Nothing is allocated per window: <see cref="TryPush"/> leaves the wait for a pending score to its caller (whose own
/// long-lived state machine awaits it), <see cref="PushAsync"/>'s continuation is pooled. Pushes must not be concurrent,
/// nor start before the previous one completed.
/// A <see cref="SilenceGate"/> decides whether a window is scored at all (a quiet stream is not run through the model)
/// and which probability the segmenter sees (0 for a gated window); when it opens, its pre-roll windows are scored
/// first, one after the other, so the model's state catches up with the audio before the onset.
/// </summary>
internal sealed class VadWindower : IDisposable
{
    private readonly Lock _scoring = new();
    private readonly IVoiceActivityDetector _vad;
    private VadSegmenter _segmenter;
    private VadSegmenterOptions _options;
    private readonly long _ticksPerSample;
    private readonly short[] _window;
    private readonly short[] _opening;
    private readonly SilenceGate _gate;
    private int _fill;
    private long _windowStart;
    private bool _disposed;

    public VadWindower(IVoiceActivityDetector vad, VadSegmenterOptions options, int sampleRate, SilenceGateOptions? gate = null)
    {
        ArgumentNullException.ThrowIfNull(vad);
        ArgumentNullException.ThrowIfNull(options);
        if (vad.WindowSamples <= 0)
        {
            throw new ArgumentException("The VAD's WindowSamples must be positive.", nameof(vad));
        }

        _vad = vad;
        _ticksPerSample = TimeSpan.TicksPerSecond / sampleRate;
        _segmenter = new VadSegmenter(options with { WindowDuration = TimeSpan.FromTicks(vad.WindowSamples * _ticksPerSample) });
        _options = options;
        _window = new short[vad.WindowSamples];
        _opening = new short[vad.WindowSamples];
        _gate = new SilenceGate(gate ?? new SilenceGateOptions(), vad.WindowSamples, TimeSpan.FromTicks(vad.WindowSamples * _ticksPerSample));
    }

    /// <summary>The energy gate in front of the model (diagnostics and tests).</summary>
    internal SilenceGate Gate => _gate;

    /// <summary>Samples per VAD window; pieces passed to <see cref="Push"/> must not be longer.</summary>
    public int WindowSamples => _window.Length;

    public VadPhase Phase => _segmenter.Phase;

    /// <summary>New segmenter settings, while <see cref="Phase"/> is quiet (between utterances); same thread as <see cref="Push"/>.</summary>
    public void Reconfigure(VadSegmenterOptions options)
    {
        if (_segmenter.Phase != VadPhase.Quiet)
        {
            throw new InvalidOperationException("The VAD can be reconfigured only between utterances.");
        }

        _segmenter = new VadSegmenter(options with { WindowDuration = TimeSpan.FromTicks(_window.Length * _ticksPerSample) });
        _options = options;
    }

    /// <summary>
    /// Starts again from quiet with the audio at sample <paramref name="position"/> (audio was not pushed meanwhile, e.g.
    /// outside a walkie-talkie listening window): the partial window and the model's state are dropped. Same thread as <see cref="Push"/>.
    /// </summary>
    public void Reset(long position)
    {
        _segmenter = new VadSegmenter(_options with { WindowDuration = TimeSpan.FromTicks(_window.Length * _ticksPerSample) });
        _fill = 0;
        _windowStart = position;
        _gate.Reset();
        lock (_scoring)
        {
            if (!_disposed)
            {
                _vad.Reset();
            }
        }
    }

    /// <summary>
    /// Adds a piece (at most <see cref="WindowSamples"/> long). Gives the event of the window it completed, with the
    /// speech boundary in samples, or <see cref="VadEventKind.None"/>; nothing once disposed. Completes synchronously
    /// unless the piece completed a window and the VAD scores it asynchronously; the piece is read before this returns.
    /// </summary>
    public ValueTask<(VadEventKind Kind, long Boundary)> PushAsync(ReadOnlySpan<short> piece, CancellationToken cancellationToken) =>
        TryPush(piece, cancellationToken, out var result, out var pending) ? new(result) : SegmentAsync(pending);

    /// <summary>
    /// <see cref="PushAsync"/> without a state machine of its own: true with the window's event when it is known now;
    /// false when the score is still to come, then the caller awaits <see cref="PendingScore.Score"/> and finishes with
    /// <see cref="Complete"/> (before the next push). A long-lived caller's own <c>await</c> allocates nothing, where the
    /// pooled boxes of <see cref="PushAsync"/>'s continuation miss their per-core cache when hundreds of sessions wait
    /// for one batch at once. The piece is read before this returns.
    /// </summary>
    public bool TryPush(ReadOnlySpan<short> piece, CancellationToken cancellationToken, out (VadEventKind Kind, long Boundary) result, out PendingScore pending)
    {
        if (piece.Length > _window.Length)
        {
            throw new ArgumentException("A piece must not be longer than one VAD window.", nameof(piece));
        }

        pending = default;
        var n = Math.Min(piece.Length, _window.Length - _fill);
        piece[..n].CopyTo(_window.AsSpan(_fill));
        _fill += n;
        if (_fill != _window.Length)
        {
            result = (VadEventKind.None, 0L);
            return true;
        }

        // The VAD has read the window once ScoreWindow returns (even when its score is still to come).
        pending = ScoreWindow(cancellationToken);
        piece[n..].CopyTo(_window);
        _fill = piece.Length - n;
        if (pending.Score.IsCompletedSuccessfully)
        {
            result = Complete(pending, pending.Score.Result);
            return true;
        }

        result = default;
        return false;
    }

    /// <summary>
    /// The event of a window whose score <see cref="TryPush"/> left pending, given what its score gave (the awaited
    /// probability; <see cref="float.NaN"/> when it failed with <see cref="ObjectDisposedException"/> because this
    /// windower was disposed meanwhile: see <see cref="IsDisposedFailure"/>).
    /// </summary>
    public (VadEventKind Kind, long Boundary) Complete(in PendingScore pending, float probability) =>
        Segment(pending.Raw ? AfterScored(probability, pending.Quiet) : probability);

    /// <summary>A pending score's failure that means "disposed while the window waited for its batch": no event.</summary>
    public bool IsDisposedFailure(Exception e) => e is ObjectDisposedException && Volatile.Read(ref _disposed);

    /// <summary>
    /// A window's score, possibly still to come. <see cref="Raw"/>: the model's own score, which the gate has not seen yet
    /// (<see cref="Complete"/> tells it); else already past the gate.
    /// </summary>
    public readonly record struct PendingScore(ValueTask<float> Score, bool Quiet, bool Raw);

    /// <summary><see cref="PushAsync"/> for a VAD that scores synchronously (blocks on an asynchronous one).</summary>
    public (VadEventKind Kind, long Boundary) Push(ReadOnlySpan<short> piece)
    {
        var pending = PushAsync(piece, CancellationToken.None);
        return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        lock (_scoring)
        {
            if (!_disposed)
            {
                _disposed = true;
                _vad.Dispose();
            }
        }
    }

    /// <summary>
    /// The window's speech probability (0 when the gate skipped it), or <see cref="float.NaN"/> when disposed (no event).
    /// Has read <see cref="_window"/> when it returns.
    /// </summary>
    private PendingScore ScoreWindow(CancellationToken cancellationToken)
    {
        var quiet = _segmenter.Phase == VadPhase.Quiet;
        if (!_gate.Admit(_window, quiet))
        {
            return new(new(0f), quiet, Raw: false);
        }

        if (_gate.PreRollCount > 0)
        {
            _window.CopyTo(_opening.AsSpan()); // the window is refilled when this returns; the pre-roll is scored first
            return new(ScoreOpeningAsync(quiet, cancellationToken), quiet, Raw: false);
        }

        lock (_scoring)
        {
            return _disposed ? new(new(float.NaN), quiet, Raw: false) : new(_vad.ScoreAsync(_window, cancellationToken), quiet, Raw: true);
        }
    }

    /// <summary>The gate opened: its pre-roll windows, oldest first, then the window that opened it (a copy), in order.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<float> ScoreOpeningAsync(bool quiet, CancellationToken cancellationToken)
    {
        ValueTask<float> score;
        for (var i = 0; i < _gate.PreRollCount; i++)
        {
            lock (_scoring)
            {
                if (_disposed)
                {
                    return float.NaN;
                }

                score = _vad.ScoreAsync(_gate.PreRoll(i), cancellationToken);
            }

            await score.ConfigureAwait(false); // the model's state catches up with the audio before the onset
        }

        lock (_scoring)
        {
            if (_disposed)
            {
                return float.NaN;
            }

            score = _vad.ScoreAsync(_opening, cancellationToken);
        }

        return AfterScored(await score.ConfigureAwait(false), quiet);
    }

    /// <summary>Tells the gate the model's probability; when the gate closes the model starts fresh (see <see cref="SilenceGate.Scored"/>).</summary>
    private float AfterScored(float probability, bool quiet)
    {
        if (!float.IsNaN(probability) && _gate.Scored(probability, quiet))
        {
            lock (_scoring)
            {
                if (!_disposed)
                {
                    _vad.Reset();
                }
            }
        }

        return probability;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<(VadEventKind, long)> SegmentAsync(PendingScore pending)
    {
        float probability;
        try
        {
            probability = await pending.Score.ConfigureAwait(false);
        }
        catch (Exception e) when (IsDisposedFailure(e))
        {
            probability = float.NaN; // disposed while the window waited for its batch
        }

        return Complete(pending, probability);
    }

    private (VadEventKind, long) Segment(float probability)
    {
        if (float.IsNaN(probability) || Volatile.Read(ref _disposed))
        {
            return (VadEventKind.None, 0);
        }

        var e = _segmenter.Process(probability, TimeSpan.FromTicks(_windowStart * _ticksPerSample));
        _windowStart += _window.Length;
        return (e.Kind, e.SpeechBoundary.Ticks / _ticksPerSample);
    }
}
