using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Parley.Rtc.WebRtc;

/// <summary>
/// One direction of SRTP/SRTCP (RFC 3711) with the AES_CM_128_HMAC_SHA1_80 suite: session keys derived from a 16-byte
/// master key and 14-byte master salt (key derivation rate 0), AES counter mode via AES-ECB keystream blocks, 80-bit
/// HMAC-SHA1 tags, rollover-counter tracking and a 64-packet replay window per SSRC (one remote SSRC is tracked).
/// Protect/Unprotect work in place and allocate nothing. Not thread-safe.
/// </summary>
internal sealed class SrtpContext : IDisposable
{
    public const int MasterKeyLength = 16;
    public const int MasterSaltLength = 14;
    public const int TagLength = 10;
    private const int SrtcpIndexLength = 4;
    private const int MaxPacket = 1500;

    private readonly Aes _rtpCipher;
    private readonly Aes _rtcpCipher;
    private readonly IncrementalHash _rtpAuth;
    private readonly IncrementalHash _rtcpAuth;
    private readonly byte[] _rtpSalt;
    private readonly byte[] _rtcpSalt;
    private readonly byte[] _keystream = new byte[MaxPacket + 16];
    private readonly byte[] _counters = new byte[MaxPacket + 16];

    // Sending state.
    private uint _sendRoc;
    private int _lastSentSeq = -1;
    private uint _srtcpSendIndex;

    // Receiving state (RFC 3711 3.3.1 / Appendix A).
    private bool _receivedAny;
    private uint _roc;
    private ushort _highestSeq;
    private ulong _replayWindow;
    private uint _highestSrtcpIndex;
    private ulong _srtcpReplayWindow;
    private bool _receivedRtcp;

    public SrtpContext(ReadOnlySpan<byte> masterKey, ReadOnlySpan<byte> masterSalt)
    {
        if (masterKey.Length != MasterKeyLength)
        {
            throw new ArgumentException($"The SRTP master key must be {MasterKeyLength} bytes, not {masterKey.Length}.", nameof(masterKey));
        }

        if (masterSalt.Length != MasterSaltLength)
        {
            throw new ArgumentException($"The SRTP master salt must be {MasterSaltLength} bytes, not {masterSalt.Length}.", nameof(masterSalt));
        }

        using var master = Aes.Create();
        master.Key = masterKey.ToArray();
        _rtpCipher = CreateCipher(Derive(master, masterSalt, 0, 16));
        _rtpAuth = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA1, Derive(master, masterSalt, 1, 20));
        _rtpSalt = Derive(master, masterSalt, 2, 14);
        _rtcpCipher = CreateCipher(Derive(master, masterSalt, 3, 16));
        _rtcpAuth = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA1, Derive(master, masterSalt, 4, 20));
        _rtcpSalt = Derive(master, masterSalt, 5, 14);
    }

    /// <summary>
    /// RFC 3711 4.3.1 key derivation with kdr = 0: x = (label || 0^48) xor master_salt, AES-CM keystream of
    /// <paramref name="length"/> bytes from IV = x * 2^16 under the master key.
    /// </summary>
    internal static byte[] Derive(Aes master, ReadOnlySpan<byte> masterSalt, byte label, int length)
    {
        Span<byte> iv = stackalloc byte[16];
        masterSalt.CopyTo(iv);
        iv[7] ^= label;
        var result = new byte[length];
        AesCmKeystream(master, iv, result, new byte[(length + 15) & ~15], new byte[(length + 15) & ~15]);
        return result;
    }

    /// <summary>Writes AES-CM keystream: blocks E(iv + i) for i = 0, 1, ... (counter in the low 16 bits).</summary>
    internal static void AesCmKeystream(Aes cipher, ReadOnlySpan<byte> iv, Span<byte> destination, Span<byte> counterScratch, Span<byte> keystreamScratch)
    {
        var blocks = (destination.Length + 15) / 16;
        var counters = counterScratch[..(blocks * 16)];
        for (var i = 0; i < blocks; i++)
        {
            var block = counters.Slice(i * 16, 16);
            iv.CopyTo(block);
            var counter = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(iv[14..]) + i);
            BinaryPrimitives.WriteUInt16BigEndian(block[14..], counter);
        }

        var stream = keystreamScratch[..(blocks * 16)];
        cipher.EncryptEcb(counters, stream, PaddingMode.None);
        stream[..destination.Length].CopyTo(destination);
    }

    /// <summary>Encrypts and authenticates the RTP packet in <paramref name="buffer"/>[..length] in place; returns the SRTP length.</summary>
    public int ProtectRtp(Span<byte> buffer, int length)
    {
        var headerLength = RtpPacket.HeaderLength(buffer[..length]);
        if (headerLength < 0)
        {
            throw new ArgumentException("Not a valid RTP packet.", nameof(buffer));
        }

        if (buffer.Length < length + TagLength)
        {
            throw new ArgumentException("The buffer has no room for the SRTP authentication tag.", nameof(buffer));
        }

        var seq = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(buffer[8..]);
        if (_lastSentSeq >= 0 && seq < 0x8000 && _lastSentSeq > 0x8000 && _lastSentSeq - seq > 0x8000)
        {
            _sendRoc++;
        }

        _lastSentSeq = seq;
        var index = ((ulong)_sendRoc << 16) | seq;
        Crypt(_rtpCipher, _rtpSalt, ssrc, index, buffer[headerLength..length]);
        WriteTag(_rtpAuth, buffer[..length], _sendRoc, buffer.Slice(length, TagLength));
        return length + TagLength;
    }

    /// <summary>
    /// Authenticates and decrypts the SRTP packet in <paramref name="buffer"/>[..length] in place; returns the RTP length,
    /// or -1 when authentication fails, the packet is a replay or it is malformed.
    /// </summary>
    public int UnprotectRtp(Span<byte> buffer, int length)
    {
        if (length < 12 + TagLength)
        {
            return -1;
        }

        var rtpLength = length - TagLength;
        var headerLength = RtpPacket.HeaderLength(buffer[..rtpLength]);
        if (headerLength < 0)
        {
            return -1;
        }

        var seq = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(buffer[8..]);
        var roc = EstimateRoc(seq);
        var index = ((ulong)roc << 16) | seq;
        if (_receivedAny && !CheckReplay(index))
        {
            return -1;
        }

        Span<byte> tag = stackalloc byte[TagLength];
        WriteTag(_rtpAuth, buffer[..rtpLength], roc, tag);
        if (!CryptographicOperations.FixedTimeEquals(tag, buffer.Slice(rtpLength, TagLength)))
        {
            return -1;
        }

        Crypt(_rtpCipher, _rtpSalt, ssrc, index, buffer[headerLength..rtpLength]);
        Accept(index, roc, seq);
        return rtpLength;
    }

    /// <summary>Encrypts and authenticates the compound RTCP packet in place (E flag set); returns the SRTCP length.</summary>
    public int ProtectRtcp(Span<byte> buffer, int length)
    {
        if (length < 8 || buffer.Length < length + SrtcpIndexLength + TagLength)
        {
            throw new ArgumentException("The RTCP packet is too short or the buffer has no room for the SRTCP trailer.", nameof(buffer));
        }

        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(buffer[4..]);
        var index = _srtcpSendIndex;
        _srtcpSendIndex = (_srtcpSendIndex + 1) & 0x7FFFFFFF;
        Crypt(_rtcpCipher, _rtcpSalt, ssrc, index, buffer[8..length]);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[length..], 0x80000000u | index);
        var authenticated = length + SrtcpIndexLength;
        _rtcpAuth.AppendData(buffer[..authenticated]);
        Span<byte> mac = stackalloc byte[20];
        _rtcpAuth.GetHashAndReset(mac);
        mac[..TagLength].CopyTo(buffer[authenticated..]);
        return authenticated + TagLength;
    }

    /// <summary>Authenticates and decrypts an SRTCP packet in place; returns the RTCP length or -1.</summary>
    public int UnprotectRtcp(Span<byte> buffer, int length)
    {
        if (length < 8 + SrtcpIndexLength + TagLength)
        {
            return -1;
        }

        var authenticated = length - TagLength;
        Span<byte> mac = stackalloc byte[20];
        _rtcpAuth.AppendData(buffer[..authenticated]);
        _rtcpAuth.GetHashAndReset(mac);
        if (!CryptographicOperations.FixedTimeEquals(mac[..TagLength], buffer.Slice(authenticated, TagLength)))
        {
            return -1;
        }

        var rtcpLength = authenticated - SrtcpIndexLength;
        var word = BinaryPrimitives.ReadUInt32BigEndian(buffer[rtcpLength..]);
        var index = word & 0x7FFFFFFF;
        if (_receivedRtcp)
        {
            var delta = (long)index - _highestSrtcpIndex;
            if (delta <= 0 && (-delta >= 64 || (_srtcpReplayWindow & (1UL << (int)-delta)) != 0))
            {
                return -1;
            }

            if (delta > 0)
            {
                _srtcpReplayWindow = delta >= 64 ? 1 : (_srtcpReplayWindow << (int)delta) | 1;
                _highestSrtcpIndex = index;
            }
            else
            {
                _srtcpReplayWindow |= 1UL << (int)-delta;
            }
        }
        else
        {
            _receivedRtcp = true;
            _highestSrtcpIndex = index;
            _srtcpReplayWindow = 1;
        }

        if ((word & 0x80000000) != 0)
        {
            var ssrc = BinaryPrimitives.ReadUInt32BigEndian(buffer[4..]);
            Crypt(_rtcpCipher, _rtcpSalt, ssrc, index, buffer[8..rtcpLength]);
        }

        return rtcpLength;
    }

    /// <summary>RFC 3711 Appendix A: the ROC value v that makes v||seq closest to the highest index seen.</summary>
    private uint EstimateRoc(ushort seq)
    {
        if (!_receivedAny)
        {
            return 0;
        }

        if (_highestSeq < 0x8000)
        {
            return seq - _highestSeq > 0x8000 && _roc > 0 ? _roc - 1 : _roc;
        }

        return _highestSeq - 0x8000 > seq ? _roc + 1 : _roc;
    }

    private bool CheckReplay(ulong index)
    {
        var highest = ((ulong)_roc << 16) | _highestSeq;
        if (index > highest)
        {
            return true;
        }

        var delta = highest - index;
        return delta < 64 && (_replayWindow & (1UL << (int)delta)) == 0;
    }

    private void Accept(ulong index, uint roc, ushort seq)
    {
        if (!_receivedAny)
        {
            _receivedAny = true;
            _roc = roc;
            _highestSeq = seq;
            _replayWindow = 1;
            return;
        }

        var highest = ((ulong)_roc << 16) | _highestSeq;
        if (index > highest)
        {
            var shift = index - highest;
            _replayWindow = shift >= 64 ? 1 : (_replayWindow << (int)shift) | 1;
            _roc = roc;
            _highestSeq = seq;
        }
        else
        {
            _replayWindow |= 1UL << (int)(highest - index);
        }
    }

    /// <summary>XORs <paramref name="payload"/> with the AES-CM keystream for IV = salt*2^16 ^ ssrc*2^64 ^ index*2^16.</summary>
    private void Crypt(Aes cipher, byte[] salt, uint ssrc, ulong index, Span<byte> payload)
    {
        if (payload.IsEmpty)
        {
            return;
        }

        Span<byte> iv = stackalloc byte[16];
        salt.CopyTo(iv);
        iv[14] = 0;
        iv[15] = 0;
        iv[4] ^= (byte)(ssrc >> 24);
        iv[5] ^= (byte)(ssrc >> 16);
        iv[6] ^= (byte)(ssrc >> 8);
        iv[7] ^= (byte)ssrc;
        for (var i = 0; i < 6; i++)
        {
            iv[8 + i] ^= (byte)(index >> (40 - (8 * i)));
        }

        var stream = _keystream.AsSpan(0, payload.Length);
        AesCmKeystream(cipher, iv, stream, _counters, _keystream);
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] ^= _keystream[i];
        }
    }

    private static void WriteTag(IncrementalHash auth, ReadOnlySpan<byte> packet, uint roc, Span<byte> tag)
    {
        Span<byte> rocBytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(rocBytes, roc);
        auth.AppendData(packet);
        auth.AppendData(rocBytes);
        Span<byte> mac = stackalloc byte[20];
        auth.GetHashAndReset(mac);
        mac[..TagLength].CopyTo(tag);
    }

    private static Aes CreateCipher(byte[] key)
    {
        var aes = Aes.Create();
        aes.Key = key;
        return aes;
    }

    public void Dispose()
    {
        _rtpCipher.Dispose();
        _rtcpCipher.Dispose();
        _rtpAuth.Dispose();
        _rtcpAuth.Dispose();
    }
}
