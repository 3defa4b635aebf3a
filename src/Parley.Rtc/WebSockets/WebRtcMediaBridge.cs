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
    private readonly CancellationTokenSource _playCts;
    private IRoomLiveAudioOutput? _publication;
    private IRoomAudioInput? _player;
    private Task _microphonePump = Task.CompletedTask;
    private Task _sendLoop = Task.CompletedTask;

    private WebRtcMediaBridge(WebRtcPeer peer, string answer, IRoomLiveAudioOutput? publication, IRoomAudioInput? player, CancellationToken connectionToken)
    {
        _peer = peer;
        Answer = answer;
        _publication = publication;
        _player = player;
        _playCts = CancellationTokenSource.CreateLinkedTokenSource(connectionToken);
    }

    /// <summary>The answer SDP for the browser.</summary>
    public string Answer { get; }

    /// <summary>The stream the browser's microphone is published to, or null.</summary>
    public string? PublishedStreamId => Volatile.Read(ref _publication)?.StreamId;

    /// <summary>The stream played to the browser, or null.</summary>
    public string? PlayedStreamId => _player?.StreamId;

    /// <summary>
    /// Creates the peer, answers <paramref name="offerSdp"/>, publishes and plays. On a refusal the WebRtcAnswer error has
    /// been sent and null is returned; the caller sends the successful answer (after taking over the streams).
    /// </summary>
    public static async ValueTask<WebRtcMediaBridge?> StartAsync(
        RtcConnection connection, IRoomParticipant participant, WebRtcSettings settings, TimeProvider time, ILoggerFactory loggers, string offerSdp, string? publishId, string? playId)
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

        IRoomLiveAudioOutput? publication = null;
        if (!string.IsNullOrEmpty(publishId))
        {
            try
            {
                publication = await participant.PublishLiveAsync(publishId, connection.Token).ConfigureAwait(false);
            }
            catch (RoomException ex)
            {
                await peer.DisposeAsync().ConfigureAwait(false);
                connection.SendResult(Result, RtcCodes.Of(ex.Code), ex.Message);
                return null;
            }
        }

        IRoomAudioInput? player = null;
        if (!string.IsNullOrEmpty(playId))
        {
            try
            {
                player = await participant.PlayAsync(playId, connection.Token).ConfigureAwait(false);
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

        var bridge = new WebRtcMediaBridge(peer, answer, publication, player, connection.Token);
        bridge._microphonePump = Task.Run(bridge.PumpMicrophoneAsync, CancellationToken.None);
        if (player is not null)
        {
            var token = bridge._playCts.Token;
            bridge._sendLoop = Task.Run(() => bridge.SendAudioLoopAsync(player, token), CancellationToken.None);
        }

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

    /// <summary>StopPublish: unpublishes; the browser's audio is dropped from now on. False when nothing is published.</summary>
    public async ValueTask<bool> StopPublishingAsync()
    {
        if (Interlocked.Exchange(ref _publication, null) is not { } publication)
        {
            return false;
        }

        await publication.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// StopPlay: completing the player's queue ends the send loop after its current frame; <paramref name="abort"/>
    /// (teardown) also cancels that send. False when nothing is played.
    /// </summary>
    public async ValueTask<bool> StopPlayingAsync(bool abort = false)
    {
        if (_player is not { } player)
        {
            return false;
        }

        _player = null;
        await player.DisposeAsync().ConfigureAwait(false);
        if (abort)
        {
            _playCts.Cancel();
        }

        try
        {
            await _sendLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
        }

        return true;
    }

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
    private async Task SendAudioLoopAsync(IRoomAudioInput player, CancellationToken cancellationToken)
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

    /// <summary>Stops playing, ends the peer (which completes ReceivedAudio and so the microphone pump) and unpublishes.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopPlayingAsync(abort: true).ConfigureAwait(false);
        await _peer.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _microphonePump.ConfigureAwait(false);
        }
        catch (Exception)
        {
        }

        await StopPublishingAsync().ConfigureAwait(false);
        _playCts.Dispose();
    }

    [LoggerMessage(EventId = 205, Level = LogLevel.Warning, Message = "RTC connection {ConnectionId}: WebRTC setup failed")]
    private static partial void LogWebRtcFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = 206, Level = LogLevel.Debug, Message = "RTC connection {ConnectionId}: WebRTC peer closed ({Reason})")]
    private static partial void LogWebRtcClosed(ILogger logger, string connectionId, string reason);
}
