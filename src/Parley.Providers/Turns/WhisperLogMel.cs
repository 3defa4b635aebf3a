using System.Buffers;

namespace Parley.Providers.Turns;

/// <summary>
/// Whisper's log-mel features as Smart Turn v3 reads them: 80 mel bins × 800 frames of the last 8 s of 16 kHz audio.
/// Follows the reference, pipecat-ai/pipecat <c>src/pipecat/audio/turn/smart_turn/_whisper_features.py</c> (a numpy
/// copy of <c>transformers.WhisperFeatureExtractor(chunk_length=8)</c>) and <c>local_smart_turn_v3.py</c>, and the
/// input notes of pipecat-ai/smart-turn <c>README.md</c>:
/// <list type="number">
/// <item>the audio is the last 8 s (128 000 samples); shorter audio is padded with zeros at the beginning;</item>
/// <item>the whole 8 s buffer is normalised to zero mean and unit variance (variance + 1e-7);</item>
/// <item>a centred STFT: reflect padding of 200 samples each side, 400-sample periodic Hann frames every 160 samples
/// (801 frames), power spectrum |X|² of the 400-point FFT (201 bins);</item>
/// <item>80 triangular Slaney-scale mel filters from 0 to 8 kHz with Slaney area normalisation;</item>
/// <item>log10(max(mel, 1e-10)), the last frame dropped (800 frames), clamped to (max − 8), then (x + 4) / 4.</item>
/// </list>
/// The result is row-major [80, 800] (mel bin, frame), the model's <c>input_features</c> without the batch axis.
/// Stateless and thread-safe: the work buffers are rented per call from <see cref="ArrayPool{T}.Shared"/>, so a call
/// allocates nothing once the pool is warm.
/// </summary>
public static class WhisperLogMel
{
    public const int SampleRate = 16000;
    public const int Samples = 8 * SampleRate;
    public const int Mels = 80;
    public const int Frames = 800;
    public const int FftLength = 400;
    public const int Hop = 160;
    public const int Bins = (FftLength / 2) + 1;

    private const double MelFloor = 1e-10;
    private const double VarianceEpsilon = 1e-7;

    private static readonly MixedRadixFft Fft = new(FftLength);
    private static readonly double[] Window = PeriodicHann(FftLength);
    private static readonly MelFilter[] Filters = BuildFilters();

    /// <summary>The centre frequency (Hz) of mel filter <paramref name="bin"/> (its triangle's peak).</summary>
    public static double CentreFrequency(int bin) => MelToHertz(HertzToMel(0) + ((bin + 1) * (HertzToMel(SampleRate / 2.0) - HertzToMel(0)) / (Mels + 1)));

    /// <summary>
    /// Computes the features of <paramref name="audio"/> (16 kHz mono PCM16, the end of the turn; only its last 8 s are
    /// read) into <paramref name="features"/> (<see cref="Mels"/> × <see cref="Frames"/> values).
    /// </summary>
    public static void Compute(ReadOnlySpan<short> audio, Span<float> features)
    {
        if (features.Length != Mels * Frames)
        {
            throw new ArgumentException($"features must hold {Mels}×{Frames} values, got {features.Length}.", nameof(features));
        }

        if (audio.Length > Samples)
        {
            audio = audio[^Samples..];
        }

        const int pad = FftLength / 2;
        var padded = ArrayPool<double>.Shared.Rent(Samples + (2 * pad));
        var power = ArrayPool<double>.Shared.Rent(Bins * (Frames + 1));
        var work = ArrayPool<double>.Shared.Rent(4 * FftLength);
        try
        {
            var x = padded.AsSpan(pad, Samples);
            var lead = Samples - audio.Length;
            x[..lead].Clear();
            for (var i = 0; i < audio.Length; i++)
            {
                x[lead + i] = audio[i] / 32768.0f; // float32 audio in [-1, 1), as the reference's input
            }

            Normalise(x);

            // Reflect padding (numpy "reflect": the edge sample is not repeated).
            for (var i = 1; i <= pad; i++)
            {
                padded[pad - i] = padded[pad + i];
                padded[pad + Samples - 1 + i] = padded[pad + Samples - 1 - i];
            }

            var re = work.AsSpan(0, FftLength);
            var im = work.AsSpan(FftLength, FftLength);
            var workRe = work.AsSpan(2 * FftLength, FftLength);
            var workIm = work.AsSpan(3 * FftLength, FftLength);
            for (var frame = 0; frame < Frames; frame++) // the 801st frame is dropped by the reference
            {
                var start = frame * Hop;
                for (var i = 0; i < FftLength; i++)
                {
                    re[i] = padded[start + i] * Window[i];
                }

                im.Clear();
                Fft.Forward(re, im, workRe, workIm);
                var row = power.AsSpan(frame * Bins, Bins);
                for (var k = 0; k < Bins; k++)
                {
                    row[k] = (re[k] * re[k]) + (im[k] * im[k]);
                }
            }

            var max = double.NegativeInfinity;
            for (var mel = 0; mel < Mels; mel++)
            {
                var filter = Filters[mel];
                var output = features.Slice(mel * Frames, Frames);
                for (var frame = 0; frame < Frames; frame++)
                {
                    var row = power.AsSpan((frame * Bins) + filter.First, filter.Weights.Length);
                    var sum = 0.0;
                    for (var k = 0; k < row.Length; k++)
                    {
                        sum += row[k] * filter.Weights[k];
                    }

                    var log = Math.Log10(Math.Max(sum, MelFloor));
                    output[frame] = (float)log;
                    max = Math.Max(max, log);
                }
            }

            var floor = (float)(max - 8.0);
            for (var i = 0; i < features.Length; i++)
            {
                features[i] = (Math.Max(features[i], floor) + 4f) / 4f;
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(padded);
            ArrayPool<double>.Shared.Return(power);
            ArrayPool<double>.Shared.Return(work);
        }
    }

    /// <summary>Zero mean, unit variance over the whole 8 s (the padding included), in float32 as the reference does it.</summary>
    private static void Normalise(Span<double> x)
    {
        var sum = 0.0;
        foreach (var v in x)
        {
            sum += v;
        }

        var mean = sum / x.Length;
        var squares = 0.0;
        foreach (var v in x)
        {
            squares += (v - mean) * (v - mean);
        }

        var scale = 1.0 / Math.Sqrt((squares / x.Length) + VarianceEpsilon);
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (float)((x[i] - mean) * scale);
        }
    }

    private static double[] PeriodicHann(int length)
    {
        var window = new double[length];
        for (var i = 0; i < length; i++)
        {
            window[i] = 0.5 - (0.5 * Math.Cos(2 * Math.PI * i / length));
        }

        return window;
    }

    private static double HertzToMel(double hz) => hz >= 1000.0 ? 15.0 + (Math.Log(hz / 1000.0) * (27.0 / Math.Log(6.4))) : 3.0 * hz / 200.0;

    private static double MelToHertz(double mel) => mel >= 15.0 ? 1000.0 * Math.Exp(Math.Log(6.4) / 27.0 * (mel - 15.0)) : 200.0 * mel / 3.0;

    /// <summary>The Slaney-normalised triangular filters, each kept as its non-zero span of FFT bins.</summary>
    private static MelFilter[] BuildFilters()
    {
        var low = HertzToMel(0);
        var high = HertzToMel(SampleRate / 2.0);
        var edges = new double[Mels + 2];
        for (var i = 0; i < edges.Length; i++)
        {
            edges[i] = MelToHertz(low + (i * (high - low) / (Mels + 1)));
        }

        var filters = new MelFilter[Mels];
        var weights = new double[Bins];
        for (var mel = 0; mel < Mels; mel++)
        {
            var norm = 2.0 / (edges[mel + 2] - edges[mel]);
            int first = -1, last = -1;
            for (var k = 0; k < Bins; k++)
            {
                var hz = k * (SampleRate / 2.0) / (Bins - 1);
                var down = (hz - edges[mel]) / (edges[mel + 1] - edges[mel]);
                var up = (edges[mel + 2] - hz) / (edges[mel + 2] - edges[mel + 1]);
                weights[k] = Math.Max(0, Math.Min(down, up)) * norm;
                if (weights[k] > 0)
                {
                    first = first < 0 ? k : first;
                    last = k;
                }
            }

            filters[mel] = first < 0 ? new MelFilter(0, []) : new MelFilter(first, weights[first..(last + 1)]);
        }

        return filters;
    }

    private sealed record MelFilter(int First, double[] Weights);
}
