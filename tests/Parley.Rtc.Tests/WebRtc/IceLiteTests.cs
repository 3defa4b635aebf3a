using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Parley.Rtc.WebRtc;

namespace Parley.Rtc.Tests.WebRtc;

/// <summary>The peer's ICE-lite agent over a real loopback UDP socket.</summary>
public sealed class IceLiteTests
{
    private static readonly string Offer = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "WebRtc", "chrome156-offer.sdp"));

    [Fact]
    public async Task BindingRequest_WithCorrectCredentials_GetsAnIntegrityProtectedResponse_WrongPasswordGetsNone()
    {
        await using var peer = new WebRtcPeer();
        var answer = await peer.CreateAnswerAsync(Offer, CancellationToken.None);
        var ufrag = Line(answer, "a=ice-ufrag:");
        var pwd = Encoding.ASCII.GetBytes(Line(answer, "a=ice-pwd:"));
        using var client = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var server = new IPEndPoint(IPAddress.Loopback, peer.LocalEndPoint!.Port);

        // Wrong password: silently dropped (no response within the wait).
        await client.SendAsync(Request($"{ufrag}:Cgj0", Encoding.ASCII.GetBytes("not-the-password-at-all")), server);
        using (var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await client.ReceiveAsync(quiet.Token));
        }

        // Wrong username (remote ufrag not the offer's): dropped too.
        await client.SendAsync(Request($"{ufrag}:zzzz", pwd), server);
        using (var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(500)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await client.ReceiveAsync(quiet.Token));
        }

        var request = Request($"{ufrag}:Cgj0", pwd);
        await client.SendAsync(request, server);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var response = await client.ReceiveAsync(timeout.Token);
        Assert.True(Stun.TryParse(response.Buffer, out var message));
        Assert.Equal(Stun.BindingSuccess, message.Type);
        Assert.Equal(request.AsSpan(8, 12).ToArray(), response.Buffer.AsSpan(8, 12).ToArray());
        Assert.True(Stun.VerifyIntegrity(response.Buffer, message, pwd));
        Assert.True(Stun.VerifyFingerprint(response.Buffer, message));
        Assert.Equal(client.Client.LocalEndPoint, message.XorMappedAddress(response.Buffer));
        Assert.False(peer.Connected.IsCompleted);
    }

    [Fact]
    public async Task SecondCreateAnswer_IsRefused()
    {
        await using var peer = new WebRtcPeer();
        await peer.CreateAnswerAsync(Offer, CancellationToken.None);
        await Assert.ThrowsAsync<InvalidOperationException>(() => peer.CreateAnswerAsync(Offer, CancellationToken.None));
    }

    [Fact]
    public async Task NoIceWithinConnectTimeout_ClosesThePeer()
    {
        var options = new WebRtcOptions { ConnectTimeout = TimeSpan.FromMilliseconds(300) };
        await using var peer = new WebRtcPeer(options);
        await peer.CreateAnswerAsync(Offer, CancellationToken.None);
        var reason = await peer.Closed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Contains("not connected", reason, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => peer.Connected);
        Assert.False(await peer.ReceivedAudio.WaitToReadAsync());
    }

    private static byte[] Request(string username, byte[] key)
    {
        var buffer = new byte[200];
        var writer = new StunWriter(buffer, Stun.BindingRequest, RandomNumberGenerator.GetBytes(12));
        writer.AddString(Stun.AttrUsername, username);
        writer.AddAttribute(Stun.AttrPriority, [0x6e, 0, 1, 0xff]);
        writer.AddAttribute(Stun.AttrIceControlling, RandomNumberGenerator.GetBytes(8));
        writer.AddAttribute(Stun.AttrUseCandidate, []);
        writer.AddIntegrity(key);
        writer.AddFingerprint();
        return buffer.AsSpan(0, writer.Length).ToArray();
    }

    private static string Line(string sdp, string prefix) =>
        sdp.Split("\r\n").Single(l => l.StartsWith(prefix, StringComparison.Ordinal))[prefix.Length..];
}
