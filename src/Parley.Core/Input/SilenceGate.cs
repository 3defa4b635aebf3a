using Parley.Media;

namespace Parley.Core.Input;

/// <summary>Settings of the <see cref="SilenceGate"/> in front of the VAD model.</summary>
public sealed record SilenceGateOptions
{
    /// <summary>Off: every window is scored by the model (the behaviour before the gate).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>
    /// A window opens the gate when its energy is this far above the adaptive noise floor (and above
    /// <see cref="OpenFloorDbfs"/>). Low enough that a speech onset's first window clears it even in babble.
    /// </summary>
    public double OpenMarginDb { get; init; } = 6;

    /// <summary>Windows quieter than this (RMS, dBFS) never open the gate: digital silence and inaudible hiss.</summary>
    public double OpenFloorDbfs { get; init; } = -65;

    /// <summary>How fast the noise floor may rise (it falls at once to a quieter window): a minimum tracker.</summary>
    public double FloorRiseDbPerSecond { get; init; } = 3;

    /// <summary>
    /// The gate closes only after this many windows in a row that the model scored below <see cref="CloseProbability"/>,
    /// all under the opening level, with the segmenter quiet (the model itself confirmed the silence).
    /// </summary>
    public int CloseAfterWindows { get; init; } = 8;

    /// <summary>The model's probability under which a scored window counts towards closing the gate.</summary>
    public float CloseProbability { get; init; } = 0.15f;

    /// <summary>
    /// Gated windows scored (their probabilities discarded) before the window that opens the gate, so the model's
    /// recurrent state and its 64-sample context are those of the audio just before the onset.
    /// </summary>
    public int PreRollWindows { get; init; } = 2;

    internal void Validate()
    {
        if (OpenMarginDb is < 0 or > 40 || double.IsNaN(OpenMarginDb))
        {
            throw new ArgumentOutOfRangeException(nameof(OpenMarginDb), OpenMarginDb, "OpenMarginDb must be in [0, 40].");
        }

        if (OpenFloorDbfs is < -120 or > 0 || double.IsNaN(OpenFloorDbfs))
        {
            throw new ArgumentOutOfRangeException(nameof(OpenFloorDbfs), OpenFloorDbfs, "OpenFloorDbfs must be in [-120, 0].");
        }

        if (FloorRiseDbPerSecond is <= 0 or > 100 || double.IsNaN(FloorRiseDbPerSecond))
        {
            throw new ArgumentOutOfRangeException(nameof(FloorRiseDbPerSecond), FloorRiseDbPerSecond, "FloorRiseDbPerSecond must be in (0, 100].");
        }

        if (CloseAfterWindows is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(CloseAfterWindows), CloseAfterWindows, "CloseAfterWindows must be in [1, 1000].");
        }

        if (CloseProbability is < 0f or > 1f || float.IsNaN(CloseProbability))
        {
            throw new ArgumentOutOfRangeException(nameof(CloseProbability), CloseProbability, "CloseProbability must be in [0, 1].");
        }

        if (PreRollWindows is < 0 or > 8)
        {
            throw new ArgumentOutOfRangeException(nameof(PreRollWindows), PreRollWindows, "PreRollWindows must be in [0, 8].");
        }
    }
}

/// <summary>
/// An energy gate in front of the VAD model, so a silent or near-silent stream does not run the model on every window.
/// Every window's energy (mean square) updates an adaptive noise floor (a minimum tracker: down at once, up at
/// <see cref="SilenceGateOptions.FloorRiseDbPerSecond"/>). The gate is open (windows are scored) until the model has
/// scored <see cref="SilenceGateOptions.CloseAfterWindows"/> quiet windows in a row under the opening level while the
/// segmenter is quiet; closed, a window is not scored (the segmenter sees probability 0) unless its energy clears both
/// the floor by <see cref="SilenceGateOptions.OpenMarginDb"/> and <see cref="SilenceGateOptions.OpenFloorDbfs"/>: then
/// the gate opens on that very window (no added latency), after the last gated windows are scored as a pre-roll to
/// bring the model's state up to the audio before the onset (<see cref="PreRoll"/>). Only windows of a quiet segmenter
/// are ever gated, so a started utterance is scored to its end. Nothing is allocated per window. Not thread-safe.
/// </summary>
internal sealed class SilenceGate
{
    private const double FloorMin = 1e-12; // −120 dBFS: digital silence

    private readonly SilenceGateOptions _options;
    private readonly double _margin;
    private readonly double _openFloor;
    private readonly double _rise;
    private readonly short[] _preRoll;
    private readonly int _windowSamples;
    private double _floor = double.PositiveInfinity;
    private double _lastEnergy;
    private int _quietScored;
    private int _preRollCount;
    private int _preRollNext;

    public SilenceGate(SilenceGateOptions options, int windowSamples, TimeSpan windowDuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(windowSamples);
        _options = options;
        _windowSamples = windowSamples;
        _margin = Math.Pow(10, options.OpenMarginDb / 10);
        _openFloor = Math.Pow(10, options.OpenFloorDbfs / 10);
        _rise = Math.Pow(10, options.FloorRiseDbPerSecond * windowDuration.TotalSeconds / 10);
        _preRoll = new short[options.PreRollWindows * windowSamples];
    }

    /// <summary>Closed: windows are not scored until one clears the opening level.</summary>
    public bool Closed { get; private set; }

    /// <summary>The adaptive noise floor, dBFS (−∞ before the first window).</summary>
    public double NoiseFloorDbfs => double.IsPositiveInfinity(_floor) ? double.NegativeInfinity : 10 * Math.Log10(_floor);

    /// <summary>Windows not scored since the start (diagnostics and tests).</summary>
    public long GatedWindows { get; private set; }

    /// <summary>Gated windows to score before the window that opened the gate (oldest first); empty unless <see cref="Admit"/> just opened it.</summary>
    public int PreRollCount { get; private set; }

    /// <summary>The <paramref name="index"/>-th pre-roll window (0 = oldest) of the ones <see cref="PreRollCount"/> counts.</summary>
    public ReadOnlySpan<short> PreRoll(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)PreRollCount, nameof(index));
        var slot = (_preRollNext - _preRollCount + index + _options.PreRollWindows) % _options.PreRollWindows;
        return _preRoll.AsSpan(slot * _windowSamples, _windowSamples);
    }

    /// <summary>
    /// Decides for one window: true to score it with the model (first the <see cref="PreRollCount"/> pre-roll windows),
    /// false to skip it (the segmenter sees probability 0). <paramref name="segmenterQuiet"/>: the segmenter is quiet
    /// (between utterances); otherwise every window is scored.
    /// </summary>
    public bool Admit(ReadOnlySpan<short> window, bool segmenterQuiet)
    {
        PreRollCount = 0;
        var energy = Energy(window);
        _lastEnergy = energy;
        _floor = energy < _floor ? Math.Max(energy, FloorMin) : Math.Min(_floor * _rise, Math.Max(energy, FloorMin));
        if (!_options.Enabled)
        {
            return true;
        }

        if (!Closed)
        {
            return true;
        }

        if (!segmenterQuiet || Loud(energy))
        {
            Closed = false;
            _quietScored = 0;
            PreRollCount = _preRollCount;
            _preRollCount = 0;
            return true;
        }

        GatedWindows++;
        if (_options.PreRollWindows > 0)
        {
            window.CopyTo(_preRoll.AsSpan(_preRollNext * _windowSamples, _windowSamples));
            _preRollNext = (_preRollNext + 1) % _options.PreRollWindows;
            _preRollCount = Math.Min(_preRollCount + 1, _options.PreRollWindows);
        }

        return false;
    }

    /// <summary>
    /// The model's probability for the window just admitted; may close the gate for the next windows. True when it
    /// just closed: the caller resets the model's recurrent state, so that when the gate opens the model starts from a
    /// fresh state warmed by the pre-roll (as after a long silence), not from one that still remembers the last utterance.
    /// </summary>
    public bool Scored(float probability, bool segmenterQuiet)
    {
        if (!_options.Enabled)
        {
            return false;
        }

        if (!segmenterQuiet || probability >= _options.CloseProbability || Loud(_lastEnergy))
        {
            _quietScored = 0;
            return false;
        }

        if (++_quietScored >= _options.CloseAfterWindows)
        {
            Closed = true;
            _preRollCount = 0;
            return true;
        }

        return false;
    }

    /// <summary>Open again with no pre-roll (the audio restarts elsewhere and the model was reset); the floor is kept.</summary>
    public void Reset()
    {
        Closed = false;
        _quietScored = 0;
        _preRollCount = 0;
        PreRollCount = 0;
    }

    private bool Loud(double energy) => energy >= _openFloor && energy >= _floor * _margin;

    /// <summary>Mean square of the window, full scale = 1.</summary>
    internal static double Energy(ReadOnlySpan<short> window) => PcmMath.MeanSquare(window) / 1073741824.0;
}
