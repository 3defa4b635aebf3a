using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Parley.Rtc.WebRtc;

/// <summary>STUN (RFC 5389) pieces that an ICE-lite agent needs: parsing, integrity and fingerprint checks, Binding success responses.</summary>
internal static class Stun
{
    public const uint MagicCookie = 0x2112A442;
    public const ushort BindingRequest = 0x0001;
    public const ushort BindingSuccess = 0x0101;
    public const ushort BindingError = 0x0111;

    public const ushort AttrMappedAddress = 0x0001;
    public const ushort AttrUsername = 0x0006;
    public const ushort AttrMessageIntegrity = 0x0008;
    public const ushort AttrErrorCode = 0x0009;
    public const ushort AttrXorMappedAddress = 0x0020;
    public const ushort AttrPriority = 0x0024;
    public const ushort AttrUseCandidate = 0x0025;
    public const ushort AttrSoftware = 0x8022;
    public const ushort AttrFingerprint = 0x8028;
    public const ushort AttrIceControlled = 0x8029;
    public const ushort AttrIceControlling = 0x802A;

    private const uint FingerprintXor = 0x5354554e;
    private const int HeaderLength = 20;

    /// <summary>True when <paramref name="packet"/> looks like a STUN message (RFC 7983 first byte 0..3, magic cookie, length).</summary>
    public static bool IsStun(ReadOnlySpan<byte> packet) =>
        packet.Length >= HeaderLength && packet[0] < 4
        && BinaryPrimitives.ReadUInt32BigEndian(packet[4..]) == MagicCookie
        && BinaryPrimitives.ReadUInt16BigEndian(packet[2..]) + HeaderLength == packet.Length
        && (packet[3] & 3) == 0;

    /// <summary>Parses the header and attributes; returns false for a malformed message.</summary>
    public static bool TryParse(ReadOnlySpan<byte> packet, out StunMessage message)
    {
        message = default;
        if (!IsStun(packet))
        {
            return false;
        }

        var type = BinaryPrimitives.ReadUInt16BigEndian(packet);
        var usernameOffset = -1;
        var usernameLength = 0;
        var integrityOffset = -1;
        var fingerprintOffset = -1;
        var useCandidate = false;
        var controlling = false;
        var xorMapped = -1;
        var offset = HeaderLength;
        while (offset + 4 <= packet.Length)
        {
            var attrType = BinaryPrimitives.ReadUInt16BigEndian(packet[offset..]);
            var attrLength = BinaryPrimitives.ReadUInt16BigEndian(packet[(offset + 2)..]);
            var valueOffset = offset + 4;
            if (valueOffset + attrLength > packet.Length)
            {
                return false;
            }

            if (integrityOffset >= 0 && attrType != AttrFingerprint)
            {
                // Only FINGERPRINT may follow MESSAGE-INTEGRITY (RFC 5389 15.4); later attributes are ignored.
                offset = valueOffset + ((attrLength + 3) & ~3);
                continue;
            }

            switch (attrType)
            {
                case AttrUsername:
                    usernameOffset = valueOffset;
                    usernameLength = attrLength;
                    break;
                case AttrMessageIntegrity when attrLength == 20:
                    integrityOffset = offset;
                    break;
                case AttrFingerprint when attrLength == 4:
                    fingerprintOffset = offset;
                    break;
                case AttrUseCandidate:
                    useCandidate = true;
                    break;
                case AttrIceControlling:
                    controlling = true;
                    break;
                case AttrXorMappedAddress:
                    xorMapped = offset;
                    break;
            }

            offset = valueOffset + ((attrLength + 3) & ~3);
        }

        if (offset != packet.Length)
        {
            return false;
        }

        message = new StunMessage(type, usernameOffset, usernameLength, integrityOffset, fingerprintOffset, useCandidate, controlling, xorMapped);
        return true;
    }

    /// <summary>CRC-32 (IEEE) of <paramref name="data"/> xor 0x5354554e, as FINGERPRINT carries it.</summary>
    public static uint Fingerprint(ReadOnlySpan<byte> data) => Crc32.Compute(data) ^ FingerprintXor;

    /// <summary>Checks FINGERPRINT when present (a request without one passes); false when it is present and wrong.</summary>
    public static bool VerifyFingerprint(ReadOnlySpan<byte> packet, in StunMessage message)
    {
        if (message.FingerprintOffset < 0)
        {
            return true;
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        packet[..HeaderLength].CopyTo(header);
        // The length field counts up to and including the FINGERPRINT attribute (it is the last one).
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(message.FingerprintOffset + 8 - HeaderLength));
        var crc = Crc32.Append(Crc32.Append(Crc32.Initial, header), packet[HeaderLength..message.FingerprintOffset]);
        var expected = Crc32.Finish(crc) ^ FingerprintXor;
        return BinaryPrimitives.ReadUInt32BigEndian(packet[(message.FingerprintOffset + 4)..]) == expected;
    }

    /// <summary>Checks MESSAGE-INTEGRITY (HMAC-SHA1 keyed with the short-term password); false when absent or wrong.</summary>
    public static bool VerifyIntegrity(ReadOnlySpan<byte> packet, in StunMessage message, ReadOnlySpan<byte> key)
    {
        if (message.IntegrityOffset < 0)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderLength];
        packet[..HeaderLength].CopyTo(header);
        // The length field covers up to and including MESSAGE-INTEGRITY (RFC 5389 15.4).
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(message.IntegrityOffset + 24 - HeaderLength));
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA1, key);
        hmac.AppendData(header);
        hmac.AppendData(packet[HeaderLength..message.IntegrityOffset]);
        Span<byte> mac = stackalloc byte[20];
        hmac.GetHashAndReset(mac);
        return CryptographicOperations.FixedTimeEquals(mac, packet.Slice(message.IntegrityOffset + 4, 20));
    }

    /// <summary>
    /// Writes a Binding success response to <paramref name="request"/>'s transaction with XOR-MAPPED-ADDRESS of
    /// <paramref name="mapped"/>, MESSAGE-INTEGRITY keyed with <paramref name="key"/> and FINGERPRINT; returns its length.
    /// </summary>
    public static int WriteBindingSuccess(ReadOnlySpan<byte> request, IPEndPoint mapped, ReadOnlySpan<byte> key, Span<byte> destination)
    {
        var writer = new StunWriter(destination, BindingSuccess, request.Slice(8, 12));
        writer.AddXorMappedAddress(mapped);
        writer.AddIntegrity(key);
        writer.AddFingerprint();
        return writer.Length;
    }
}

/// <summary>Offsets of the attributes of a parsed STUN message (into the packet it was parsed from).</summary>
internal readonly record struct StunMessage(
    ushort Type, int UsernameOffset, int UsernameLength, int IntegrityOffset, int FingerprintOffset, bool UseCandidate, bool IceControlling,
    int XorMappedAddressOffset)
{
    public ReadOnlySpan<byte> Username(ReadOnlySpan<byte> packet) =>
        UsernameOffset < 0 ? default : packet.Slice(UsernameOffset, UsernameLength);

    /// <summary>Decodes XOR-MAPPED-ADDRESS (IPv4 or IPv6) or returns null.</summary>
    public IPEndPoint? XorMappedAddress(ReadOnlySpan<byte> packet)
    {
        if (XorMappedAddressOffset < 0)
        {
            return null;
        }

        var value = packet[(XorMappedAddressOffset + 4)..];
        var length = BinaryPrimitives.ReadUInt16BigEndian(packet[(XorMappedAddressOffset + 2)..]);
        var port = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(value[2..]) ^ (Stun.MagicCookie >> 16));
        Span<byte> address = stackalloc byte[value[1] == 2 ? 16 : 4];
        if (length < 4 + address.Length)
        {
            return null;
        }

        for (var i = 0; i < address.Length; i++)
        {
            // XOR with the magic cookie then the transaction id (bytes 4..19 of the header).
            address[i] = (byte)(value[4 + i] ^ packet[4 + i]);
        }

        return new IPEndPoint(new IPAddress(address), port);
    }
}

/// <summary>Builds a STUN message in place.</summary>
internal ref struct StunWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    public StunWriter(Span<byte> buffer, ushort type, ReadOnlySpan<byte> transactionId)
    {
        if (transactionId.Length != 12)
        {
            throw new ArgumentException("A STUN transaction id is 12 bytes.", nameof(transactionId));
        }

        _buffer = buffer;
        BinaryPrimitives.WriteUInt16BigEndian(buffer, type);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], Stun.MagicCookie);
        transactionId.CopyTo(buffer[8..]);
        _length = 20;
    }

    public readonly int Length => _length;

    public void AddAttribute(ushort type, scoped ReadOnlySpan<byte> value)
    {
        var start = Begin(type, value.Length);
        value.CopyTo(_buffer[start..]);
        End(value.Length);
    }

    public void AddString(ushort type, string value)
    {
        var bytes = Encoding.UTF8.GetByteCount(value);
        var start = Begin(type, bytes);
        Encoding.UTF8.GetBytes(value, _buffer[start..]);
        End(bytes);
    }

    public void AddXorMappedAddress(IPEndPoint endpoint)
    {
        var v6 = endpoint.AddressFamily == AddressFamily.InterNetworkV6;
        var addressLength = v6 ? 16 : 4;
        var start = Begin(Stun.AttrXorMappedAddress, 4 + addressLength);
        var value = _buffer[start..];
        value[0] = 0;
        value[1] = (byte)(v6 ? 2 : 1);
        BinaryPrimitives.WriteUInt16BigEndian(value[2..], (ushort)(endpoint.Port ^ (int)(Stun.MagicCookie >> 16)));
        endpoint.Address.TryWriteBytes(value.Slice(4, addressLength), out _);
        for (var i = 0; i < addressLength; i++)
        {
            value[4 + i] ^= _buffer[4 + i];
        }

        End(4 + addressLength);
    }

    public void AddIntegrity(ReadOnlySpan<byte> key)
    {
        // The length field must already include the MESSAGE-INTEGRITY attribute while hashing.
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)(_length + 24 - 20));
        Span<byte> mac = stackalloc byte[20];
        HMACSHA1.HashData(key, _buffer[.._length], mac);
        AddAttribute(Stun.AttrMessageIntegrity, mac);
    }

    public void AddFingerprint()
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)(_length + 8 - 20));
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Stun.Fingerprint(_buffer[.._length]));
        AddAttribute(Stun.AttrFingerprint, crc);
    }

    private int Begin(ushort type, int length)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[_length..], type);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[(_length + 2)..], (ushort)length);
        return _length + 4;
    }

    private void End(int valueLength)
    {
        var padded = (valueLength + 3) & ~3;
        _buffer.Slice(_length + 4 + valueLength, padded - valueLength).Clear();
        _length += 4 + padded;
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)(_length - 20));
    }
}

/// <summary>CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320).</summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    public const uint Initial = 0xFFFFFFFF;

    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Append(Initial, data));

    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    public static uint Finish(uint crc) => crc ^ 0xFFFFFFFF;

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var c = i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }

            table[i] = c;
        }

        return table;
    }
}
