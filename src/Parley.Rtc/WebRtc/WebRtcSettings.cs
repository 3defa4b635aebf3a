using System.Net;

namespace Parley.Rtc.WebRtc;

/// <summary>
/// WebRTC settings of the room WebSocket, bound from <c>Parley:Rtc:WebRtc</c>: turned into one <see cref="WebRtcOptions"/>
/// per <c>WebRtcOffer</c>.
/// </summary>
public sealed class WebRtcSettings
{
    /// <summary>Allows <c>WebRtcOffer</c> on the room WebSocket (default true).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Addresses announced as ICE host candidates, in priority order (IPv4 literals). Empty means 127.0.0.1.</summary>
    public List<string> CandidateAddresses { get; set; } = [];

    /// <summary>Address the per-peer UDP socket binds to; empty picks as <see cref="WebRtcOptions.BindAddress"/> describes.</summary>
    public string? BindAddress { get; set; }

    /// <summary>How long ICE + DTLS may take after the answer.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Opus bitrate for audio sent to the browser.</summary>
    public int OpusBitrate { get; set; } = 32000;

    /// <summary>Builds the options of one peer; throws <see cref="FormatException"/> naming a malformed address.</summary>
    public WebRtcOptions ToPeerOptions()
    {
        var options = new WebRtcOptions { ConnectTimeout = ConnectTimeout, OpusBitrate = OpusBitrate };
        if (CandidateAddresses.Count > 0)
        {
            options.CandidateAddresses.Clear();
            foreach (var text in CandidateAddresses)
            {
                if (!IPAddress.TryParse(text, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                {
                    throw new FormatException($"Parley:Rtc:WebRtc:CandidateAddresses contains '{text}', which is not an IPv4 address.");
                }

                options.CandidateAddresses.Add(address);
            }
        }

        if (!string.IsNullOrWhiteSpace(BindAddress))
        {
            options.BindAddress = IPAddress.TryParse(BindAddress, out var bind)
                ? bind
                : throw new FormatException($"Parley:Rtc:WebRtc:BindAddress '{BindAddress}' is not an IP address.");
        }

        return options;
    }
}
