using System.Buffers;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Parley.Media;
using Parley.Rtc.Rooms;
using Parley.Rtc.Tokens;
using Parley.Rtc.Transports;

namespace Parley.Rtc.WebSockets;

/// <summary>
/// One WebSocket client: a receive loop (JSON control messages and binary audio), a control sender draining a bounded
/// queue, and, while playing, an audio sender (a <see cref="TransportBridge"/> sending through this connection, or the
/// WebRTC peer). The senders share a lock because a
/// WebSocket allows one send at a time. Nothing this connection does can block the room's pacers. The protocol is in
/// <see cref="RtcSignaling"/>, the room side (login, publish, play) in <see cref="RtcRoomSession"/>.
/// </summary>
internal sealed partial class RtcConnection : ITransportAudioSender
{
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(2);

    private readonly WebSocket _socket;
    private readonly ParleyRtcOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<OutFrame> _control;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _cts = new();
    private readonly RtcRoomSession _session;

    private int _errors;
    private int _closing;
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string _closeDescription = "";

    public RtcConnection(WebSocket socket, RoomManager rooms, Token04Verifier verifier, AudioCodecRegistry codecs, ParleyRtcOptions options, TimeProvider time, ILoggerFactory loggers, IRoomLocator? locator = null)
    {
        _socket = socket;
        _options = options;
        _time = time;
        _logger = loggers.CreateLogger("Parley.Rtc.WebSockets");
        _control = Channel.CreateBounded<OutFrame>(new BoundedChannelOptions(Math.Max(8, options.SendQueueCapacity))
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _session = new RtcRoomSession(this, rooms, verifier, codecs, options, time, loggers, locator);
    }

    /// <summary>A queued control message: <c>Data[..Length]</c>; <c>Pooled</c>: rented, returned to the pool once sent.</summary>
    private readonly record struct OutFrame(byte[] Data, int Length, bool Pooled, TaskCompletionSource? Sent);

    public string ConnectionId { get; } = Guid.NewGuid().ToString("N")[..12];

    public ILogger Logger => _logger;

    /// <summary>Cancelled when the connection ends (or the close grace period runs out).</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>True once a close was requested: nothing more is sent after the queued control messages.</summary>
    public bool IsClosing => Volatile.Read(ref _closing) != 0;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var link = cancellationToken.UnsafeRegister(static s => ((RtcConnection)s!).RequestClose(WebSocketCloseStatus.EndpointUnavailable, "server shutting down"), this);
        var token = _cts.Token;
        LogOpened(_logger, ConnectionId);
        var controlSender = Task.Run(() => SendControlLoopAsync(token), CancellationToken.None);
        using var loginTimer = MediaTimer.For(_time).CreateTimer( // the shared clock: one timer for every stream and timeout
            static s =>
            {
                var c = (RtcConnection)s!;
                if (!c._session.IsLoggedIn)
                {
                    c.SendError(RtcCodes.NotLoggedIn, "no Login within the login timeout");
                    c.RequestClose(WebSocketCloseStatus.PolicyViolation, "login timeout");
                }
            },
            this,
            _options.LoginTimeout,
            Timeout.InfiniteTimeSpan);
        try
        {
            await ReceiveLoopAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (WebSocketException)
        {
        }
        catch (Exception ex)
        {
            LogFailed(_logger, ConnectionId, ex);
        }
        finally
        {
            await _session.DisposeAsync().ConfigureAwait(false);
            _control.Writer.TryComplete();
            if (!_cts.IsCancellationRequested)
            {
                _cts.CancelAfter(CloseGrace);
            }

            try
            {
                await controlSender.ConfigureAwait(false);
                await DrainUntilCloseAsync(_cts.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
            }

            _cts.Cancel();
            if (_socket.State is not (WebSocketState.Closed or WebSocketState.Aborted))
            {
                _socket.Abort();
            }

            _cts.Dispose();
            LogClosed(_logger, ConnectionId);
        }
    }

    /// <summary>After our Close frame, reads (and ignores) until the client's Close arrives or the grace period ends.</summary>
    private async Task DrainUntilCloseAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[1024];
        while (_socket.State == WebSocketState.CloseSent)
        {
            var result = await _socket.ReceiveAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[Math.Max(1024, _options.MaxMessageBytes)];
        while (!cancellationToken.IsCancellationRequested)
        {
            var count = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                if (count == buffer.Length)
                {
                    SendError(RtcCodes.BadMessage, $"message larger than {buffer.Length} bytes");
                    RequestClose(WebSocketCloseStatus.MessageTooBig, "message too big");
                    return;
                }

                result = await _socket.ReceiveAsync(buffer.AsMemory(count), cancellationToken).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    RequestClose(WebSocketCloseStatus.NormalClosure, "");
                    return;
                }

                count += result.Count;
            }
            while (!result.EndOfMessage);

            if (result.MessageType == WebSocketMessageType.Text)
            {
                await HandleTextAsync(buffer.AsMemory(0, count)).ConfigureAwait(false);
            }
            else
            {
                _session.HandleAudio(buffer.AsSpan(0, count));
            }

            if (IsClosing)
            {
                return;
            }
        }
    }

    private async ValueTask HandleTextAsync(ReadOnlyMemory<byte> text)
    {
        if (RtcSignaling.TryParse(text, out var document, out var type, out var typeName) is { } refusal)
        {
            SendError(refusal.Code, refusal.Message);
            return;
        }

        using (document)
        {
            var root = document!.RootElement;
            if (type is not (RtcMessageType.Login or RtcMessageType.Ping or RtcMessageType.Unknown) && !_session.IsLoggedIn)
            {
                SendError(RtcCodes.NotLoggedIn, $"{typeName} before Login");
                return;
            }

            switch (type)
            {
                case RtcMessageType.Login:
                    await _session.LoginAsync(RtcSignaling.ReadLogin(root)).ConfigureAwait(false);
                    break;
                case RtcMessageType.Publish:
                    await _session.PublishAsync(RtcSignaling.ReadStream(root)).ConfigureAwait(false);
                    break;
                case RtcMessageType.Play:
                    await _session.PlayAsync(RtcSignaling.ReadStream(root)).ConfigureAwait(false);
                    break;
                case RtcMessageType.StopPublish:
                    await _session.StopPublishAsync().ConfigureAwait(false);
                    break;
                case RtcMessageType.StopPlay:
                    await _session.StopPlayAsync().ConfigureAwait(false);
                    break;
                case RtcMessageType.RoomMessage:
                    if (RtcSignaling.ReadRoomMessage(root, out var invalid) is { } message)
                    {
                        await _session.SendRoomMessageAsync(message).ConfigureAwait(false);
                    }
                    else
                    {
                        SendError(invalid!.Value.Code, invalid.Value.Message);
                    }

                    break;
                case RtcMessageType.WebRtcOffer:
                    await _session.OfferWebRtcAsync(RtcSignaling.ReadWebRtcOffer(root)).ConfigureAwait(false);
                    break;
                case RtcMessageType.Ping:
                    Send(RtcSignaling.Pong());
                    break;
                case RtcMessageType.Logout:
                    RequestClose(WebSocketCloseStatus.NormalClosure, "logout");
                    break;
                default:
                    SendError(RtcCodes.UnknownType, $"unknown Type '{RtcSignaling.Truncate(typeName, 64)}'");
                    break;
            }
        }
    }

    // ---- sending ----------------------------------------------------------------------------------------------

    /// <summary>
    /// Sends one binary frame (encoded audio of the played stream) under the send lock; false once the connection is
    /// closing. Cancelling it aborts the socket (only at teardown).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    async ValueTask<bool> ITransportAudioSender.SendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (IsClosing)
        {
            return false;
        }

        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(payload, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (WebSocketException)
        {
            return false;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task SendControlLoopAsync(CancellationToken cancellationToken)
    {
        // The waits for the next message do not register on the token (a cancellable channel wait allocates an
        // operation and a registration each time, i.e. per room event or subtitle): cancelling the connection completes
        // the queue instead, which ends the wait the same way, and later sends are dropped as on any closing connection.
        using var completeOnCancel = cancellationToken.UnsafeRegister(static state =>
        {
            var connection = (RtcConnection)state!;
            Interlocked.Exchange(ref connection._closing, 1);
            connection._control.Writer.TryComplete();
        }, this);
        try
        {
            var reader = _control.Reader;
            while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (reader.TryRead(out var frame))
                {
                    await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
                    try
                    {
                        await _socket.SendAsync(frame.Data.AsMemory(0, frame.Length), WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        _sendLock.Release();
                        if (frame.Pooled)
                        {
                            ArrayPool<byte>.Shared.Return(frame.Data);
                        }
                    }

                    frame.Sent?.TrySetResult();
                }
            }

            // The queue completed: the connection is closing. The audio sender stops at its next frame; say goodbye.
            await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await _socket.CloseOutputAsync(_closeStatus, _closeDescription, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                _sendLock.Release();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (WebSocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void SendError(int code, string message)
    {
        CountError();
        Send(RtcSignaling.Error(code, message));
    }

    public void SendResult(string type, int code, string message, string? streamId = null) =>
        Send(RtcSignaling.Result(type, code, message, streamId));

    public void SendResult(string type, RtcRefusal refusal) => SendResult(type, refusal.Code, refusal.Message);

    /// <summary>Counts a client error; too many end the connection.</summary>
    public void CountError()
    {
        if (Interlocked.Increment(ref _errors) == _options.MaxErrorsPerConnection)
        {
            RequestClose(WebSocketCloseStatus.PolicyViolation, "too many errors");
        }
    }

    /// <summary>Queues a control message; <paramref name="sent"/> completes once it is on the wire. A full queue drops the client.</summary>
    public void Send(byte[] frame, TaskCompletionSource? sent = null) => Enqueue(new OutFrame(frame, frame.Length, Pooled: false, sent));

    /// <summary>
    /// Queues a control message in an array rented from <see cref="ArrayPool{T}.Shared"/> (its first
    /// <paramref name="length"/> bytes); ownership moves here: it is returned once sent, or at once when the queue is
    /// full. One still queued when the connection closes is left to the GC (the pool does not need it back).
    /// </summary>
    public void SendPooled(byte[] rented, int length) => Enqueue(new OutFrame(rented, length, Pooled: true, null));

    private void Enqueue(OutFrame frame)
    {
        if (!_control.Writer.TryWrite(frame))
        {
            if (frame.Pooled)
            {
                ArrayPool<byte>.Shared.Return(frame.Data);
            }

            if (!IsClosing)
            {
                LogSlowConsumer(_logger, ConnectionId);
                Abort();
            }

            frame.Sent?.TrySetCanceled();
        }
    }

    /// <summary>Closes after the queued control messages: the Close frame follows them; the socket is aborted if the client does not answer within 2 s.</summary>
    public void RequestClose(WebSocketCloseStatus status, string description)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        _closeStatus = status;
        _closeDescription = description;
        _control.Writer.TryComplete();
        try
        {
            _cts.CancelAfter(CloseGrace);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Abort()
    {
        Interlocked.Exchange(ref _closing, 1);
        _control.Writer.TryComplete();
        _socket.Abort();
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Debug, Message = "RTC connection {ConnectionId} opened")]
    private static partial void LogOpened(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 201, Level = LogLevel.Debug, Message = "RTC connection {ConnectionId} closed")]
    private static partial void LogClosed(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "RTC connection {ConnectionId}: send queue overflow, disconnecting a slow client")]
    private static partial void LogSlowConsumer(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 204, Level = LogLevel.Error, Message = "RTC connection {ConnectionId} failed")]
    private static partial void LogFailed(ILogger logger, string connectionId, Exception exception);
}
