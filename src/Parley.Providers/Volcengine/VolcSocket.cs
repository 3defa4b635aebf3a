using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Parley.Providers.Net;

namespace Parley.Providers.Volcengine;

/// <summary>
/// One WebSocket connection speaking Volcengine's V3 binary protocol: frames out through a reused buffer, whole
/// messages in (bounded by <see cref="VolcengineOptions.MaxMessageBytes"/>), gzip payloads inflated. At most one sender
/// and one receiver at a time. Failures are <see cref="VolcengineException"/>s that never echo the far end's bytes
/// (except a server's own error message) nor the token.
/// </summary>
internal sealed class VolcSocket : IVendorConnection
{
    private readonly ClientWebSocket _socket;
    private readonly ArrayBufferWriter<byte> _out = new(1024);
    private readonly ArrayBufferWriter<byte> _inflated = new(1024);
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly int _maxMessageBytes;
    private byte[] _receive = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private int _disposed;

    private VolcSocket(ClientWebSocket socket, string vendor, string endpoint, string poolKey, int maxMessageBytes)
    {
        _socket = socket;
        Vendor = vendor;
        Endpoint = endpoint;
        PoolKey = poolKey;
        _maxMessageBytes = maxMessageBytes;
    }

    public string Vendor { get; }

    public string Endpoint { get; }

    public string PoolKey { get; }


    /// <summary>The connection id the server gave in ConnectionStarted (bidirectional TTS).</summary>
    public string? ConnectId { get; set; }

    public bool IsOpen => _socket.State == WebSocketState.Open;

    public static async Task<VolcSocket> ConnectAsync(
        string vendor, Uri uri, HttpMessageInvoker invoker, IReadOnlyList<KeyValuePair<string, string>> headers, string poolKey,
        VolcengineOptions options, TimeProvider time, CancellationToken cancellationToken)
    {
        var endpoint = uri.GetLeftPart(UriPartial.Path);
        var socket = new ClientWebSocket();
        foreach (var (name, value) in headers)
        {
            socket.Options.SetRequestHeader(name, value);
        }

        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(20);
        using var limit = new CancellationTokenSource(options.ConnectTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            await socket.ConnectAsync(uri, invoker, linked.Token).ConfigureAwait(false);
            return new VolcSocket(socket, vendor, endpoint, poolKey, options.MaxMessageBytes);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            if (ex is OperationCanceledException && limit.IsCancellationRequested)
            {
                throw new VolcengineException(
                    $"{vendor}: connecting to {endpoint} timed out after {options.ConnectTimeout.TotalSeconds:0.#} s.", VolcengineErrorKind.Timeout, null, ex);
            }

            throw status switch
            {
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new VolcengineException(
                    $"{vendor}: {endpoint} rejected the credentials (HTTP {(int)status} {status}); check Params.app (appid, token, resource_id).",
                    VolcengineErrorKind.Unauthorized, (int)status, ex),
                HttpStatusCode.TooManyRequests => new VolcengineException(
                    $"{vendor}: {endpoint} refused the connection: too many requests (HTTP 429).", VolcengineErrorKind.RateLimited, 429, ex),
                not 0 => new VolcengineException(
                    $"{vendor}: {endpoint} refused the WebSocket connection (HTTP {(int)status} {status}).", VolcengineErrorKind.ConnectFailed, (int)status, ex),
                _ => new VolcengineException($"{vendor}: could not connect to {endpoint}: {OutboundFailure.Describe(ex)}.", VolcengineErrorKind.ConnectFailed, null, ex),
            };
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends one frame; <paramref name="payload"/> is the JSON or audio body.</summary>
    public async Task SendAsync(
        VolcMessageType type, VolcFlags flags, bool json, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken,
        int @event = 0, string? sessionId = null, int sequence = 0, bool gzip = false)
    {
        await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _out.ResetWrittenCount();
            VolcCodec.Write(_out, type, flags, json, payload.Span, @event, sessionId, sequence, gzip);
            await _socket.SendAsync(_out.WrittenMemory, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Sends a JSON event frame (full-client request with an event number).</summary>
    public Task SendEventAsync(int @event, string? sessionId, ReadOnlyMemory<byte> json, CancellationToken cancellationToken) =>
        SendAsync(VolcMessageType.FullClientRequest, VolcFlags.WithEvent, json: true, json, cancellationToken, @event, sessionId);

    /// <summary>
    /// Receives the next frame (its payload is valid until the next receive). Error frames are returned, not thrown;
    /// a close, a text message or a malformed frame throws.
    /// </summary>
    public async ValueTask<VolcFrame> ReceiveAsync(CancellationToken cancellationToken)
    {
        try
        {
            var length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                if (length == _receive.Length)
                {
                    if (length >= _maxMessageBytes)
                    {
                        throw new VolcengineException($"{Vendor}: {Endpoint} sent a message larger than {_maxMessageBytes} bytes.", VolcengineErrorKind.Protocol);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(_receive.Length * 2, _maxMessageBytes + 1));
                    _receive.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(_receive);
                    _receive = larger;
                }

                result = await _socket.ReceiveAsync(_receive.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    throw new VolcengineException(
                        $"{Vendor}: {Endpoint} closed the connection ({_socket.CloseStatus}).", VolcengineErrorKind.ConnectionBroken);
                }

                length += result.Count;
            }
            while (!result.EndOfMessage);

            if (result.MessageType == WebSocketMessageType.Text)
            {
                // The V3 services report some failures as text frames (e.g. a refused request before any session).
                var text = System.Text.Encoding.UTF8.GetString(_receive, 0, Math.Min(length, 400));
                throw new VolcengineException($"{Vendor}: {Endpoint} sent a text message: {VolcengineException.Clip(text)}", VolcengineErrorKind.Protocol);
            }

            var frame = VolcCodec.TryRead(_receive.AsMemory(0, length), _inflated, _maxMessageBytes, out var error);
            return frame ?? throw new VolcengineException($"{Vendor}: {Endpoint} sent a malformed frame: {error}.", VolcengineErrorKind.Protocol);
        }
        catch (Exception ex) when (IsConnectionError(ex, cancellationToken))
        {
            throw Broken(ex);
        }
    }

    /// <summary>The failure an error frame or a failed event (SessionFailed, ConnectionFailed) reports.</summary>
    public VolcengineException Failure(in VolcFrame frame)
    {
        long code = frame.ErrorCode;
        string? message = null;
        if (frame.Payload.Length > 0)
        {
            try
            {
                using var doc = JsonDocument.Parse(frame.Payload);
                var root = doc.RootElement;
                if (root.ValueKind == JsonValueKind.Object)
                {
                    if (root.TryGetProperty("status_code", out var sc) && sc.TryGetInt64(out var c) || root.TryGetProperty("code", out sc) && sc.TryGetInt64(out c))
                    {
                        code = code == 0 ? c : code;
                    }

                    message = root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()
                        : root.TryGetProperty("error", out m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                }
            }
            catch (JsonException)
            {
                message = frame.PayloadText;
            }
        }

        var kind = VolcengineException.KindOfV3(code, message);
        var what = frame.Type == VolcMessageType.Error ? "an error" : $"event {frame.Event}";
        return new VolcengineException($"{Vendor}: Volcengine reported {what}: {code}: {VolcengineException.Clip(message)}", kind, code);
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

    private static bool IsConnectionError(Exception ex, CancellationToken cancellationToken) =>
        ex is WebSocketException or IOException or ObjectDisposedException or InvalidOperationException
        || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private VolcengineException Broken(Exception ex) =>
        new($"{Vendor}: the connection to {Endpoint} broke: {OutboundFailure.Describe(ex)}.", VolcengineErrorKind.ConnectionBroken, null, ex);
}
