using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Turns;

namespace Parley.Core.Input;

/// <summary>
/// Cuts audio into the VAD's fixed windows, scores each and runs the <see cref="VadSegmenter"/> over the scores.
/// Positions are in samples since the start. Fed with pieces no longer than one window, so each piece completes at
/// most one window and yields at most one event. Owns the VAD: it is scored and disposed under one lock, so a native
/// VAD is freed only between windows and never scored after (a push racing the dispose scores nothing).
/// Nothing is allocated per window. <see cref="Push"/> must not be called concurrently. A <see cref="SilenceGate"/>
/// decides whether a window is scored at all (a quiet stream is not run through the model) and which probability the
/// segmenter sees (0 for a gated window).
/// </summary>
internal sealed class VadWindower : IDisposable
{
    private readonly Lock _scoring = new();
    private readonly IVoiceActivityDetector _vad;
    private VadSegmenter _segmenter;
    private VadSegmenterOptions _options;
    private readonly long _ticksPerSample;
    private readonly short[] _window;
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
    /// Adds a piece (at most <see cref="WindowSamples"/> long). Returns the event of the window it completed, with the
    /// speech boundary in samples, or <see cref="VadEventKind.None"/>; nothing once disposed.
    /// </summary>
    public (VadEventKind Kind, long Boundary) Push(ReadOnlySpan<short> piece)
    {
        if (piece.Length > _window.Length)
        {
            throw new ArgumentException("A piece must not be longer than one VAD window.", nameof(piece));
        }

        var n = Math.Min(piece.Length, _window.Length - _fill);
        piece[..n].CopyTo(_window.AsSpan(_fill));
        _fill += n;
        var result = (VadEventKind.None, 0L);
        if (_fill == _window.Length)
        {
            result = ScoreWindow();
            piece[n..].CopyTo(_window);
            _fill = piece.Length - n;
        }

        return result;
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

    private (VadEventKind, long) ScoreWindow()
    {
        var probability = 0f;
        var quiet = _segmenter.Phase == VadPhase.Quiet;
        if (_gate.Admit(_window, quiet))
        {
            lock (_scoring)
            {
                if (_disposed)
                {
                    return (VadEventKind.None, 0);
                }

                for (var i = 0; i < _gate.PreRollCount; i++)
                {
                    _vad.Score(_gate.PreRoll(i)); // the model's state catches up with the audio before the onset
                }

                probability = _vad.Score(_window);
            }

            if (_gate.Scored(probability, quiet))
            {
                lock (_scoring)
                {
                    if (!_disposed)
                    {
                        _vad.Reset(); // the gate closed: the model starts fresh when it opens (see SilenceGate.Scored)
                    }
                }
            }
        }

        var e = _segmenter.Process(probability, TimeSpan.FromTicks(_windowStart * _ticksPerSample));
        _windowStart += _window.Length;
        return (e.Kind, e.SpeechBoundary.Ticks / _ticksPerSample);
    }
}
