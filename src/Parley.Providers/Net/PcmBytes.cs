using System.Buffers.Binary;
using Parley.Abstractions.Audio;

namespace Parley.Providers.Net;

/// <summary>
/// PCM16 little-endian audio arriving from a vendor in pieces that may split a sample: raw bytes (binary frames) or
/// hex text (MiniMax's <c>data.audio</c>), into pooled <see cref="AudioChunk"/>s. A byte left over from one piece
/// is carried into the next.
/// </summary>
internal struct PcmBytes
{
    private int _carry;

    public PcmBytes()
    {
        _carry = -1;
    }

    /// <summary>Whether a half sample is pending (an odd number of bytes so far).</summary>
    public readonly bool HasCarry => _carry >= 0;

    /// <summary>Raw bytes into a pooled chunk (empty when no whole sample is complete yet).</summary>
    public AudioChunk FromBytes(ReadOnlySpan<byte> bytes, int sampleRate)
    {
        var total = bytes.Length + (_carry >= 0 ? 1 : 0);
        var samples = total / 2;
        if (samples == 0)
        {
            if (bytes.Length == 1)
            {
                _carry = bytes[0];
            }

            return default;
        }

        var chunk = AudioChunk.Rent(samples, sampleRate);
        var target = chunk.WritableSpan;
        var i = 0;
        var index = 0;
        if (_carry >= 0)
        {
            target[0] = (short)(_carry | (bytes[0] << 8));
            i = 1;
            index = 1;
        }

        for (; index < samples; index++, i += 2)
        {
            target[index] = BinaryPrimitives.ReadInt16LittleEndian(bytes.Slice(i, 2));
        }

        _carry = i < bytes.Length ? bytes[i] : -1;
        return chunk;
    }

    /// <summary>Hex text (UTF-8, two digits per byte) into a pooled chunk; throws <see cref="FormatException"/> on a non-hex digit or an odd digit count.</summary>
    public AudioChunk FromHex(ReadOnlySpan<byte> hex, int sampleRate)
    {
        if ((hex.Length & 1) != 0)
        {
            throw new FormatException("hex audio has an odd number of digits");
        }

        var bytes = hex.Length / 2;
        var total = bytes + (_carry >= 0 ? 1 : 0);
        var samples = total / 2;
        if (samples == 0)
        {
            if (bytes == 1)
            {
                _carry = Byte(hex, 0);
            }

            return default;
        }

        var chunk = AudioChunk.Rent(samples, sampleRate);
        var target = chunk.WritableSpan;
        var b = 0;
        var index = 0;
        if (_carry >= 0)
        {
            target[0] = (short)(_carry | (Byte(hex, 0) << 8));
            b = 1;
            index = 1;
        }

        try
        {
            for (; index < samples; index++, b += 2)
            {
                target[index] = (short)(Byte(hex, b) | (Byte(hex, b + 1) << 8));
            }
        }
        catch
        {
            chunk.Dispose();
            throw;
        }

        _carry = b < bytes ? Byte(hex, b) : -1;
        return chunk;
    }

    private static int Byte(ReadOnlySpan<byte> hex, int index) => (Digit(hex[index * 2]) << 4) | Digit(hex[(index * 2) + 1]);

    private static int Digit(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => throw new FormatException("hex audio holds a character that is not a hex digit"),
    };
}
