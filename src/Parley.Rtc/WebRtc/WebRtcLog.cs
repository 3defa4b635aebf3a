using Microsoft.Extensions.Logging;

namespace Parley.Rtc.WebRtc;

/// <summary>
/// The log lines of a <see cref="WebRtcPeer"/> and its parts (category <c>Parley.Rtc.WebRtc.WebRtcPeer</c>). Failures of
/// ICE, DTLS or consent are warnings; ICE credentials and SRTP keys are never logged.
/// </summary>
internal static partial class WebRtcLog
{
    [LoggerMessage(1, LogLevel.Debug, "WebRTC answer ready on UDP port {Port} (mid {Mid}, Opus payload type {PayloadType})")]
    public static partial void Answered(ILogger logger, int port, string mid, int payloadType);

    [LoggerMessage(2, LogLevel.Debug, "ICE candidate pair selected: remote {Remote} (USE-CANDIDATE {Nominated})")]
    public static partial void PairSelected(ILogger logger, string remote, bool nominated);

    [LoggerMessage(3, LogLevel.Information, "WebRTC peer connected (DTLS-SRTP established)")]
    public static partial void Connected(ILogger logger);

    [LoggerMessage(4, LogLevel.Information, "WebRTC peer closed: {Reason}")]
    public static partial void Closed(ILogger logger, string reason);

    [LoggerMessage(10, LogLevel.Warning, "WebRTC peer failed: {Reason}")]
    public static partial void Failed(ILogger logger, string reason);

    [LoggerMessage(6, LogLevel.Debug, "STUN request rejected (username, integrity or fingerprint mismatch)")]
    public static partial void StunRejected(ILogger logger);

    [LoggerMessage(7, LogLevel.Debug, "UDP send failed: {Error}")]
    public static partial void SendFailed(ILogger logger, string error);

    [LoggerMessage(9, LogLevel.Debug, "DTLS: {Message}")]
    public static partial void DtlsTrace(ILogger logger, string message);

    [LoggerMessage(8, LogLevel.Debug, "Media packet dropped: {Error}")]
    public static partial void PacketDropped(ILogger logger, string error);
}
