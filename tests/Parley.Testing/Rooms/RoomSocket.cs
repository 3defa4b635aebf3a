using System.Net.WebSockets;

namespace Parley.Testing.Rooms;

/// <summary>
/// The client end of one <c>/rtc/ws</c> connection, shared by the test client and the load generator's client:
/// connect, one send at a time, receive until disposed, and a polite close that waits for the receive loop.
/// </summary>
public sealed class RoomSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly SemaphoreSlim _send = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task? _receive;

    private RoomSocket()
    {
    }

    /// <summary>True until the socket is disposed (the receive loop's condition).</summary>
    public bool Receiving => !_stop.IsCancellationRequested;

    /// <summary>Connects to <c>/rtc/ws</c> of <paramref name="serverBase"/> and starts <paramref name="receiveLoop"/>.</summary>
    public static async Task<RoomSocket> ConnectAsync(
        Uri serverBase,
        Func<RoomSocket, Task> receiveLoop,
        Action<ClientWebSocketOptions>? configure,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(serverBase);
        ArgumentNullException.ThrowIfNull(receiveLoop);
        var socket = new RoomSocket();
        configure?.Invoke(socket._socket.Options);
        var secure = serverBase.Scheme is "https" or "wss";
        var uri = new UriBuilder(serverBase) { Scheme = secure ? "wss" : "ws", Path = "/rtc/ws" }.Uri;
        try
        {
            await socket._socket.ConnectAsync(uri, cancellationToken);
        }
        catch
        {
            await socket.DisposeAsync();
            throw;
        }

        socket._receive = Task.Run(() => receiveLoop(socket), CancellationToken.None);
        return socket;
    }

    /// <summary>Receives into <paramref name="buffer"/>; cancelled when the socket is disposed.</summary>
    public ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer) => _socket.ReceiveAsync(buffer, _stop.Token);

    /// <summary>Sends one whole message; concurrent senders take turns.</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> bytes, WebSocketMessageType type, CancellationToken cancellationToken)
    {
        await _send.WaitAsync(cancellationToken);
        try
        {
            await _socket.SendAsync(bytes, type, true, cancellationToken);
        }
        finally
        {
            _send.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync();
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }

        if (_receive is not null)
        {
            await _receive.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _socket.Dispose();
        _stop.Dispose();
        _send.Dispose();
    }
}
