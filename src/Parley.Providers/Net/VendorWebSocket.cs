using System.Buffers;
using System.Net;
using System.Net.WebSockets;

namespace Parley.Providers.Net;

/// <summary>What <see cref="VendorWebSocket.ReceiveAsync"/> got.</summary>
internal enum VendorMessageKind
{
    /// <summary>A piece of a binary message; <see cref="VendorWebSocket.Message"/> holds it until the next receive.</summary>
    Binary,

    /// <summary>A whole text message (JSON); <see cref="VendorWebSocket.Message"/> holds it until the next receive.</summary>
    Text,
}

/// <summary>
/// A client WebSocket to a speech vendor, shared by the vendors that speak JSON text frames plus (optionally) binary
/// audio (MiniMax, Aliyun NLS): the handshake goes through an <see cref="HttpMessageInvoker"/> whose handler applies
/// the <see cref="OutboundPolicy"/>; text messages are received whole into a reused pooled buffer (bounded by
/// <c>maxMessageBytes</c>), binary messages piece by piece. One sender and one receiver at a time. Failures are
/// turned into the vendor's exception by <c>fail(message, code, inner)</c>; messages name the endpoint without its
/// query (which may hold a token) and never echo what the far end sent.
/// </summary>
internal sealed class VendorWebSocket : IDisposable
{
    /// <summary>Builds the vendor's exception: a message in Parley's words, a code (ConnectTimeout, Unauthorized, HandshakeFailed, ConnectFailed, ConnectionClosed, ConnectionBroken, MessageTooLarge), the cause.</summary>
    public delegate Exception Failure(string message, string code, Exception? inner);

    private const int ReceiveBufferSize = 16 * 1024;

    private readonly ClientWebSocket _socket;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly int _maxMessageBytes;
    private readonly Failure _fail;
    private readonly string _vendor;
    private byte[] _receive = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
    private int _length;
    private int _disposed;

    private VendorWebSocket(ClientWebSocket socket, string vendor, string endpoint, int maxMessageBytes, Failure fail)
    {
        _socket = socket;
        _vendor = vendor;
        Endpoint = endpoint;
        _maxMessageBytes = maxMessageBytes;
        _fail = fail;
    }

    /// <summary>Scheme, host and path of the endpoint (no query): safe for messages.</summary>
    public string Endpoint { get; }

    public bool IsOpen => _socket.State == WebSocketState.Open;

    /// <summary>The last message (text) or piece (binary) received; valid until the next receive.</summary>
    public ReadOnlyMemory<byte> Message => _receive.AsMemory(0, _length);

    /// <summary>
    /// Connects to <paramref name="uri"/> with <paramref name="headers"/> (e.g. Authorization). HTTP 401/403 → code
    /// "Unauthorized" (<paramref name="credentialHint"/> says which field to check), 429 → "RateLimited", other
    /// statuses → "HandshakeFailed", the limit → "ConnectTimeout", else "ConnectFailed".
    /// </summary>
    public static async Task<VendorWebSocket> ConnectAsync(
        string vendor,
        Uri uri,
        HttpMessageInvoker invoker,
        IEnumerable<KeyValuePair<string, string>> headers,
        string credentialHint,
        TimeSpan timeout,
        int maxMessageBytes,
        TimeProvider time,
        Failure fail,
        CancellationToken cancellationToken)
    {
        var endpoint = uri.GetLeftPart(UriPartial.Path);
        var socket = new ClientWebSocket();
        foreach (var (name, value) in headers)
        {
            socket.Options.SetRequestHeader(name, value);
        }

        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(20);
        using var limit = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            await socket.ConnectAsync(uri, invoker, linked.Token).ConfigureAwait(false);
            return new VendorWebSocket(socket, vendor, endpoint, maxMessageBytes, fail);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            if (ex is OutboundPolicyException)
            {
                throw;
            }

            if (ex is OperationCanceledException && limit.IsCancellationRequested)
            {
                throw fail($"Connecting to {vendor} at {endpoint} timed out after {timeout.TotalSeconds:0.#} s.", "ConnectTimeout", ex);
            }

            if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw fail($"{vendor} at {endpoint} rejected the credentials (HTTP {(int)status} {status}); check {credentialHint}.", "Unauthorized", ex);
            }

            if (status == HttpStatusCode.TooManyRequests)
            {
                throw fail($"{vendor} at {endpoint} refused the connection: rate or concurrency limit (HTTP 429).", "RateLimited", ex);
            }

            if (status != 0)
            {
                throw fail($"{vendor} at {endpoint} refused the WebSocket connection (HTTP {(int)status} {status}).", "HandshakeFailed", ex);
            }

            throw fail($"Could not connect to {vendor} at {endpoint}: {OutboundFailure.Describe(ex)}.", "ConnectFailed", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async Task SendTextAsync(ReadOnlyMemory<byte> utf8, CancellationToken cancellationToken)
    {
        await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(utf8, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Receives the next whole text message or binary piece (see <see cref="Message"/>); a close or a break throws the vendor's exception.</summary>
    public async ValueTask<VendorMessageKind> ReceiveAsync(CancellationToken cancellationToken)
    {
        try
        {
            var result = await _socket.ReceiveAsync(_receive.AsMemory(), cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw _fail($"{_vendor} at {Endpoint} closed the connection ({_socket.CloseStatus} {_socket.CloseStatusDescription}).".Replace(" )", ")", StringComparison.Ordinal), "ConnectionClosed", null);
            }

            if (result.MessageType == WebSocketMessageType.Binary)
            {
                _length = result.Count;
                return VendorMessageKind.Binary;
            }

            var length = result.Count;
            while (!result.EndOfMessage && length <= _maxMessageBytes)
            {
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

            if (length > _maxMessageBytes)
            {
                throw _fail($"{_vendor} at {Endpoint} sent a message larger than {_maxMessageBytes} bytes.", "MessageTooLarge", null);
            }

            _length = length;
            return VendorMessageKind.Text;
        }
        catch (Exception ex) when (IsConnectionError(ex, cancellationToken))
        {
            throw Broken(ex);
        }
    }

    /// <summary>Closes politely (best effort, bounded); used when a session ends cleanly.</summary>
    public async Task CloseAsync(TimeSpan timeout, TimeProvider time)
    {
        if (_socket.State != WebSocketState.Open)
        {
            return;
        }

        using var limit = new CancellationTokenSource(timeout, time);
        try
        {
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, limit.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _socket.Abort();
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Dispose();
        _sending.Dispose();
        ArrayPool<byte>.Shared.Return(_receive);
        _receive = [];
        _length = 0;
    }

    private static bool IsConnectionError(Exception ex, CancellationToken cancellationToken) =>
        ex is WebSocketException or IOException or ObjectDisposedException or InvalidOperationException
        || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private Exception Broken(Exception ex) =>
        _fail($"The connection to {_vendor} at {Endpoint} broke: {OutboundFailure.Describe(ex)}.", "ConnectionBroken", ex);
}
