namespace Parley.Core.Turns;

/// <summary>Phase of the <see cref="VadSegmenter"/> state machine.</summary>
public enum VadPhase
{
    /// <summary>No speech.</summary>
    Quiet,

    /// <summary>Speech-like windows seen, not yet long enough to count as speech.</summary>
    Starting,

    /// <summary>The user is speaking.</summary>
    Speaking,

    /// <summary>Silence after speech, not yet long enough to end it.</summary>
    Stopping,
}

public enum VadEventKind
{
    None,
    SpeechStarted,
    SpeechEnded,

    /// <summary>Speech-like audio began, not yet long enough to be speech (a provisional start: pause, do not interrupt).</summary>
    SpeechProvisional,

    /// <summary>A provisional start fell back to quiet before it became speech (a false start).</summary>
    SpeechReleased,
}

/// <summary>
/// What one window changed. <see cref="At"/> is when the decision was made (the end of the window that decided it);
/// <see cref="SpeechBoundary"/> is where speech actually began (for <see cref="VadEventKind.SpeechStarted"/>) or ended
/// (for <see cref="VadEventKind.SpeechEnded"/>): the start of the first speech window, or the end of the last confident
/// speech window (at or above the activation threshold) before the silence.
/// </summary>
public readonly record struct VadEvent(VadEventKind Kind, TimeSpan At, TimeSpan SpeechBoundary)
{
    public static VadEvent None => default;

    public bool IsNone => Kind == VadEventKind.None;
}

/// <summary>Immutable settings of the <see cref="VadSegmenter"/>.</summary>
public sealed record VadSegmenterOptions
{
    /// <summary>Probability at or above which a window counts as speech when not speaking (or resumes speech while stopping).</summary>
    public float ActivationThreshold { get; init; } = 0.5f;

    /// <summary>Probability below which a window counts as silence while speaking (hysteresis under the activation).</summary>
    public float DeactivationThreshold { get; init; } = 0.35f;

    /// <summary>Speech must last this long before <see cref="VadEventKind.SpeechStarted"/>; shorter bursts are noise.</summary>
    public TimeSpan MinSpeechDuration { get; init; } = TimeSpan.FromMilliseconds(150);

    /// <summary>
    /// A dip below the deactivation threshold inside the onset (before <see cref="MinSpeechDuration"/> is reached) that
    /// lasts no longer than this does not drop back to quiet (the stop consonant in "Stop please").
    /// </summary>
    public TimeSpan OnsetDipTolerance { get; init; } = TimeSpan.FromMilliseconds(96);

    /// <summary>Speech-like audio this long gives <see cref="VadEventKind.SpeechProvisional"/> (0: at the first window).</summary>
    public TimeSpan ProvisionalDuration { get; init; } = TimeSpan.Zero;

    /// <summary>Silence that ends speech (an utterance), counted from the end of the last confident speech window.</summary>
    public TimeSpan SilenceDuration { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Duration of one scored window (Silero: 512 samples at 16 kHz = 32 ms).</summary>
    public TimeSpan WindowDuration { get; init; } = TimeSpan.FromSeconds(512 / 16000.0);

    internal void Validate()
    {
        if (ActivationThreshold is <= 0f or > 1f || float.IsNaN(ActivationThreshold))
        {
            throw new ArgumentOutOfRangeException(nameof(ActivationThreshold), ActivationThreshold, "ActivationThreshold must be in (0, 1].");
        }

        if (DeactivationThreshold < 0f || DeactivationThreshold > ActivationThreshold || float.IsNaN(DeactivationThreshold))
        {
            throw new ArgumentOutOfRangeException(
                nameof(DeactivationThreshold), DeactivationThreshold, "DeactivationThreshold must be in [0, ActivationThreshold].");
        }

        if (MinSpeechDuration < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MinSpeechDuration), MinSpeechDuration, "MinSpeechDuration must not be negative.");
        }

        if (OnsetDipTolerance < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(OnsetDipTolerance), OnsetDipTolerance, "OnsetDipTolerance must not be negative.");
        }

        if (ProvisionalDuration < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ProvisionalDuration), ProvisionalDuration, "ProvisionalDuration must not be negative.");
        }

        if (SilenceDuration <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(SilenceDuration), SilenceDuration, "SilenceDuration must be positive.");
        }

        if (WindowDuration <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(WindowDuration), WindowDuration, "WindowDuration must be positive.");
        }
    }
}

/// <summary>
/// Turns per-window speech probabilities into speech start and end events with a small state machine:
/// quiet → starting (a window at or above the activation threshold; <see cref="VadEventKind.SpeechProvisional"/> once it
/// lasted <see cref="VadSegmenterOptions.ProvisionalDuration"/>) → speaking (speech lasted
/// <see cref="VadSegmenterOptions.MinSpeechDuration"/>; a dip below the deactivation threshold longer than
/// <see cref="VadSegmenterOptions.OnsetDipTolerance"/> before that drops back to quiet, with
/// <see cref="VadEventKind.SpeechReleased"/> when a provisional start was reported) → stopping (a window below the
/// deactivation threshold) → quiet once <see cref="VadSegmenterOptions.SilenceDuration"/> has passed since the last
/// confident window (at or above the activation threshold), or back to speaking on a window at or above the activation. Pure logic over value types: nothing is allocated per window. Not thread-safe.
/// </summary>
public sealed class VadSegmenter
{
    private readonly float _activation;
    private readonly float _deactivation;
    private readonly TimeSpan _minSpeech;
    private readonly TimeSpan _silence;
    private readonly TimeSpan _window;
    private readonly TimeSpan _dipTolerance;
    private readonly TimeSpan _provisional;
    private TimeSpan _speechStart;
    private TimeSpan _silenceStart;
    private TimeSpan _dipStart;
    private TimeSpan _lastConfident;
    private bool _inDip;
    private bool _provisionalSent;

    public VadSegmenter(VadSegmenterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _activation = options.ActivationThreshold;
        _deactivation = options.DeactivationThreshold;
        _minSpeech = options.MinSpeechDuration;
        _silence = options.SilenceDuration;
        _window = options.WindowDuration;
        _dipTolerance = options.OnsetDipTolerance;
        _provisional = options.ProvisionalDuration;
    }

    public VadSegmenterOptions Options { get; }

    public VadPhase Phase { get; private set; }

    /// <summary>True from <see cref="VadEventKind.SpeechStarted"/> until <see cref="VadEventKind.SpeechEnded"/>.</summary>
    public bool InSpeech => Phase is VadPhase.Speaking or VadPhase.Stopping;

    /// <summary>Feeds the probability of the window that starts at <paramref name="windowStart"/>; returns what it changed.</summary>
    public VadEvent Process(float probability, TimeSpan windowStart)
    {
        var windowEnd = windowStart + _window;
        switch (Phase)
        {
            case VadPhase.Quiet:
                if (probability >= _activation)
                {
                    Phase = VadPhase.Starting;
                    _speechStart = windowStart;
                    _inDip = false;
                    _provisionalSent = false;
                    return ConfirmStart(windowEnd);
                }

                return VadEvent.None;

            case VadPhase.Starting:
                if (probability < _deactivation)
                {
                    if (!_inDip)
                    {
                        _inDip = true;
                        _dipStart = windowStart;
                    }

                    if (windowEnd - _dipStart <= _dipTolerance)
                    {
                        return VadEvent.None; // a short dip inside the onset: still starting
                    }

                    Phase = VadPhase.Quiet;
                    return _provisionalSent ? new VadEvent(VadEventKind.SpeechReleased, windowEnd, _speechStart) : VadEvent.None;
                }

                _inDip = false;
                return ConfirmStart(windowEnd);

            case VadPhase.Speaking:
                if (probability >= _activation)
                {
                    _lastConfident = windowEnd;
                }
                else if (probability < _deactivation)
                {
                    Phase = VadPhase.Stopping;
                    _silenceStart = _lastConfident;
                    return ConfirmEnd(windowEnd);
                }

                return VadEvent.None;

            case VadPhase.Stopping:
                if (probability >= _activation)
                {
                    Phase = VadPhase.Speaking;
                    _lastConfident = windowEnd;
                    return VadEvent.None;
                }

                return ConfirmEnd(windowEnd);

            default:
                return VadEvent.None;
        }
    }

    /// <summary>Forgets any speech in progress (no event is emitted).</summary>
    public void Reset() => Phase = VadPhase.Quiet;

    private VadEvent ConfirmStart(TimeSpan windowEnd)
    {
        if (windowEnd - _speechStart < _minSpeech)
        {
            if (!_provisionalSent && windowEnd - _speechStart >= _provisional)
            {
                _provisionalSent = true;
                return new VadEvent(VadEventKind.SpeechProvisional, windowEnd, _speechStart);
            }

            return VadEvent.None;
        }

        Phase = VadPhase.Speaking;
        _lastConfident = windowEnd;
        return new VadEvent(VadEventKind.SpeechStarted, windowEnd, _speechStart);
    }

    private VadEvent ConfirmEnd(TimeSpan windowEnd)
    {
        if (windowEnd - _silenceStart < _silence)
        {
            return VadEvent.None;
        }

        Phase = VadPhase.Quiet;
        return new VadEvent(VadEventKind.SpeechEnded, windowEnd, _silenceStart);
    }
}
