using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Parley.Rtc.Rooms;
using Parley.Rtc.WebRtc;

namespace Parley.Rtc.WebSockets;

/// <summary>
/// The WebRTC media of one room WebSocket client: the server-side <see cref="WebRtcPeer"/> answering the browser's
/// offer, the microphone pump (peer → live publication) and the send loop (player → peer). The peer ending (ICE/DTLS
/// failure, consent lost, browser closed) ends the connection, as closing the WebSocket ends the peer.
/// </summary>
internal sealed partial class WebRtcMediaBridge : IAsyncDisposable
{
    private readonly WebRtcPeer _peer;
    private StreamPublication? _publication;
    private Task _microphonePump = Task.CompletedTask;

    private WebRtcMediaBridge(WebRtcPeer peer, string answer, StreamPublication? publication, StreamPlayer? player)
    {
        _peer = peer;
        Answer = answer;
        _publication = publication;
        Publication = publication;
        Player = player;
    }

    /// <summary>The answer SDP for the browser.</summary>
    public string Answer { get; }

    /// <summary>The stream the browser's microphone is published to, if any.</summary>
    public StreamPublication? Publication { get; }

    /// <summary>The stream played to the browser, if any.</summary>
    public StreamPlayer? Player { get; }

    /// <summary>
    /// Creates the peer, answers <paramref name="offerSdp"/>, publishes and plays. On a refusal the WebRtcAnswer error has
    /// been sent and null is returned; the caller sends the successful answer (after taking over the streams).
    /// </summary>
    public static async ValueTask<WebRtcMediaBridge?> StartAsync(
        RtcConnection connection, RoomParticipant participant, WebRtcSettings settings, TimeProvider time, ILoggerFactory loggers, string offerSdp, string? publishId, string? playId)
    {
        const string Result = "WebRtcAnswer";
        WebRtcPeer peer;
        string answer;
        var peerLogger = loggers.CreateLogger<WebRtcPeer>();
        try
        {
            peer = new WebRtcPeer(settings.ToPeerOptions(), peerLogger, time);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            LogWebRtcFailed(connection.Logger, connection.ConnectionId, ex);
            connection.SendResult(Result, RtcCodes.InternalError, "the server's WebRTC settings are invalid");
            return null;
        }

        try
        {
            // The peer's receive, DTLS and consent tasks start here and keep this scope: its log lines name the connection.
            using (peerLogger.BeginScope(new KeyValuePair<string, object>[] { new("ConnectionId", connection.ConnectionId) }))
            {
                answer = await peer.CreateAnswerAsync(offerSdp, connection.Token).ConfigureAwait(false);
            }
        }
        catch (SdpException ex)
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            connection.SendResult(Result, RtcCodes.BadSdp, "Sdp: " + ex.Message);
            connection.CountError();
            return null;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            LogWebRtcFailed(connection.Logger, connection.ConnectionId, ex);
            connection.SendResult(Result, RtcCodes.InternalError, "the server could not set up WebRTC media");
            return null;
        }

        StreamPublication? publication = null;
        if (!string.IsNullOrEmpty(publishId))
        {
            try
            {
                publication = participant.Publish(publishId, live: true);
            }
            catch (RoomException ex)
            {
                await peer.DisposeAsync().ConfigureAwait(false);
                connection.SendResult(Result, RtcCodes.Of(ex.Code), ex.Message);
                return null;
            }
        }

        StreamPlayer? player = null;
        if (!string.IsNullOrEmpty(playId))
        {
            try
            {
                player = participant.Play(playId);
            }
            catch (RoomException ex)
            {
                if (publication is not null)
                {
                    await publication.DisposeAsync().ConfigureAwait(false);
                }

                await peer.DisposeAsync().ConfigureAwait(false);
                connection.SendResult(Result, RtcCodes.Of(ex.Code), ex.Message);
                return null;
            }
        }

        var bridge = new WebRtcMediaBridge(peer, answer, publication, player);
        bridge._microphonePump = Task.Run(bridge.PumpMicrophoneAsync, CancellationToken.None);
        _ = peer.Closed.ContinueWith(
            static (t, s) =>
            {
                var c = (RtcConnection)s!;
                LogWebRtcClosed(c.Logger, c.ConnectionId, t.Result);
                c.RequestClose(WebSocketCloseStatus.NormalClosure, "WebRTC peer closed");
            },
            connection,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion,
            TaskScheduler.Default);
        return bridge;
    }

    /// <summary>StopPublish: the browser's audio is dropped from now on (the caller unpublishes).</summary>
    public void StopPublishing() => Volatile.Write(ref _publication, null);

    /// <summary>Moves the browser's microphone (16 kHz chunks from the peer) into the publication, like binary WebSocket audio.</summary>
    private async Task PumpMicrophoneAsync()
    {
        var reader = _peer.ReceivedAudio;
        try
        {
            while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (reader.TryRead(out var chunk))
                {
                    // After StopPublish (or without a publish stream) the audio is dropped.
                    if (Volatile.Read(ref _publication) is { } publication)
                    {
                        publication.TryWriteLive(chunk);
                    }
                    else
                    {
                        chunk.Dispose();
                    }
                }
            }
        }
        catch (ChannelClosedException)
        {
        }
    }

    /// <summary>Sends the played stream's paced 20 ms frames into the peer (Opus over SRTP).</summary>
    public async Task SendAudioLoopAsync(StreamPlayer player, CancellationToken cancellationToken)
    {
        var reader = player.Audio;
        try
        {
            // No token on the wait: the player's queue completes when playing stops.
            while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (reader.TryRead(out var chunk))
                {
                    using (chunk)
                    {
                        await _peer.SendAsync(chunk.Memory, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Ends the peer; disposing it completes ReceivedAudio, which ends the microphone pump.</summary>
    public async ValueTask DisposeAsync()
    {
        await _peer.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _microphonePump.ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
    }

    [LoggerMessage(EventId = 205, Level = LogLevel.Warning, Message = "RTC connection {ConnectionId}: WebRTC setup failed")]
    private static partial void LogWebRtcFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = 206, Level = LogLevel.Debug, Message = "RTC connection {ConnectionId}: WebRTC peer closed ({Reason})")]
    private static partial void LogWebRtcClosed(ILogger logger, string connectionId, string reason);
}
