using System.Net;
using Parley.Rtc.WebRtc;

namespace Parley.Rtc.Tests.WebRtc;

public sealed class SdpTests
{
    /// <summary>An offer captured from Chromium 156 (getUserMedia audio track, default RTCPeerConnection).</summary>
    private static readonly string ChromeOffer = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "WebRtc", "chrome156-offer.sdp"));

    /// <summary>The same offer plus the video and data-channel sections Chrome adds for a video transceiver and a data channel.</summary>
    private static string ChromeOfferWithVideoAndData => ChromeOffer.Replace("a=group:BUNDLE 0", "a=group:BUNDLE 0 1 2", StringComparison.Ordinal)
        + "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:Cgj0\r\n"
        + "a=ice-pwd:9xZJcDoV7qgU1LGyzZnG/UG8\r\na=setup:actpass\r\na=mid:1\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n"
        + "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
        + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:Cgj0\r\n"
        + "a=ice-pwd:9xZJcDoV7qgU1LGyzZnG/UG8\r\na=setup:actpass\r\na=mid:2\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";

    [Fact]
    public void ChromeOffer_ParsesIceDtlsOpusMidAndSsrc()
    {
        var offer = SdpOffer.Parse(ChromeOffer);
        var audio = Assert.IsType<SdpMediaSection>(offer.Audio);
        Assert.Equal("0", audio.Mid);
        Assert.Equal("Cgj0", audio.IceUfrag);
        Assert.Equal("9xZJcDoV7qgU1LGyzZnG/UG8", audio.IcePwd);
        Assert.Equal("sha-256", audio.FingerprintAlgorithm);
        Assert.StartsWith("0E:BC:49:6D", audio.Fingerprint, StringComparison.Ordinal);
        Assert.Equal("actpass", audio.Setup);
        Assert.Equal(111, audio.OpusPayloadType);
        Assert.Equal(2, audio.OpusChannels);
        Assert.Equal(3920195153u, audio.Ssrc);
        Assert.True(audio.RtcpMux);
        Assert.Equal(MediaDirection.SendRecv, audio.Direction);
        Assert.Equal(["0"], offer.BundleMids);
    }

    [Fact]
    public void Answer_ForChromeOffer_IsAudioOnlyIceLitePassiveWithHostCandidates()
    {
        var offer = SdpOffer.Parse(ChromeOffer);
        var answer = Build(offer, [IPAddress.Loopback, IPAddress.Parse("203.0.113.7")]);
        var lines = answer.Split("\r\n");
        Assert.Contains("a=group:BUNDLE 0", lines);
        Assert.Contains("a=ice-lite", lines);
        Assert.Contains("m=audio 40000 UDP/TLS/RTP/SAVPF 111", lines);
        Assert.Contains("a=setup:passive", lines);
        Assert.Contains("a=rtcp-mux", lines);
        Assert.Contains("a=sendrecv", lines);
        Assert.Contains("a=mid:0", lines);
        Assert.Contains("a=rtpmap:111 opus/48000/2", lines);
        Assert.Contains("a=ice-ufrag:ufrag123", lines);
        Assert.Contains("a=ice-pwd:password-of-24-characters", lines);
        Assert.Contains("a=fingerprint:sha-256 AA:BB", lines);
        Assert.Contains(lines, l => l.StartsWith("a=candidate:1 1 udp ", StringComparison.Ordinal) && l.EndsWith(" 127.0.0.1 40000 typ host", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("a=candidate:2 1 udp ", StringComparison.Ordinal) && l.EndsWith(" 203.0.113.7 40000 typ host", StringComparison.Ordinal));
        Assert.Single(lines, l => l.StartsWith("m=", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("a=extmap", StringComparison.Ordinal));
    }

    [Fact]
    public void Answer_RejectsVideoAndDataSectionsWithPortZero_AndBundlesOnlyAudio()
    {
        var offer = SdpOffer.Parse(ChromeOfferWithVideoAndData);
        Assert.Equal(3, offer.Sections.Count);
        var lines = Build(offer, [IPAddress.Loopback]).Split("\r\n");
        Assert.Contains("a=group:BUNDLE 0", lines);
        Assert.Contains("m=video 0 UDP/TLS/RTP/SAVPF 96 97", lines);
        Assert.Contains("m=application 0 UDP/DTLS/SCTP webrtc-datachannel", lines);
        Assert.Contains("a=mid:1", lines);
        Assert.Contains("a=mid:2", lines);
        var mLines = lines.Where(l => l.StartsWith("m=", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["audio", "video", "application"], mLines.Select(l => l[2..l.IndexOf(' ')]).ToArray());
    }

    [Theory]
    [InlineData("a=sendonly", "a=recvonly")]
    [InlineData("a=recvonly", "a=sendonly")]
    [InlineData("a=inactive", "a=inactive")]
    public void Answer_MirrorsTheOfferedDirection(string offered, string answered)
    {
        var offer = SdpOffer.Parse(ChromeOffer.Replace("a=sendrecv", offered, StringComparison.Ordinal));
        Assert.Contains(answered, Build(offer, [IPAddress.Loopback]).Split("\r\n"));
    }

    [Fact]
    public async Task CreateAnswer_WithoutFingerprint_ThrowsNamingIt()
    {
        await using var peer = new WebRtcPeer();
        var offer = string.Join("\r\n", ChromeOffer.Split("\r\n").Where(l => !l.StartsWith("a=fingerprint", StringComparison.Ordinal)));
        var ex = await Assert.ThrowsAsync<SdpException>(() => peer.CreateAnswerAsync(offer, CancellationToken.None));
        Assert.Contains("fingerprint", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateAnswer_WithoutOpusAudio_ThrowsNamingIt()
    {
        await using var peer = new WebRtcPeer();
        var offer = ChromeOffer.Replace("opus/48000/2", "foo/48000/2", StringComparison.Ordinal);
        var ex = await Assert.ThrowsAsync<SdpException>(() => peer.CreateAnswerAsync(offer, CancellationToken.None));
        Assert.Contains("opus", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NotSdp_IsRejected() => Assert.Throws<SdpException>(() => SdpOffer.Parse("hello"));

    private static string Build(SdpOffer offer, IPAddress[] addresses) =>
        SdpAnswer.Build(offer, offer.Audio!, "ufrag123", "password-of-24-characters", "AA:BB", 1234, addresses, 40000, 42);
}
