using System.Buffers;
using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Parley.Media;

/// <summary>
/// Streaming PCM16 mono resampler between 8000, 16000, 22050, 24000, 32000, 44100 and 48000 Hz.
/// A rational L/M polyphase filter bank built from a Kaiser-windowed sinc (about 70 dB stop-band
/// attenuation, pass band to 80 % of the lower Nyquist, stop band from the lower Nyquist), so downsampling
/// does not alias and upsampling leaves no images. State carries across <see cref="Process"/> calls, so
/// chunked processing gives exactly the samples of one-shot processing. Not thread-safe: one per stream.
/// The filter bank of a rate pair is designed once per process and shared (it is read-only); an instance holds only
/// its history (one filter length of samples) and borrows its work buffer from the pool for each call, so a
/// resampler per sentence costs a few hundred bytes and nothing per call.
/// </summary>
public sealed class Resampler
{
    private const double StopBandDb = 70;
    private const double PassBandFraction = 0.8;

    private static readonly int[] SupportedRates = [8000, 16000, 22050, 24000, 32000, 44100, 48000];

    private readonly int _up;      // L: output steps per input step (reduced ratio)
    private readonly int _down;    // M
    private readonly int _taps;    // taps per phase (even), centred on the output instant
    private readonly int _half;    // _taps / 2
    private readonly float[] _bank; // _up phases x _taps coefficients, coefficient i multiplies input n + 1 - _half + i (shared)
    private readonly float[] _history; // the last _taps input samples; a call works on [history] [its input] in a pooled buffer
    private int _phase;             // output instant = n + _phase / _up in input samples
    private int _position;          // n, relative to the start of the next input chunk

    private static readonly ConcurrentDictionary<(int In, int Out), (int Half, float[] Bank)> Designs = new();

    /// <summary>True for the rates this resampler converts between.</summary>
    public static bool Supports(int rate) => Array.IndexOf(SupportedRates, rate) >= 0;

    public Resampler(int inputRate, int outputRate)
    {
        CheckRate(inputRate, nameof(inputRate));
        CheckRate(outputRate, nameof(outputRate));
        InputRate = inputRate;
        OutputRate = outputRate;
        var gcd = Gcd(inputRate, outputRate);
        _up = outputRate / gcd;
        _down = inputRate / gcd;

        (_half, _bank) = Designs.GetOrAdd((inputRate, outputRate), static (rates, up) => Design(rates.In, rates.Out, up), _up);
        _taps = 2 * _half;
        _history = new float[_taps];
    }

    /// <summary>The polyphase bank of a rate pair: half its taps per phase, and the coefficients (phase-major).</summary>
    private static (int Half, float[] Bank) Design(int inputRate, int outputRate, int up)
    {
        // Filter design in input-sample units.
        var ratio = Math.Min(1.0, (double)outputRate / inputRate);
        var nyquist = 0.5 * ratio;                                   // cycles per input sample
        var transition = nyquist * (1 - PassBandFraction);
        var cutoff = nyquist * (1 + PassBandFraction) / 2;            // centre of the transition band
        var order = (StopBandDb - 8) / (2.285 * 2 * Math.PI * transition);
        var half = Math.Max(2, (int)Math.Ceiling(order / 2));
        var taps = 2 * half;
        var beta = 0.1102 * (StopBandDb - 8.7);
        var i0Beta = BesselI0(beta);

        var bank = new float[up * taps];
        for (var phase = 0; phase < up; phase++)
        {
            var frac = (double)phase / up;
            double sum = 0;
            var row = bank.AsSpan(phase * taps, taps);
            for (var i = 0; i < taps; i++)
            {
                // Distance from the output instant (n + frac) to input sample n + 1 - half + i.
                var d = frac + half - 1 - i;
                var x = d / half;
                var window = Math.Abs(x) >= 1 ? 0 : BesselI0(beta * Math.Sqrt(1 - (x * x))) / i0Beta;
                var arg = 2 * cutoff * d;
                var sinc = Math.Abs(arg) < 1e-12 ? 1 : Math.Sin(Math.PI * arg) / (Math.PI * arg);
                var h = 2 * cutoff * sinc * window;
                row[i] = (float)h;
                sum += h;
            }

            // Unity gain at DC for every phase.
            for (var i = 0; i < taps; i++)
            {
                row[i] = (float)(row[i] / sum);
            }
        }

        return (half, bank);
    }

    public int InputRate { get; }

    public int OutputRate { get; }

    /// <summary>Delay of the filter in input samples: output lags input by this much plus rounding.</summary>
    public int LatencyInputSamples => _half;

    /// <summary>An upper bound of the samples one <see cref="Process"/> call with <paramref name="inputSamples"/> samples writes.</summary>
    public int MaxOutputSamples(int inputSamples) => (int)((((long)inputSamples * _up) + _down - 1) / _down) + 2;

    /// <summary>
    /// Resamples <paramref name="input"/> (continuing the previous call) into <paramref name="output"/> and
    /// returns the samples written. <paramref name="output"/> must hold <see cref="MaxOutputSamples"/> samples.
    /// </summary>
    public int Process(ReadOnlySpan<short> input, Span<short> output)
    {
        if (output.Length < MaxOutputSamples(input.Length))
        {
            throw new ArgumentException(
                $"The output holds {output.Length} samples but up to {MaxOutputSamples(input.Length)} may be written; size it with MaxOutputSamples.",
                nameof(output));
        }

        var total = _taps + input.Length;
        var rented = ArrayPool<float>.Shared.Rent(total);
        var work = rented.AsSpan(0, total);
        _history.CopyTo(work);
        for (var i = 0; i < input.Length; i++)
        {
            work[_taps + i] = input[i];
        }

        var written = 0;
        var n = _position;
        var phase = _phase;
        var bank = _bank.AsSpan();
        while (n + _half <= input.Length - 1)
        {
            // Input sample m lives at work[_taps + m]; the window starts at m = n + 1 - _half.
            var window = work.Slice(_taps + n + 1 - _half, _taps);
            var value = Dot(window, bank.Slice(phase * _taps, _taps));
            output[written++] = Saturate(value);
            phase += _down;
            n += phase / _up;
            phase %= _up;
        }

        // Keep the last _taps input samples as history; positions become relative to the next chunk.
        work.Slice(total - _taps, _taps).CopyTo(_history);
        ArrayPool<float>.Shared.Return(rented);
        _position = n - input.Length;
        _phase = phase;
        return written;
    }

    /// <summary>
    /// Ends the stream: writes the outputs still held back by the filter delay (as if silence followed),
    /// so the whole stream yields ceil(inputSamples * OutputRate / InputRate) samples, then resets.
    /// <paramref name="output"/> must hold <see cref="MaxFlushSamples"/> samples.
    /// </summary>
    public int Flush(Span<short> output)
    {
        if (output.Length < MaxFlushSamples)
        {
            throw new ArgumentException($"The output holds {output.Length} samples but the flush may write {MaxFlushSamples}.", nameof(output));
        }

        var rented = ArrayPool<float>.Shared.Rent(_taps + _half);
        var work = rented.AsSpan(0, _taps + _half);
        _history.CopyTo(work);
        work.Slice(_taps, _half).Clear();
        var bank = _bank.AsSpan();
        var written = 0;
        var n = _position;
        var phase = _phase;
        while (n < 0)
        {
            var value = Dot(work.Slice(_taps + n + 1 - _half, _taps), bank.Slice(phase * _taps, _taps));
            output[written++] = Saturate(value);
            phase += _down;
            n += phase / _up;
            phase %= _up;
        }

        ArrayPool<float>.Shared.Return(rented);
        Reset();
        return written;
    }

    /// <summary>An upper bound of the samples <see cref="Flush"/> writes.</summary>
    public int MaxFlushSamples => MaxOutputSamples(_half);

    /// <summary>Forgets the stream so far (history and phase).</summary>
    public void Reset()
    {
        Array.Clear(_history);
        _phase = 0;
        _position = 0;
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var i = 0;
        var sum = 0f;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<float>.Count)
        {
            var acc = Vector<float>.Zero;
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            for (var v = 0; v < va.Length; v++)
            {
                acc += va[v] * vb[v];
            }

            sum = Vector.Sum(acc);
            i = va.Length * Vector<float>.Count;
        }

        for (; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    private static short Saturate(float value)
    {
        var rounded = MathF.Round(value);
        return rounded >= short.MaxValue ? short.MaxValue : rounded <= short.MinValue ? short.MinValue : (short)rounded;
    }

    private static void CheckRate(int rate, string paramName)
    {
        if (Array.IndexOf(SupportedRates, rate) < 0)
        {
            throw new ArgumentOutOfRangeException(paramName, rate, "Supported sample rates are 8000, 16000, 22050, 24000, 32000, 44100 and 48000 Hz.");
        }
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }

    private static double BesselI0(double x)
    {
        double sum = 1, term = 1, half = x / 2;
        for (var k = 1; k < 50; k++)
        {
            term *= half / k;
            sum += term * term;
            if (term * term < sum * 1e-16)
            {
                break;
            }
        }

        return sum;
    }
}
