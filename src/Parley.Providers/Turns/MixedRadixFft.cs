namespace Parley.Providers.Turns;

/// <summary>
/// A complex FFT of any length whose prime factors are small (Whisper's 400-point frame: 2·2·2·2·5·5), as a Stockham
/// autosort (no bit reversal): each stage of radix p reads x[q + s(k + j·m)] and writes y[q + s(p·k + r)] =
/// Σⱼ x[…]·ω_p^{jr}·ω_n^{kr}, then the next stage runs on the other buffer. Twiddles are tabulated once;
/// <see cref="Forward"/> allocates nothing (the caller gives the work buffers).
/// </summary>
internal sealed class MixedRadixFft
{
    private readonly int[] _factors;
    private readonly double[] _cos;
    private readonly double[] _sin;

    public MixedRadixFft(int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        Length = length;
        var factors = new List<int>();
        var rest = length;
        foreach (var p in new[] { 4, 2, 3, 5 })
        {
            while (rest % p == 0)
            {
                factors.Add(p);
                rest /= p;
            }
        }

        for (var p = 7; rest > 1; p += 2)
        {
            while (rest % p == 0)
            {
                factors.Add(p);
                rest /= p;
            }
        }

        _factors = [.. factors];
        _cos = new double[length];
        _sin = new double[length];
        for (var t = 0; t < length; t++)
        {
            var angle = -2 * Math.PI * t / length;
            _cos[t] = Math.Cos(angle);
            _sin[t] = Math.Sin(angle);
        }
    }

    public int Length { get; }

    /// <summary>
    /// Transforms (<paramref name="re"/>, <paramref name="im"/>) in place (forward: e^{-2πi·kn/N}), using
    /// (<paramref name="workRe"/>, <paramref name="workIm"/>) of the same length as scratch.
    /// </summary>
    public void Forward(Span<double> re, Span<double> im, Span<double> workRe, Span<double> workIm)
    {
        var n = Length;
        if (re.Length != n || im.Length != n || workRe.Length != n || workIm.Length != n)
        {
            throw new ArgumentException($"Every buffer must hold exactly {n} values.");
        }

        Span<double> sumRe = stackalloc double[16];
        Span<double> sumIm = stackalloc double[16];
        Span<double> inRe = stackalloc double[16];
        Span<double> inIm = stackalloc double[16];
        var xRe = re;
        var xIm = im;
        var yRe = workRe;
        var yIm = workIm;
        var s = 1;
        var sub = n;
        foreach (var p in _factors)
        {
            var m = sub / p;
            var rootStep = n / p; // ω_p = W_N^{N/p}
            var twiddleStep = n / sub; // ω_sub = W_N^{N/sub}
            var aRe = p <= 16 ? inRe[..p] : new double[p];
            var aIm = p <= 16 ? inIm[..p] : new double[p];
            var bRe = p <= 16 ? sumRe[..p] : new double[p];
            var bIm = p <= 16 ? sumIm[..p] : new double[p];
            for (var k = 0; k < m; k++)
            {
                for (var q = 0; q < s; q++)
                {
                    for (var j = 0; j < p; j++)
                    {
                        aRe[j] = xRe[q + (s * (k + (j * m)))];
                        aIm[j] = xIm[q + (s * (k + (j * m)))];
                    }

                    for (var r = 0; r < p; r++)
                    {
                        double accRe = 0, accIm = 0;
                        for (var j = 0; j < p; j++)
                        {
                            var t = j * r % p * rootStep;
                            accRe += (aRe[j] * _cos[t]) - (aIm[j] * _sin[t]);
                            accIm += (aRe[j] * _sin[t]) + (aIm[j] * _cos[t]);
                        }

                        bRe[r] = accRe;
                        bIm[r] = accIm;
                    }

                    for (var r = 0; r < p; r++)
                    {
                        var t = k * r * twiddleStep % n;
                        var o = q + (s * ((p * k) + r));
                        yRe[o] = (bRe[r] * _cos[t]) - (bIm[r] * _sin[t]);
                        yIm[o] = (bRe[r] * _sin[t]) + (bIm[r] * _cos[t]);
                    }
                }
            }

            var swapRe = xRe;
            var swapIm = xIm;
            xRe = yRe;
            xIm = yIm;
            yRe = swapRe;
            yIm = swapIm;
            s *= p;
            sub = m;
        }

        if (_factors.Length % 2 == 1)
        {
            xRe.CopyTo(re);
            xIm.CopyTo(im);
        }
    }
}
