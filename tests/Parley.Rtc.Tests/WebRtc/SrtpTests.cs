using System.Buffers.Binary;
using System.Security.Cryptography;
using Parley.Rtc.WebRtc;

namespace Parley.Rtc.Tests.WebRtc;

/// <summary>SRTP/SRTCP AES_CM_128_HMAC_SHA1_80 against RFC 3711 Appendix B and behavioural checks.</summary>
public sealed class SrtpTests
{
    [Fact]
    public void AesCounterMode_MatchesRfc3711AppendixB2Keystream()
    {
        using var aes = Aes.Create();
        aes.Key = Convert.FromHexString("2B7E151628AED2A6ABF7158809CF4F3C");
        var iv = Convert.FromHexString("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000");
        var keystream = new byte[48];
        SrtpContext.AesCmKeystream(aes, iv, keystream, new byte[48], new byte[48]);
        Assert.Equal(
            Convert.FromHexString("E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB41E95B3BB0A2E8DD477901E4FCA894C0"),
            keystream);

        // Counter blocks 0xFEFF..0xFF01 of B.2 (the last ones before the counter wraps).
        var tail = new byte[16 * 3];
        var start = Convert.FromHexString("F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF");
        SrtpContext.AesCmKeystream(aes, start, tail, new byte[48], new byte[48]);
        Assert.Equal(Convert.FromHexString("EC8CDF7398607CB0F2D21675EA9EA1E4362B7C3C6773516318A077D7FC5073AE"), tail.AsSpan(0, 32).ToArray());
    }

    [Fact]
    public void KeyDerivation_MatchesRfc3711AppendixB3()
    {
        using var master = Aes.Create();
        master.Key = Convert.FromHexString("E1F97A0D3E018BE0D64FA32C06DE4139");
        var salt = Convert.FromHexString("0EC675AD498AFEEBB6960B3AABE6");
        Assert.Equal(Convert.FromHexString("C61E7A93744F39EE10734AFE3FF7A087"), SrtpContext.Derive(master, salt, 0, 16));
        Assert.Equal(Convert.FromHexString("30CBBC08863D8C85D49DB34A9AE1"), SrtpContext.Derive(master, salt, 2, 14));
        Assert.Equal(Convert.FromHexString("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"), SrtpContext.Derive(master, salt, 1, 20));
    }

    [Fact]
    public void RtpProtectThenUnprotect_RestoresThePacketAndEncryptsThePayload()
    {
        var (key, salt) = Keys();
        using var sender = new SrtpContext(key, salt);
        using var receiver = new SrtpContext(key, salt);
        var buffer = new byte[200];
        var original = Packet(buffer, 1000, 160);
        var protectedLength = sender.ProtectRtp(buffer, original.Length);
        Assert.Equal(original.Length + SrtpContext.TagLength, protectedLength);
        Assert.Equal(original.AsSpan(0, 12).ToArray(), buffer.AsSpan(0, 12).ToArray());
        Assert.NotEqual(original.AsSpan(12).ToArray(), buffer.AsSpan(12, original.Length - 12).ToArray());

        Assert.Equal(original.Length, receiver.UnprotectRtp(buffer, protectedLength));
        Assert.Equal(original, buffer.AsSpan(0, original.Length).ToArray());
    }

    [Fact]
    public void RtpUnprotect_RejectsTamperingAndReplays()
    {
        var (key, salt) = Keys();
        using var sender = new SrtpContext(key, salt);
        using var receiver = new SrtpContext(key, salt);
        var buffer = new byte[200];
        var length = sender.ProtectRtp(buffer, Packet(buffer, 7, 50).Length);
        var copy = buffer.AsSpan(0, length).ToArray();

        var tampered = (byte[])copy.Clone();
        tampered[20] ^= 0x40;
        Assert.Equal(-1, receiver.UnprotectRtp(tampered, length));

        Assert.True(receiver.UnprotectRtp(buffer, length) > 0);
        Assert.Equal(-1, receiver.UnprotectRtp((byte[])copy.Clone(), length)); // replay
    }

    [Fact]
    public void RtpAcrossSequenceWrap_TracksTheRolloverCounterBothWays()
    {
        var (key, salt) = Keys();
        using var sender = new SrtpContext(key, salt);
        using var receiver = new SrtpContext(key, salt);
        var buffer = new byte[200];
        var held = Array.Empty<byte>();
        for (var i = 0; i < 6; i++)
        {
            var seq = (ushort)(65533 + i); // 65533, 65534, 65535, 0, 1, 2
            var original = Packet(buffer, seq, 40);
            var length = sender.ProtectRtp(buffer, original.Length);
            if (seq == 65535)
            {
                held = buffer.AsSpan(0, length).ToArray(); // delivered late, after the wrap
                continue;
            }

            Assert.Equal(original.Length, receiver.UnprotectRtp(buffer, length));
            Assert.Equal(original, buffer.AsSpan(0, original.Length).ToArray());
        }

        // The late packet from before the wrap still authenticates with the previous rollover counter.
        Assert.Equal(held.Length - SrtpContext.TagLength, receiver.UnprotectRtp(held, held.Length));
    }

    [Fact]
    public void ReorderedPacketsWithinTheWindow_AreAccepted_OlderOnesRejected()
    {
        var (key, salt) = Keys();
        using var sender = new SrtpContext(key, salt);
        using var receiver = new SrtpContext(key, salt);
        var packets = new List<byte[]>();
        var buffer = new byte[200];
        for (var seq = 0; seq < 100; seq++)
        {
            var length = sender.ProtectRtp(buffer, Packet(buffer, (ushort)seq, 20).Length);
            packets.Add(buffer.AsSpan(0, length).ToArray());
        }

        Assert.True(receiver.UnprotectRtp(packets[10], packets[10].Length) > 0);
        Assert.True(receiver.UnprotectRtp(packets[90], packets[90].Length) > 0);
        Assert.True(receiver.UnprotectRtp(packets[60], packets[60].Length) > 0); // 30 behind: inside the 64-packet window
        Assert.Equal(-1, receiver.UnprotectRtp(packets[20], packets[20].Length)); // 70 behind: outside
    }

    [Fact]
    public void RtcpProtectThenUnprotect_RoundTripsAndRejectsReplay()
    {
        var (key, salt) = Keys();
        using var sender = new SrtpContext(key, salt);
        using var receiver = new SrtpContext(key, salt);
        var buffer = new byte[100];
        var rtcp = new byte[28];
        rtcp[0] = 0x80;
        rtcp[1] = 200;
        BinaryPrimitives.WriteUInt16BigEndian(rtcp.AsSpan(2), 6);
        BinaryPrimitives.WriteUInt32BigEndian(rtcp.AsSpan(4), 0x11223344);
        RandomNumberGenerator.Fill(rtcp.AsSpan(8));
        rtcp.CopyTo(buffer, 0);
        var length = sender.ProtectRtcp(buffer, rtcp.Length);
        Assert.Equal(rtcp.Length + 4 + SrtpContext.TagLength, length);
        Assert.Equal(0x80, buffer[rtcp.Length] & 0x80); // E flag
        var replay = buffer.AsSpan(0, length).ToArray();
        Assert.Equal(rtcp.Length, receiver.UnprotectRtcp(buffer, length));
        Assert.Equal(rtcp, buffer.AsSpan(0, rtcp.Length).ToArray());
        Assert.Equal(-1, receiver.UnprotectRtcp(replay, length));
    }

    [Fact]
    public void WrongKeyLengths_AreRejectedWithTheParameterName()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SrtpContext(new byte[15], new byte[14]));
        Assert.Equal("masterKey", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => new SrtpContext(new byte[16], new byte[16]));
        Assert.Equal("masterSalt", ex.ParamName);
    }

    private static (byte[] Key, byte[] Salt) Keys() =>
        (RandomNumberGenerator.GetBytes(SrtpContext.MasterKeyLength), RandomNumberGenerator.GetBytes(SrtpContext.MasterSaltLength));

    private static byte[] Packet(byte[] buffer, ushort sequence, int payload)
    {
        Array.Clear(buffer);
        RtpPacket.WriteHeader(buffer, false, 111, sequence, sequence * 960u, 0xCAFEBABE);
        for (var i = 0; i < payload; i++)
        {
            buffer[12 + i] = (byte)(i * 7);
        }

        return buffer.AsSpan(0, 12 + payload).ToArray();
    }
}
