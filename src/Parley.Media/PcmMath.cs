using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Parley.Media;

/// <summary>Level measurement and byte conversion for PCM16 audio. Allocates nothing.</summary>
public static class PcmMath
{
    /// <summary>The dBFS reported for digital silence (a floor instead of negative infinity).</summary>
    public const double SilenceDbfs = -120;

    /// <summary>Root mean square of the samples, in sample units (0..32768).</summary>
    public static double Rms(ReadOnlySpan<short> samples) => Math.Sqrt(MeanSquare(samples));

    /// <summary>Mean square of the samples, in sample units squared (0 for none).</summary>
    public static double MeanSquare(ReadOnlySpan<short> samples)
    {
        if (samples.IsEmpty)
        {
            return 0;
        }

        long sum = 0;
        foreach (var s in samples)
        {
            sum += s * s;
        }

        return (double)sum / samples.Length;
    }

    /// <summary>Level relative to full scale (a full-scale square wave is 0 dBFS, a full-scale sine about -3 dBFS); silence gives <see cref="SilenceDbfs"/>.</summary>
    public static double Dbfs(ReadOnlySpan<short> samples)
    {
        var rms = Rms(samples);
        return rms <= 0 ? SilenceDbfs : Math.Max(SilenceDbfs, 20 * Math.Log10(rms / 32768.0));
    }

    /// <summary>Writes the samples as little-endian bytes; <paramref name="destination"/> needs 2 bytes per sample.</summary>
    public static void ToBytes(ReadOnlySpan<short> samples, Span<byte> destination)
    {
        if (destination.Length < samples.Length * 2)
        {
            throw new ArgumentException($"The destination holds {destination.Length} bytes but {samples.Length * 2} are needed.", nameof(destination));
        }

        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(samples).CopyTo(destination);
            return;
        }

        for (var i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(destination[(2 * i)..], samples[i]);
        }
    }

    /// <summary>Reads little-endian PCM16 bytes (an even count) into samples; returns the samples written.</summary>
    public static int FromBytes(ReadOnlySpan<byte> bytes, Span<short> destination)
    {
        if ((bytes.Length & 1) != 0)
        {
            throw new ArgumentException($"PCM16 data must have an even byte count; got {bytes.Length}.", nameof(bytes));
        }

        var count = bytes.Length / 2;
        if (destination.Length < count)
        {
            throw new ArgumentException($"The destination holds {destination.Length} samples but {count} are needed.", nameof(destination));
        }

        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.Cast<byte, short>(bytes).CopyTo(destination);
            return count;
        }

        for (var i = 0; i < count; i++)
        {
            destination[i] = BinaryPrimitives.ReadInt16LittleEndian(bytes[(2 * i)..]);
        }

        return count;
    }
}
