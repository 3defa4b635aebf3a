using System.Diagnostics;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Parley.Testing.Rooms;

/// <summary>A received audio frame and when it arrived (Stopwatch ticks).</summary>
public sealed record ReceivedFrame(short[] Samples, long ArrivedTicks);

/// <summary>
/// A room client written from docs/protocol.md: logs in over <c>/rtc/ws</c>, publishes and plays PCM16 streams, and
/// records every control message and audio frame it receives.
/// </summary>
public sealed class RoomTestClient : IAsyncDisposable
{
    private readonly Channel<JsonElement> _messages = Channel.CreateUnbounded<JsonElement>();
    private readonly List<JsonElement> _allMessages = [];
    private readonly List<long> _arrivals = [];
    private readonly List<ReceivedFrame> _frames = [];
    private readonly Lock _lock = new();
    private RoomSocket? _socket;

    public IReadOnlyList<ReceivedFrame> Frames
    {
        get
        {
            lock (_lock)
            {
                return [.. _frames];
            }
        }
    }

    public IReadOnlyList<JsonElement> Messages
    {
        get
        {
            lock (_lock)
            {
                return [.. _allMessages];
            }
        }
    }

    /// <summary>The in-room messages (<c>Message</c> of each RoomMessage) received so far.</summary>
    public IReadOnlyList<JsonElement> RoomMessages => [.. Messages.Where(m => m.GetProperty("Type").GetString() == "RoomMessage").Select(m => m.GetProperty("Message"))];

    /// <summary>When a message (a control message, or the <c>Message</c> of a RoomMessage) arrived, in Stopwatch ticks.</summary>
    public long ArrivalOf(JsonElement message)
    {
        lock (_lock)
        {
            for (var i = 0; i < _allMessages.Count; i++)
            {
                var m = _allMessages[i];
                if (m.GetRawText() == message.GetRawText()
                    || (m.TryGetProperty("Message", out var inner) && inner.ValueKind == JsonValueKind.Object && inner.GetRawText() == message.GetRawText()))
                {
                    return _arrivals[i];
                }
            }
        }

        throw new ArgumentException("message not received by this client", nameof(message));
    }

    /// <summary>The node this client is connected to now (another one after it followed a redirect).</summary>
    public Uri ServerBase { get; private set; } = null!;

    /// <summary>How many LoginResult redirects (30701) this client followed.</summary>
    public int RedirectsFollowed { get; private set; }

    public static async Task<RoomTestClient> ConnectAsync(Uri serverBase, CancellationToken cancellationToken = default)
    {
        var client = new RoomTestClient { ServerBase = serverBase };
        client._socket = await RoomSocket.ConnectAsync(serverBase, client.ReceiveLoopAsync, configure: null, cancellationToken);
        return client;
    }

    /// <summary>
    /// Logs in and answers the LoginResult. With <paramref name="followRedirect"/> (the default) a LoginResult 30701
    /// (the room lives on another node of a cluster, docs/deployment.md "Rooms") is followed as a client must: the
    /// connection closes, a new one opens to its <c>Redirect</c> URL, and the same Login is sent there (at most
    /// once: a second redirect is answered as it is).
    /// </summary>
    public async Task<JsonElement> LoginAsync(string token, string roomId, string userId, uint? appId = null, CancellationToken cancellationToken = default, bool followRedirect = true)
    {
        var message = new Dictionary<string, object?> { ["Type"] = "Login", ["Token"] = token, ["RoomId"] = roomId, ["UserId"] = userId };
        if (appId is not null)
        {
            message["AppId"] = appId;
        }

        var result = await SendLoginAsync(message, cancellationToken);
        if (!followRedirect || result.GetProperty("Code").GetInt32() != RoomOnAnotherNode
            || !result.TryGetProperty("Redirect", out var redirect) || !Uri.TryCreate(redirect.GetString(), UriKind.Absolute, out var target)
            || target.Scheme is not ("ws" or "wss"))
        {
            return result;
        }

        await _socket!.DisposeAsync();
        _socket = await RoomSocket.ConnectAsync(target, ReceiveLoopAsync, configure: null, cancellationToken);
        ServerBase = new UriBuilder(target) { Scheme = target.Scheme is "wss" or "https" ? "https" : "http", Path = "/" }.Uri;
        RedirectsFollowed++;
        return await SendLoginAsync(message, cancellationToken);
    }

    /// <summary>LoginResult code: the room lives on another node; reconnect to <c>Redirect</c> (docs/protocol.md).</summary>
    public const int RoomOnAnotherNode = 30701;

    private async Task<JsonElement> SendLoginAsync(Dictionary<string, object?> message, CancellationToken cancellationToken)
    {
        int seen;
        lock (_lock)
        {
            seen = _allMessages.Count;
        }

        await SendJsonAsync(message, cancellationToken);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var found = Messages.Skip(seen).FirstOrDefault(m => m.GetProperty("Type").GetString() == "LoginResult");
            if (found.ValueKind != JsonValueKind.Undefined)
            {
                return found;
            }

            await Task.Delay(20, cancellationToken);
        }

        throw new TimeoutException($"no LoginResult within 10 s; received: {string.Join(" | ", Messages.Select(m => m.GetRawText()))}");
    }

    public async Task<JsonElement> PlayAsync(string streamId, int sampleRate = 16000, string codec = "pcm16", CancellationToken cancellationToken = default)
    {
        await SendJsonAsync(new { Type = "Play", StreamId = streamId, Codec = codec, SampleRate = sampleRate }, cancellationToken);
        return await WaitForAsync(m => m.GetProperty("Type").GetString() == "PlayResult", TimeSpan.FromSeconds(10), cancellationToken);
    }

    public async Task<JsonElement> PublishAsync(string streamId, int sampleRate = 16000, string codec = "pcm16", CancellationToken cancellationToken = default)
    {
        await SendJsonAsync(new { Type = "Publish", StreamId = streamId, Codec = codec, SampleRate = sampleRate }, cancellationToken);
        return await WaitForAsync(m => m.GetProperty("Type").GetString() == "PublishResult", TimeSpan.FromSeconds(10), cancellationToken);
    }

    /// <summary>Sends PCM16 audio in real time, <paramref name="frameMs"/> per binary message.</summary>
    public async Task SendAudioRealTimeAsync(ReadOnlyMemory<short> samples, int sampleRate = 16000, int frameMs = 20, CancellationToken cancellationToken = default)
    {
        var frame = sampleRate * frameMs / 1000;
        var clock = Stopwatch.StartNew();
        for (var offset = 0; offset < samples.Length; offset += frame)
        {
            var piece = samples.Slice(offset, Math.Min(frame, samples.Length - offset));
            await SendAudioAsync(piece, cancellationToken);
            var due = TimeSpan.FromMilliseconds((offset / frame + 1) * frameMs);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }
        }
    }

    public async Task SendAudioAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken = default)
    {
        var bytes = MemoryMarshal.AsBytes(samples.Span).ToArray();
        await _socket!.SendAsync(bytes, WebSocketMessageType.Binary, cancellationToken);
    }

    public async Task SendJsonAsync(object message, CancellationToken cancellationToken = default)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(message);
        await _socket!.SendAsync(bytes, WebSocketMessageType.Text, cancellationToken);
    }

    /// <summary>Waits for a control message matching <paramref name="match"/> (including ones already received).</summary>
    public async Task<JsonElement> WaitForAsync(Func<JsonElement, bool> match, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var found = Messages.FirstOrDefault(match);
            if (found.ValueKind != JsonValueKind.Undefined)
            {
                return found;
            }

            await Task.Delay(20, cancellationToken);
        }

        throw new TimeoutException($"no matching message within {timeout}; received: {string.Join(" | ", Messages.Select(m => m.GetRawText()))}");
    }

    /// <summary>Waits until audio has arrived and then none for <paramref name="quiet"/>.</summary>
    public async Task<IReadOnlyList<ReceivedFrame>> WaitForAudioToEndAsync(TimeSpan quiet, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var frames = Frames;
            if (frames.Count > 0 && Stopwatch.GetElapsedTime(frames[^1].ArrivedTicks) > quiet)
            {
                return frames;
            }

            await Task.Delay(20, cancellationToken);
        }

        return Frames;
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket is not null)
        {
            await _socket.DisposeAsync();
        }
    }

    private async Task ReceiveLoopAsync(RoomSocket socket)
    {
        var buffer = new byte[128 * 1024];
        try
        {
            while (socket.Receiving)
            {
                using var message = new MemoryStream();
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }

                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);

                var arrived = Stopwatch.GetTimestamp();
                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    var samples = MemoryMarshal.Cast<byte, short>(message.GetBuffer().AsSpan(0, (int)message.Length)).ToArray();
                    lock (_lock)
                    {
                        _frames.Add(new ReceivedFrame(samples, arrived));
                    }
                }
                else
                {
                    using var document = JsonDocument.Parse(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length));
                    var element = document.RootElement.Clone();
                    lock (_lock)
                    {
                        _allMessages.Add(element);
                        _arrivals.Add(arrived);
                    }

                    _messages.Writer.TryWrite(element);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }
    }
}
