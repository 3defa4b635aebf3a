using System.Buffers;
using System.Net;
using System.Net.WebSockets;

namespace Parley.Providers.Net;

/// <summary>
/// One client WebSocket to a speech vendor, opened through an invoker whose handler applies the
/// <see cref="OutboundPolicy"/>: one sender at a time, whole messages received into a reused buffer (bounded), and
/// every failure turned into a <see cref="SpeechVendorException"/> whose text names the endpoint without its query
/// (a signed URL's query carries the signature).
/// </summary>
internal sealed class VendorWebSocket : IDisposable
{
    private const int InitialBuffer = 16 * 1024;

    private readonly ClientWebSocket _socket;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly int _maxMessageBytes;
    private byte[] _receive = ArrayPool<byte>.Shared.Rent(InitialBuffer);
    private int _disposed;

    private VendorWebSocket(ClientWebSocket socket, string vendor, string endpoint, int maxMessageBytes, long openedAt)
    {
        _socket = socket;
        Vendor = vendor;
        Endpoint = endpoint;
        _maxMessageBytes = maxMessageBytes;
        OpenedAt = openedAt;
    }

    public string Vendor { get; }

    /// <summary>Scheme, host and path: safe for messages and logs.</summary>
    public string Endpoint { get; }

    /// <summary>When the handshake completed (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long OpenedAt { get; }

    public bool IsOpen => _socket.State == WebSocketState.Open;

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    /// <summary>Opens the WebSocket; <paramref name="configure"/> sets headers. Handshake failures are classified (401/403 auth, 429 rate limit).</summary>
    public static async Task<VendorWebSocket> ConnectAsync(
        string vendor, Uri uri, HttpMessageInvoker invoker, Action<ClientWebSocketOptions>? configure, TimeSpan timeout, int maxMessageBytes,
        TimeProvider time, CancellationToken cancellationToken)
    {
        var endpoint = uri.GetLeftPart(UriPartial.Path);
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(20);
        configure?.Invoke(socket.Options);
        using var limit = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            await socket.ConnectAsync(uri, invoker, linked.Token).ConfigureAwait(false);
            return new VendorWebSocket(socket, vendor, endpoint, maxMessageBytes, time.GetTimestamp());
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            if (ex is OperationCanceledException && limit.IsCancellationRequested)
            {
                throw new SpeechVendorException(vendor, VendorFailureKind.Timeout, $"connecting to {endpoint} timed out after {timeout.TotalSeconds:0.#} s.", "ConnectTimeout", ex);
            }

            throw status switch
            {
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new SpeechVendorException(
                    vendor, VendorFailureKind.Unauthorized, $"{endpoint} rejected the credentials (HTTP {(int)status} {status}).", ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture), ex),
                HttpStatusCode.TooManyRequests => new SpeechVendorException(
                    vendor, VendorFailureKind.RateLimited, $"{endpoint} refused the connection: too many requests (HTTP 429).", "429", ex),
                0 => new SpeechVendorException(vendor, VendorFailureKind.Connection, $"could not connect to {endpoint}: {OutboundFailure.Describe(ex)}.", "ConnectFailed", ex),
                _ => new SpeechVendorException(
                    vendor, (int)status >= 500 ? VendorFailureKind.ServiceError : VendorFailureKind.InvalidRequest,
                    $"{endpoint} refused the WebSocket connection (HTTP {(int)status} {status}).", ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture), ex),
            };
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public Task SendTextAsync(ReadOnlyMemory<byte> utf8, CancellationToken cancellationToken) => SendAsync(utf8, WebSocketMessageType.Text, cancellationToken);

    public Task SendBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => SendAsync(data, WebSocketMessageType.Binary, cancellationToken);

    /// <summary>
    /// Receives one whole message (valid until the next receive). A close from the far end or a broken connection
    /// throws <see cref="SpeechVendorException"/> (<see cref="VendorFailureKind.Connection"/>; <see cref="CloseStatus"/> tells the close code).
    /// </summary>
    public async ValueTask<(WebSocketMessageType Type, ReadOnlyMemory<byte> Data)> ReceiveAsync(CancellationToken cancellationToken)
    {
        try
        {
            var result = await _socket.ReceiveAsync(_receive.AsMemory(), cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                var code = (int?)_socket.CloseStatus;
                throw new SpeechVendorException(
                    Vendor, VendorFailureKind.Connection, $"{Endpoint} closed the connection (close code {code?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}).",
                    "ConnectionClosed");
            }

            var length = result.Count;
            while (!result.EndOfMessage)
            {
                if (length >= _maxMessageBytes)
                {
                    throw new SpeechVendorException(Vendor, VendorFailureKind.ServiceError, $"{Endpoint} sent a message larger than {_maxMessageBytes} bytes.", "MessageTooLarge");
                }

                if (length == _receive.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(_receive.Length * 2, _maxMessageBytes + 1));
                    _receive.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(_receive);
                    _receive = larger;
                }

                result = await _socket.ReceiveAsync(_receive.AsMemory(length), cancellationToken).ConfigureAwait(false);
                length += result.Count;
            }

            return (result.MessageType, _receive.AsMemory(0, length));
        }
        catch (Exception ex) when (IsConnectionError(ex, cancellationToken))
        {
            throw Broken(ex);
        }
    }

    /// <summary>Closes politely (best effort, bounded by <paramref name="cancellationToken"/>).</summary>
    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }
    }

    public void Abort()
    {
        try
        {
            _socket.Abort();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Abort();
        _socket.Dispose();
        _sending.Dispose();
        ArrayPool<byte>.Shared.Return(_receive);
        _receive = [];
    }

    private async Task SendAsync(ReadOnlyMemory<byte> data, WebSocketMessageType type, CancellationToken cancellationToken)
    {
        await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(data, type, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionError(ex, cancellationToken))
        {
            throw Broken(ex);
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>
    /// After a send failed: the receiver's failure when it has one within a moment (the vendor's error message usually
    /// arrives just before it closes the connection), else <paramref name="sendError"/>.
    /// </summary>
    public static async Task<Exception> ReasonAsync(Task receiver, Exception sendError, TimeProvider time)
    {
        try
        {
            await receiver.WaitAsync(TimeSpan.FromSeconds(1), time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        catch (TimeoutException)
        {
        }

        return receiver.IsFaulted ? receiver.Exception!.InnerException ?? sendError : sendError;
    }

    private static bool IsConnectionError(Exception ex, CancellationToken cancellationToken) =>
        ex is WebSocketException or IOException or ObjectDisposedException or InvalidOperationException
        || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private SpeechVendorException Broken(Exception ex) =>
        new(Vendor, VendorFailureKind.Connection, $"the connection to {Endpoint} broke: {OutboundFailure.Describe(ex)}.", "ConnectionBroken", ex);
}
