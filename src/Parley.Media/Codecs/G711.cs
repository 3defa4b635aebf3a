namespace Parley.Media.Codecs;

/// <summary>
/// ITU-T G.711 μ-law (PCMU) and A-law (PCMA) over spans, table-driven: encoding is one lookup per sample
/// (indexed by the top 14 bits for μ-law, 13 bits for A-law), decoding one lookup per byte. Allocates nothing.
/// </summary>
public static class G711
{
    private const int MuLawBias = 0x84;
    private const int MuLawClip = 32635;

    private static readonly short[] MuLawDecodeTable = BuildMuLawDecode();
    private static readonly short[] ALawDecodeTable = BuildALawDecode();
    private static readonly byte[] MuLawEncodeTable = BuildMuLawEncode();
    private static readonly byte[] ALawEncodeTable = BuildALawEncode();

    /// <summary>Encodes PCM16 to μ-law; <paramref name="destination"/> needs one byte per sample.</summary>
    public static void EncodeMuLaw(ReadOnlySpan<short> pcm, Span<byte> destination)
    {
        CheckLength(pcm.Length, destination.Length);
        var table = MuLawEncodeTable;
        for (var i = 0; i < pcm.Length; i++)
        {
            destination[i] = table[(ushort)pcm[i] >> 2];
        }
    }

    /// <summary>Decodes μ-law to PCM16; <paramref name="destination"/> needs one sample per byte.</summary>
    public static void DecodeMuLaw(ReadOnlySpan<byte> encoded, Span<short> destination)
    {
        CheckLength(encoded.Length, destination.Length);
        var table = MuLawDecodeTable;
        for (var i = 0; i < encoded.Length; i++)
        {
            destination[i] = table[encoded[i]];
        }
    }

    /// <summary>Encodes PCM16 to A-law; <paramref name="destination"/> needs one byte per sample.</summary>
    public static void EncodeALaw(ReadOnlySpan<short> pcm, Span<byte> destination)
    {
        CheckLength(pcm.Length, destination.Length);
        var table = ALawEncodeTable;
        for (var i = 0; i < pcm.Length; i++)
        {
            destination[i] = table[(ushort)pcm[i] >> 3];
        }
    }

    /// <summary>Decodes A-law to PCM16; <paramref name="destination"/> needs one sample per byte.</summary>
    public static void DecodeALaw(ReadOnlySpan<byte> encoded, Span<short> destination)
    {
        CheckLength(encoded.Length, destination.Length);
        var table = ALawDecodeTable;
        for (var i = 0; i < encoded.Length; i++)
        {
            destination[i] = table[encoded[i]];
        }
    }

    public static byte EncodeMuLaw(short sample) => MuLawEncodeTable[(ushort)sample >> 2];

    public static short DecodeMuLaw(byte value) => MuLawDecodeTable[value];

    public static byte EncodeALaw(short sample) => ALawEncodeTable[(ushort)sample >> 3];

    public static short DecodeALaw(byte value) => ALawDecodeTable[value];

    private static void CheckLength(int source, int destination)
    {
        if (destination < source)
        {
            throw new ArgumentException($"The destination holds {destination} items but {source} are needed.", nameof(destination));
        }
    }

    // Reference (Sun g711.c) per-sample algorithms, used only to fill the tables.
    private static byte MuLawEncodeReference(int pcm)
    {
        var sign = (pcm >> 8) & 0x80;
        if (sign != 0)
        {
            pcm = -pcm;
        }

        if (pcm > MuLawClip)
        {
            pcm = MuLawClip;
        }

        pcm += MuLawBias;
        var exponent = 7;
        for (var mask = 0x4000; (pcm & mask) == 0 && exponent > 0; mask >>= 1)
        {
            exponent--;
        }

        var mantissa = (pcm >> (exponent + 3)) & 0x0F;
        return (byte)~(sign | (exponent << 4) | mantissa);
    }

    private static short MuLawDecodeReference(byte value)
    {
        int u = (byte)~value;
        var t = ((u & 0x0F) << 3) + MuLawBias;
        t <<= (u & 0x70) >> 4;
        return (short)((u & 0x80) != 0 ? MuLawBias - t : t - MuLawBias);
    }

    private static byte ALawEncodeReference(int pcm)
    {
        int mask;
        pcm >>= 3;
        if (pcm >= 0)
        {
            mask = 0xD5;
        }
        else
        {
            mask = 0x55;
            pcm = -pcm - 1;
        }

        var segment = 0;
        for (var end = 0x1F; segment < 8 && pcm > end; end = (end << 1) | 1)
        {
            segment++;
        }

        if (segment >= 8)
        {
            return (byte)(0x7F ^ mask);
        }

        var value = segment << 4;
        value |= segment < 2 ? (pcm >> 1) & 0x0F : (pcm >> segment) & 0x0F;
        return (byte)(value ^ mask);
    }

    private static short ALawDecodeReference(byte value)
    {
        int a = value ^ 0x55;
        var t = (a & 0x0F) << 4;
        var segment = (a & 0x70) >> 4;
        t = segment switch
        {
            0 => t + 8,
            1 => t + 0x108,
            _ => (t + 0x108) << (segment - 1),
        };

        return (short)((a & 0x80) != 0 ? t : -t);
    }

    private static short[] BuildMuLawDecode()
    {
        var table = new short[256];
        for (var i = 0; i < 256; i++)
        {
            table[i] = MuLawDecodeReference((byte)i);
        }

        return table;
    }

    private static short[] BuildALawDecode()
    {
        var table = new short[256];
        for (var i = 0; i < 256; i++)
        {
            table[i] = ALawDecodeReference((byte)i);
        }

        return table;
    }

    private static byte[] BuildMuLawEncode()
    {
        // Index = top 14 bits of the sample as unsigned; μ-law resolution never needs the low two bits.
        var table = new byte[1 << 14];
        for (var i = 0; i < table.Length; i++)
        {
            var sample = (short)(ushort)(i << 2);
            table[i] = MuLawEncodeReference(sample);
        }

        return table;
    }

    private static byte[] BuildALawEncode()
    {
        // Index = top 13 bits of the sample as unsigned; A-law resolution never needs the low three bits.
        var table = new byte[1 << 13];
        for (var i = 0; i < table.Length; i++)
        {
            var sample = (short)(ushort)(i << 3);
            table[i] = ALawEncodeReference(sample);
        }

        return table;
    }
}
