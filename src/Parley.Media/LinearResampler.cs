namespace Parley.Media;

/// <summary>
/// Minimal streaming linear-interpolation resampler for PCM16 mono.
/// Used by <see cref="StreamResampler"/> only for rates the sinc <see cref="Resampler"/> does not cover (12 kHz); it has no
/// anti-alias filter, so downsampling folds energy above the new Nyquist back into the band. Good enough for speech
/// at the rates clients use; the pipeline rate (16 kHz) itself passes through untouched.
/// </summary>
internal sealed class LinearResampler
{
    private readonly long _inRate;
    private readonly long _outRate;
    private long _position; // position of the next output sample, in units of 1/_outRate input samples, relative to _previous
    private short _previous;
    private bool _primed;

    public LinearResampler(int inRate, int outRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outRate);
        _inRate = inRate;
        _outRate = outRate;
    }

    public bool IsPassThrough => _inRate == _outRate;

    /// <summary>An upper bound of the output samples for <paramref name="inputSamples"/> input samples.</summary>
    public int MaxOutputFor(int inputSamples) => (int)((inputSamples + 1) * _outRate / _inRate) + 2;

    /// <summary>Resamples <paramref name="input"/> into <paramref name="output"/>; returns the samples written.</summary>
    public int Process(ReadOnlySpan<short> input, Span<short> output)
    {
        if (IsPassThrough)
        {
            input.CopyTo(output);
            return input.Length;
        }

        if (input.IsEmpty)
        {
            return 0;
        }

        var written = 0;
        var start = 0;
        if (!_primed)
        {
            _previous = input[0];
            _primed = true;
            start = 1;
            _position = 0;
        }

        // Virtual input sequence: _previous, input[start..]. Index 0 is _previous.
        var available = input.Length - start; // samples after _previous
        while (true)
        {
            var index = _position / _outRate; // integer part in input samples
            if (index >= available)
            {
                break;
            }

            var frac = _position - (index * _outRate);
            int a = index == 0 ? _previous : input[start + (int)index - 1];
            int b = input[start + (int)index];
            output[written++] = (short)(a + ((b - a) * frac / _outRate));
            _position += _inRate;
        }

        _previous = input[^1];
        _position -= available * _outRate;
        return written;
    }

    public void Reset()
    {
        _primed = false;
        _position = 0;
    }
}
