using System.Net;

namespace Parley.Rtc.WebRtc;

/// <summary>Settings of one <see cref="WebRtcPeer"/>.</summary>
public sealed class WebRtcOptions
{
    /// <summary>Local UDP port of the peer's socket; 0 picks an ephemeral port (one socket per peer).</summary>
    public int Port { get; set; }

    /// <summary>
    /// Address the UDP socket binds to (IPv4). When null: the first candidate address if it is a loopback address, otherwise
    /// 0.0.0.0. Bind to a specific address on a multi-homed host: replies to STUN must leave from the address the browser
    /// sent to, and a socket bound to 0.0.0.0 answers from whatever address the kernel picks for the route.
    /// </summary>
    public IPAddress? BindAddress { get; set; }

    internal IPAddress EffectiveBindAddress =>
        BindAddress ?? (CandidateAddresses.Count > 0 && IPAddress.IsLoopback(CandidateAddresses[0]) ? CandidateAddresses[0] : IPAddress.Any);

    /// <summary>
    /// Addresses announced as host candidates in the answer, in priority order (e.g. 127.0.0.1 and the server's public address).
    /// </summary>
    public IList<IPAddress> CandidateAddresses { get; } = [IPAddress.Loopback];

    /// <summary>Packets held by the receive reorder buffer before a missing one is concealed (1..15).</summary>
    public int JitterDepth { get; set; } = 3;

    /// <summary>How long ICE + DTLS may take after the answer before the peer closes.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The peer closes when no valid STUN consent check arrived for this long (browsers send one every ~5 s).</summary>
    public TimeSpan ConsentTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Opus bitrate for audio sent to the browser.</summary>
    public int OpusBitrate { get; set; } = 32000;

    /// <summary>Capacity of <see cref="WebRtcPeer.ReceivedAudio"/> in 20 ms chunks; the oldest chunk is dropped when full.</summary>
    public int ReceiveQueueChunks { get; set; } = 100;

    /// <summary>The DTLS certificate; one is generated per peer when null (generation takes a few milliseconds).</summary>
    public DtlsCertificate? Certificate { get; set; }

    internal void Validate()
    {
        if (Port is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "Port must be 0..65535.");
        }

        if (CandidateAddresses.Count == 0)
        {
            throw new ArgumentException("At least one candidate address is needed.", nameof(CandidateAddresses));
        }

        if (JitterDepth is < 1 or > 15)
        {
            throw new ArgumentOutOfRangeException(nameof(JitterDepth), JitterDepth, "JitterDepth must be 1..15 packets.");
        }

        if (ReceiveQueueChunks < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ReceiveQueueChunks), ReceiveQueueChunks, "ReceiveQueueChunks must be positive.");
        }
    }
}
