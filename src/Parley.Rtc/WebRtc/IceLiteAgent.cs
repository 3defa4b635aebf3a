using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Parley.Rtc.WebRtc;

/// <summary>
/// ICE-lite (RFC 8445 §2.5) for one peer: answers the browser's STUN binding checks that carry this peer's credentials
/// (short-term MESSAGE-INTEGRITY and FINGERPRINT), selects the candidate pair (the first checked, then the nominated
/// one) and tracks consent freshness (RFC 7675) by the time of the last valid check. Runs on the peer's receive loop.
/// </summary>
internal sealed class IceLiteAgent
{
    private readonly byte[] _stunResponse = new byte[256];
    private readonly byte[] _localPwd;
    private readonly byte[] _expectedUsername;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private volatile SocketAddress? _selected;
    private long _lastConsentTicks;

    public IceLiteAgent(string remoteUfrag, TimeProvider time, ILogger logger)
    {
        _time = time;
        _logger = logger;
        LocalUfrag = RandomToken(8);
        LocalPwd = RandomToken(24);
        _localPwd = Encoding.ASCII.GetBytes(LocalPwd);
        _expectedUsername = Encoding.ASCII.GetBytes($"{LocalUfrag}:{remoteUfrag}");
        _lastConsentTicks = time.GetTimestamp();
    }

    /// <summary>This peer's ICE username fragment (a=ice-ufrag of the answer).</summary>
    public string LocalUfrag { get; }

    /// <summary>This peer's ICE password (a=ice-pwd of the answer): a secret, never logged.</summary>
    public string LocalPwd { get; }

    /// <summary>The browser's address of the selected candidate pair; null until a valid check arrives.</summary>
    public SocketAddress? Selected => _selected;

    /// <summary>Time since the last valid binding check (consent).</summary>
    public TimeSpan SinceConsent => _time.GetElapsedTime(Interlocked.Read(ref _lastConsentTicks));

    /// <summary>True when <paramref name="from"/> is the selected pair's address.</summary>
    public bool IsSelected(SocketAddress from) => _selected is { } selected && selected.Equals(from);

    /// <summary>
    /// Handles one STUN packet from <paramref name="from"/>: answers a valid binding request through
    /// <paramref name="socket"/>. True when this check selected the first pair (the caller starts DTLS then).
    /// </summary>
    public bool HandleStun(Span<byte> packet, SocketAddress from, Socket socket)
    {
        if (!Stun.TryParse(packet, out var message) || message.Type != Stun.BindingRequest)
        {
            return false;
        }

        if (!message.Username(packet).SequenceEqual(_expectedUsername)
            || !Stun.VerifyIntegrity(packet, message, _localPwd)
            || !Stun.VerifyFingerprint(packet, message))
        {
            WebRtcLog.StunRejected(_logger);
            return false;
        }

        var endpoint = (IPEndPoint)new IPEndPoint(IPAddress.Any, 0).Create(from);

        // A peer bound to loopback serves this machine only: checks from the host's other addresses are not answered,
        // so the browser settles on its loopback candidate and media never leaves 127.0.0.0/8.
        if (socket.LocalEndPoint is IPEndPoint { } local && IPAddress.IsLoopback(local.Address) && !IPAddress.IsLoopback(endpoint.Address))
        {
            return false;
        }

        var length = Stun.WriteBindingSuccess(packet, endpoint, _localPwd, _stunResponse);
        try
        {
            socket.SendTo(_stunResponse.AsSpan(0, length), SocketFlags.None, from);
        }
        catch (SocketException ex)
        {
            WebRtcLog.SendFailed(_logger, ex.SocketErrorCode.ToString());
            return false;
        }

        Interlocked.Exchange(ref _lastConsentTicks, _time.GetTimestamp());
        var current = _selected;
        if (current is null || (message.UseCandidate && !current.Equals(from)))
        {
            var copy = new SocketAddress(from.Family, from.Size);
            from.Buffer.Span[..from.Size].CopyTo(copy.Buffer.Span);
            _selected = copy;
            WebRtcLog.PairSelected(_logger, endpoint.ToString(), message.UseCandidate);
            return current is null;
        }

        return false;
    }

    private static string RandomToken(int length)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        return RandomNumberGenerator.GetString(alphabet, length);
    }
}
