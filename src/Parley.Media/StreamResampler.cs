namespace Parley.Media;

/// <summary>
/// The transport's resampler between a client's rate and the pipeline's 16 kHz: the windowed-sinc
/// <see cref="Resampler"/> (anti-aliased) for the rates it supports, linear interpolation for the rest (12 kHz).
/// </summary>
internal sealed class StreamResampler
{
    private readonly Resampler? _sinc;
    private readonly LinearResampler? _linear;

    public StreamResampler(int inRate, int outRate)
    {
        IsPassThrough = inRate == outRate;
        if (IsPassThrough)
        {
            return;
        }

        if (Resampler.Supports(inRate) && Resampler.Supports(outRate))
        {
            _sinc = new Resampler(inRate, outRate);
        }
        else
        {
            _linear = new LinearResampler(inRate, outRate);
        }
    }

    public bool IsPassThrough { get; }

    public int MaxOutputFor(int inputSamples) =>
        IsPassThrough ? inputSamples : _sinc?.MaxOutputSamples(inputSamples) ?? _linear!.MaxOutputFor(inputSamples);

    public int Process(ReadOnlySpan<short> input, Span<short> output)
    {
        if (IsPassThrough)
        {
            input.CopyTo(output);
            return input.Length;
        }

        return _sinc?.Process(input, output) ?? _linear!.Process(input, output);
    }
}
