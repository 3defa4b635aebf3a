using System.Buffers;
using System.Net;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Providers.Net;

namespace Parley.Providers.DashScope;

/// <summary>What <see cref="DashScopeConnection.ReceiveAsync"/> got.</summary>
internal enum DashScopeMessageKind
{
    /// <summary>A piece of a binary message (audio); <see cref="DashScopeConnection.Binary"/> holds it until the next receive.</summary>
    Binary,

    /// <summary>A whole JSON event.</summary>
    Event,
}

/// <summary>
/// One WebSocket connection to DashScope's inference endpoint. Tasks run on it one after another (run-task …
/// task-finished); at most one sender and one receiver at a time. Commands are written with a reused
/// <see cref="Utf8JsonWriter"/>, audio goes out and comes in through reused buffers.
/// </summary>
internal sealed class DashScopeConnection : IVendorConnection
{
    private const int ReceiveBufferSize = 16 * 1024;

    private readonly ClientWebSocket _socket;
    private readonly ArrayBufferWriter<byte> _json = new(1024);
    private readonly Utf8JsonWriter _writer;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private byte[] _receive = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
    private int _binaryLength;
    private int _disposed;

    private readonly int _maxMessageBytes;

    private DashScopeConnection(ClientWebSocket socket, string poolKey, string endpoint, int maxMessageBytes)
    {
        _socket = socket;
        PoolKey = poolKey;
        Endpoint = endpoint;
        _maxMessageBytes = maxMessageBytes;
        _writer = new Utf8JsonWriter(_json);
    }

    /// <summary>Which idle list of the pool the connection belongs to.</summary>
    public string PoolKey { get; }

    /// <summary>The endpoint for messages (scheme, host and path; no query).</summary>
    public string Endpoint { get; }


    public bool IsOpen => _socket.State == WebSocketState.Open;

    /// <summary>The last binary piece received (valid until the next receive).</summary>
    public ReadOnlyMemory<byte> Binary => _receive.AsMemory(0, _binaryLength);

    /// <summary>
    /// Opens a connection through <paramref name="invoker"/> (whose handler applies the outbound policy). Failures name
    /// their class ("connection refused", "timed out", "TLS failure", HTTP status) without echoing what the far end sent.
    /// </summary>
    public static async Task<DashScopeConnection> ConnectAsync(
        Uri uri, HttpMessageInvoker invoker, string apiKey, string poolKey, DashScopeOptions options, TimeProvider time, CancellationToken cancellationToken)
    {
        var endpoint = uri.GetLeftPart(UriPartial.Path);
        var timeout = options.ConnectTimeout;
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "bearer " + apiKey);
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.KeepAliveInterval = TimeSpan.FromSeconds(20);
        using var limit = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            await socket.ConnectAsync(uri, invoker, linked.Token).ConfigureAwait(false);
            return new DashScopeConnection(socket, poolKey, endpoint, options.MaxMessageBytes);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            if (ex is OperationCanceledException && limit.IsCancellationRequested)
            {
                throw new DashScopeException($"Connecting to DashScope at {endpoint} timed out after {timeout.TotalSeconds:0.#} s.", "ConnectTimeout", ex);
            }

            if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new DashScopeException(
                    $"DashScope at {endpoint} rejected the API key (HTTP {(int)status} {status}); check Params.app.api_key.", "Unauthorized", ex);
            }

            if (status != 0)
            {
                throw new DashScopeException($"DashScope at {endpoint} refused the WebSocket connection (HTTP {(int)status} {status}).", "HandshakeFailed", ex);
            }

            throw new DashScopeException($"Could not connect to DashScope at {endpoint}: {OutboundFailure.Describe(ex)}.", "ConnectFailed", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends run-task; <paramref name="writePayload"/> writes the payload object's members.</summary>
    public Task SendRunTaskAsync<TState>(string taskId, TState state, Action<Utf8JsonWriter, TState> writePayload, CancellationToken cancellationToken) =>
        SendCommandAsync("run-task", taskId, state, writePayload, cancellationToken);

    public Task SendContinueTaskAsync(string taskId, string text, CancellationToken cancellationToken) =>
        SendCommandAsync("continue-task", taskId, text, static (w, t) =>
        {
            w.WriteStartObject("input");
            w.WriteString("text", t);
            w.WriteEndObject();
        }, cancellationToken);

    public Task SendFinishTaskAsync(string taskId, CancellationToken cancellationToken) =>
        SendCommandAsync("finish-task", taskId, 0, static (w, _) =>
        {
            w.WriteStartObject("input");
            w.WriteEndObject();
        }, cancellationToken);

    public async Task SendBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(data, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken).ConfigureAwait(false);
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
    /// Receives the next binary piece (see <see cref="Binary"/>) or whole JSON event. Throws
    /// <see cref="DashScopeException"/> when the server closes the connection or it breaks.
    /// </summary>
    /// <remarks>Called once per message of every stream (TTS audio pieces, ASR results): its state machine comes from the pool; await it once.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<(DashScopeMessageKind Kind, DashScopeEvent? Event)> ReceiveAsync(CancellationToken cancellationToken)
    {
        try
        {
            var result = await _socket.ReceiveAsync(_receive.AsMemory(), cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new DashScopeException(
                    $"DashScope at {Endpoint} closed the connection ({_socket.CloseStatus} {_socket.CloseStatusDescription}).".Replace(" )", ")", StringComparison.Ordinal),
                    "ConnectionClosed");
            }

            if (result.MessageType == WebSocketMessageType.Binary)
            {
                _binaryLength = result.Count;
                return (DashScopeMessageKind.Binary, null);
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
                // An event is a few hundred bytes; a message this large is not DashScope's. The connection is left
                // half-read: the caller drops it.
                throw new DashScopeException($"DashScope at {Endpoint} sent a message larger than {_maxMessageBytes} bytes", "MessageTooLarge");
            }

            _binaryLength = 0;
            try
            {
                return (DashScopeMessageKind.Event, DashScopeEvent.Parse(_receive.AsSpan(0, length)));
            }
            catch (JsonException ex)
            {
                throw new DashScopeException($"DashScope at {Endpoint} sent an event that is not JSON: {ex.Message}", "BadEvent", ex);
            }
        }
        catch (Exception ex) when (IsConnectionError(ex, cancellationToken))
        {
            throw Broken(ex);
        }
    }

    /// <summary>Drops the connection at once (no close handshake): used for broken or half-read connections.</summary>
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
        _writer.Dispose();
        _sending.Dispose();
        ArrayPool<byte>.Shared.Return(_receive);
        _receive = [];
    }

    private async Task SendCommandAsync<TState>(string action, string taskId, TState state, Action<Utf8JsonWriter, TState> writePayload, CancellationToken cancellationToken)
    {
        await _sending.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _json.ResetWrittenCount();
            _writer.Reset(_json);
            _writer.WriteStartObject();
            _writer.WriteStartObject("header");
            _writer.WriteString("action", action);
            _writer.WriteString("task_id", taskId);
            _writer.WriteString("streaming", "duplex");
            _writer.WriteEndObject();
            _writer.WriteStartObject("payload");
            writePayload(_writer, state);
            _writer.WriteEndObject();
            _writer.WriteEndObject();
            _writer.Flush();
            await _socket.SendAsync(_json.WrittenMemory, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Writes <paramref name="node"/>'s members into the current object, skipping <paramref name="skip"/>.</summary>
    public static void WriteMembers(Utf8JsonWriter writer, JsonObject? node, params ReadOnlySpan<string> skip)
    {
        if (node is null)
        {
            return;
        }

        foreach (var (name, value) in node)
        {
            if (skip.Contains(name))
            {
                continue;
            }

            writer.WritePropertyName(name);
            if (value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                value.WriteTo(writer);
            }
        }
    }

    private static bool IsConnectionError(Exception ex, CancellationToken cancellationToken) =>
        ex is WebSocketException or IOException or ObjectDisposedException or InvalidOperationException
        || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private DashScopeException Broken(Exception ex) =>
        new($"The connection to DashScope at {Endpoint} broke: {OutboundFailure.Describe(ex)}.", "ConnectionBroken", ex);
}
