using System.Net;
using System.Text;
using Parley.Rtc.WebRtc;

namespace Parley.Rtc.Tests.WebRtc;

/// <summary>STUN against the RFC 5769 test vectors.</summary>
public sealed class StunTests
{
    private static readonly byte[] Password = Encoding.ASCII.GetBytes("VOkJxbRl1RmTxUk/WvJxBt");

    // RFC 5769 2.1 Sample Request.
    internal static readonly byte[] SampleRequest = Convert.FromHexString(
        "000100582112a442b7e7a701bc34d686fa87dfae"
        + "802200105354554e207465737420636c69656e74"
        + "002400046e0001ff80290008932ff9b151263b36"
        + "000600096576746a3a68367659202020"
        + "000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2"
        + "80280004e57a3bcf");

    // RFC 5769 2.2 Sample IPv4 Response.
    private static readonly byte[] SampleIpv4Response = Convert.FromHexString(
        "0101003c2112a442b7e7a701bc34d686fa87dfae"
        + "8022000b7465737420766563746f7220"
        + "002000080001a147e112a643"
        + "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
        + "80280004c07d4c96");

    [Fact]
    public void Rfc5769Request_ParsesUsernameControlAndVerifiesIntegrityAndFingerprint()
    {
        Assert.Equal(108, SampleRequest.Length);
        Assert.True(Stun.TryParse(SampleRequest, out var message));
        Assert.Equal(Stun.BindingRequest, message.Type);
        Assert.Equal("evtj:h6vY", Encoding.ASCII.GetString(message.Username(SampleRequest)));
        Assert.False(message.UseCandidate);
        Assert.False(message.IceControlling);
        Assert.True(Stun.VerifyIntegrity(SampleRequest, message, Password));
        Assert.True(Stun.VerifyFingerprint(SampleRequest, message));
    }

    [Fact]
    public void Rfc5769Request_WrongPasswordOrTamperedByte_FailsVerification()
    {
        Assert.True(Stun.TryParse(SampleRequest, out var message));
        Assert.False(Stun.VerifyIntegrity(SampleRequest, message, Encoding.ASCII.GetBytes("VOkJxbRl1RmTxUk/WvJxBu")));

        var tampered = (byte[])SampleRequest.Clone();
        tampered[46] ^= 1; // inside the PRIORITY value
        Assert.True(Stun.TryParse(tampered, out var tamperedMessage));
        Assert.False(Stun.VerifyIntegrity(tampered, tamperedMessage, Password));
        Assert.False(Stun.VerifyFingerprint(tampered, tamperedMessage));
    }

    [Fact]
    public void Rfc5769Ipv4Response_DecodesXorMappedAddressAndVerifies()
    {
        Assert.True(Stun.TryParse(SampleIpv4Response, out var message));
        Assert.Equal(Stun.BindingSuccess, message.Type);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 32853), message.XorMappedAddress(SampleIpv4Response));
        Assert.True(Stun.VerifyIntegrity(SampleIpv4Response, message, Password));
        Assert.True(Stun.VerifyFingerprint(SampleIpv4Response, message));
    }

    [Fact]
    public void BindingSuccess_ForRfc5769Request_EncodesTheRfcXorAddressAndVerifies()
    {
        var buffer = new byte[256];
        var length = Stun.WriteBindingSuccess(SampleRequest, new IPEndPoint(IPAddress.Parse("192.0.2.1"), 32853), Password, buffer);
        var response = buffer.AsSpan(0, length).ToArray();

        // Same transaction id, and the XOR-MAPPED-ADDRESS attribute bytes are exactly those of RFC 5769 2.2.
        Assert.Equal(SampleRequest.AsSpan(4, 16).ToArray(), response.AsSpan(4, 16).ToArray());
        Assert.Equal(Convert.FromHexString("002000080001a147e112a643"), response.AsSpan(20, 12).ToArray());
        Assert.True(Stun.TryParse(response, out var message));
        Assert.Equal(Stun.BindingSuccess, message.Type);
        Assert.True(Stun.VerifyIntegrity(response, message, Password));
        Assert.True(Stun.VerifyFingerprint(response, message));
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 32853), message.XorMappedAddress(response));
        Assert.Equal(20 + 12 + 24 + 8, length);
    }

    [Fact]
    public void BindingSuccess_Ipv6Mapped_RoundTrips()
    {
        var buffer = new byte[256];
        var endpoint = new IPEndPoint(IPAddress.Parse("2001:db8:1234:5678:11:2233:4455:6677"), 32853);
        var length = Stun.WriteBindingSuccess(SampleRequest, endpoint, Password, buffer);
        Assert.True(Stun.TryParse(buffer.AsSpan(0, length), out var message));
        Assert.Equal(endpoint, message.XorMappedAddress(buffer.AsSpan(0, length)));
    }

    [Theory]
    [InlineData(new byte[] { 0x16, 0xfe, 0xfd })]
    [InlineData(new byte[] { 0x80, 0x6f, 0x00, 0x01 })]
    public void NonStunPackets_AreNotParsed(byte[] packet) => Assert.False(Stun.TryParse(packet, out _));

    [Fact]
    public void TruncatedAttribute_IsRejected()
    {
        var truncated = SampleRequest.AsSpan(0, 96).ToArray();
        truncated[3] = 76; // header length matches, but the last attribute runs past the end
        Assert.False(Stun.TryParse(truncated, out _));
    }

    [Fact]
    public void Crc32_MatchesTheStandardCheckValue() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
}
