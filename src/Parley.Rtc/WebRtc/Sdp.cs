using System.Globalization;
using System.Text;

namespace Parley.Rtc.WebRtc;

/// <summary>Direction attribute of a media section.</summary>
public enum MediaDirection
{
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

/// <summary>One m= section of a remote offer, as far as the answer needs it.</summary>
internal sealed record SdpMediaSection(string Kind, string Protocol, IReadOnlyList<string> Formats, string? Mid, string RawMLine)
{
    public string? IceUfrag { get; set; }

    public string? IcePwd { get; set; }

    public string? FingerprintAlgorithm { get; set; }

    public string? Fingerprint { get; set; }

    public string? Setup { get; set; }

    public MediaDirection Direction { get; set; } = MediaDirection.SendRecv;

    public int? OpusPayloadType { get; set; }

    public int OpusChannels { get; set; } = 2;

    public uint? Ssrc { get; set; }

    public bool RtcpMux { get; set; }
}

/// <summary>A parsed browser offer: session-level ICE/DTLS attributes and the media sections.</summary>
internal sealed class SdpOffer
{
    private SdpOffer(IReadOnlyList<SdpMediaSection> sections, IReadOnlyList<string> bundle)
    {
        Sections = sections;
        BundleMids = bundle;
    }

    public IReadOnlyList<SdpMediaSection> Sections { get; }

    public IReadOnlyList<string> BundleMids { get; }

    /// <summary>The audio section the transport uses: the first audio m= line that offers Opus/48000.</summary>
    public SdpMediaSection? Audio => Sections.FirstOrDefault(s => s.Kind == "audio" && s.OpusPayloadType is not null && s.Formats.Count > 0);

    /// <summary>Parses an SDP offer; throws <see cref="SdpException"/> naming what is missing or malformed.</summary>
    public static SdpOffer Parse(string sdp)
    {
        ArgumentNullException.ThrowIfNull(sdp);
        if (!sdp.StartsWith("v=0", StringComparison.Ordinal))
        {
            throw new SdpException("The offer is not SDP: it must start with \"v=0\".");
        }

        string? sessionUfrag = null, sessionPwd = null, sessionFingerprintAlg = null, sessionFingerprint = null, sessionSetup = null;
        var bundle = new List<string>();
        var sections = new List<SdpMediaSection>();
        SdpMediaSection? current = null;
        foreach (var rawLine in sdp.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.Length < 2 || line[1] != '=')
            {
                continue;
            }

            var type = line[0];
            var value = line[2..];
            if (type == 'm')
            {
                var parts = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 3)
                {
                    throw new SdpException($"Malformed m= line \"{line}\".");
                }

                current = new SdpMediaSection(parts[0], parts[2], parts.Skip(3).ToArray(), null, line);
                sections.Add(current);
                continue;
            }

            if (type != 'a')
            {
                continue;
            }

            var colon = value.IndexOf(':');
            var name = colon < 0 ? value : value[..colon];
            var arg = colon < 0 ? string.Empty : value[(colon + 1)..];
            switch (name)
            {
                case "group" when arg.StartsWith("BUNDLE", StringComparison.Ordinal):
                    bundle.AddRange(arg.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1));
                    break;
                case "ice-ufrag":
                    if (current is null) { sessionUfrag = arg; } else { current.IceUfrag = arg; }
                    break;
                case "ice-pwd":
                    if (current is null) { sessionPwd = arg; } else { current.IcePwd = arg; }
                    break;
                case "fingerprint":
                    {
                        var space = arg.IndexOf(' ');
                        if (space <= 0)
                        {
                            throw new SdpException($"Malformed a=fingerprint \"{arg}\".");
                        }

                        if (current is null)
                        {
                            sessionFingerprintAlg = arg[..space].ToLowerInvariant();
                            sessionFingerprint = arg[(space + 1)..].Trim();
                        }
                        else
                        {
                            current.FingerprintAlgorithm = arg[..space].ToLowerInvariant();
                            current.Fingerprint = arg[(space + 1)..].Trim();
                        }

                        break;
                    }

                case "setup":
                    if (current is null) { sessionSetup = arg; } else { current.Setup = arg; }
                    break;
                case "mid" when current is not null:
                    var index = sections.Count - 1;
                    sections[index] = current = current with { Mid = arg };
                    break;
                case "sendrecv" when current is not null:
                    current.Direction = MediaDirection.SendRecv;
                    break;
                case "sendonly" when current is not null:
                    current.Direction = MediaDirection.SendOnly;
                    break;
                case "recvonly" when current is not null:
                    current.Direction = MediaDirection.RecvOnly;
                    break;
                case "inactive" when current is not null:
                    current.Direction = MediaDirection.Inactive;
                    break;
                case "rtcp-mux" when current is not null:
                    current.RtcpMux = true;
                    break;
                case "rtpmap" when current is not null && current.OpusPayloadType is null:
                    {
                        // a=rtpmap:111 opus/48000/2
                        var space = arg.IndexOf(' ');
                        if (space > 0 && int.TryParse(arg.AsSpan(0, space), NumberStyles.None, CultureInfo.InvariantCulture, out var pt)
                            && arg[(space + 1)..].StartsWith("opus/48000", StringComparison.OrdinalIgnoreCase))
                        {
                            current.OpusPayloadType = pt;
                            var encoding = arg[(space + 1)..].Split('/');
                            if (encoding.Length > 2 && int.TryParse(encoding[2], NumberStyles.None, CultureInfo.InvariantCulture, out var channels))
                            {
                                current.OpusChannels = channels;
                            }
                        }

                        break;
                    }

                case "ssrc" when current is not null && current.Ssrc is null:
                    {
                        var space = arg.IndexOf(' ');
                        var text = space < 0 ? arg : arg[..space];
                        if (uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ssrc))
                        {
                            current.Ssrc = ssrc;
                        }

                        break;
                    }
            }
        }

        // Session-level values apply to sections that do not override them.
        var resolved = new List<SdpMediaSection>(sections.Count);
        foreach (var section in sections)
        {
            section.IceUfrag ??= sessionUfrag;
            section.IcePwd ??= sessionPwd;
            section.FingerprintAlgorithm ??= sessionFingerprintAlg;
            section.Fingerprint ??= sessionFingerprint;
            section.Setup ??= sessionSetup;
            resolved.Add(section);
        }

        return new SdpOffer(resolved, bundle);
    }
}

/// <summary>Builds the answer for <see cref="WebRtcPeer"/>.</summary>
internal static class SdpAnswer
{
    public static string Build(
        SdpOffer offer,
        SdpMediaSection audio,
        string localUfrag,
        string localPwd,
        string fingerprintSha256,
        uint localSsrc,
        IReadOnlyList<System.Net.IPAddress> candidateAddresses,
        int port,
        long sessionId)
    {
        var sb = new StringBuilder(1024);
        var primary = candidateAddresses[0].ToString();
        var mid = audio.Mid;
        sb.Append("v=0\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"o=- {sessionId} 2 IN IP4 127.0.0.1\r\n");
        sb.Append("s=-\r\n");
        sb.Append("t=0 0\r\n");
        if (mid is not null && offer.BundleMids.Contains(mid))
        {
            sb.Append(CultureInfo.InvariantCulture, $"a=group:BUNDLE {mid}\r\n");
        }

        sb.Append("a=ice-lite\r\n");
        sb.Append("a=msid-semantic: WMS parley\r\n");
        foreach (var section in offer.Sections)
        {
            if (!ReferenceEquals(section, audio))
            {
                // Rejected: port 0 with the offered format list (RFC 3264 6, RFC 8843 7.3.3).
                var formats = section.Formats.Count > 0 ? string.Join(' ', section.Formats) : "0";
                sb.Append(CultureInfo.InvariantCulture, $"m={section.Kind} 0 {section.Protocol} {formats}\r\n");
                sb.Append("c=IN IP4 0.0.0.0\r\n");
                if (section.Mid is not null)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"a=mid:{section.Mid}\r\n");
                }

                sb.Append("a=inactive\r\n");
                continue;
            }

            var pt = audio.OpusPayloadType!.Value;
            sb.Append(CultureInfo.InvariantCulture, $"m=audio {port} UDP/TLS/RTP/SAVPF {pt}\r\n");
            sb.Append(CultureInfo.InvariantCulture, $"c=IN IP4 {primary}\r\n");
            sb.Append(CultureInfo.InvariantCulture, $"a=rtcp:{port} IN IP4 {primary}\r\n");
            sb.Append(CultureInfo.InvariantCulture, $"a=ice-ufrag:{localUfrag}\r\n");
            sb.Append(CultureInfo.InvariantCulture, $"a=ice-pwd:{localPwd}\r\n");
            sb.Append(CultureInfo.InvariantCulture, $"a=fingerprint:sha-256 {fingerprintSha256}\r\n");
            sb.Append("a=setup:passive\r\n");
            if (mid is not null)
            {
                sb.Append(CultureInfo.InvariantCulture, $"a=mid:{mid}\r\n");
            }

            sb.Append(audio.Direction switch
            {
                MediaDirection.SendOnly => "a=recvonly\r\n",
                MediaDirection.RecvOnly => "a=sendonly\r\n",
                MediaDirection.Inactive => "a=inactive\r\n",
                _ => "a=sendrecv\r\n",
            });
            sb.Append("a=msid:parley parley-audio\r\n");
            sb.Append("a=rtcp-mux\r\n");
            sb.Append(CultureInfo.InvariantCulture, $"a=rtpmap:{pt} opus/48000/2\r\n");
            sb.Append(CultureInfo.InvariantCulture, $"a=fmtp:{pt} minptime=10;useinbandfec=1\r\n");
            sb.Append(CultureInfo.InvariantCulture, $"a=ssrc:{localSsrc} cname:parley\r\n");
            sb.Append(CultureInfo.InvariantCulture, $"a=ssrc:{localSsrc} msid:parley parley-audio\r\n");
            var foundation = 1;
            foreach (var address in candidateAddresses)
            {
                var family = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 1 : 0;
                var priority = (126u << 24) | ((uint)(65535 - foundation - family) << 8) | 255u;
                sb.Append(CultureInfo.InvariantCulture, $"a=candidate:{foundation} 1 udp {priority} {address} {port} typ host\r\n");
                foundation++;
            }

            sb.Append("a=end-of-candidates\r\n");
        }

        return sb.ToString();
    }
}

/// <summary>The offer could not be used; the message names the field.</summary>
public sealed class SdpException(string message) : Exception(message);
