using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Parley.Abstractions.Audio;

namespace Parley.Providers.Volcengine;

/// <summary>PCM16 little-endian bytes from the wire into pooled chunks, and back.</summary>
internal static class VolcPcm
{
    /// <summary>Bytes (possibly with a byte left from the previous piece in <paramref name="carry"/>) into a pooled chunk; empty when less than a sample.</summary>
    public static AudioChunk ToChunk(ReadOnlySpan<byte> bytes, ref int carry, int sampleRate)
    {
        if (bytes.IsEmpty)
        {
            return default;
        }

        var total = bytes.Length + (carry >= 0 ? 1 : 0);
        var samples = total / 2;
        if (samples == 0)
        {
            carry = bytes[0];
            return default;
        }

        var chunk = AudioChunk.Rent(samples, sampleRate);
        var target = chunk.WritableSpan;
        var offset = 0;
        var index = 0;
        if (carry >= 0)
        {
            target[0] = (short)(carry | (bytes[0] << 8));
            offset = 1;
            index = 1;
        }

        var whole = (bytes.Length - offset) / 2;
        MemoryMarshal.Cast<byte, short>(bytes.Slice(offset, whole * 2)).CopyTo(target[index..]);
        if (!BitConverter.IsLittleEndian)
        {
            for (var i = index; i < index + whole; i++)
            {
                target[i] = BinaryPrimitives.ReverseEndianness(target[i]);
            }
        }

        var used = offset + (whole * 2);
        carry = used < bytes.Length ? bytes[used] : -1;
        return chunk;
    }

    public static void ToLittleEndian(ReadOnlySpan<short> samples, Span<byte> target)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(samples).CopyTo(target);
            return;
        }

        for (var i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(target[(i * 2)..], samples[i]);
        }
    }
}
