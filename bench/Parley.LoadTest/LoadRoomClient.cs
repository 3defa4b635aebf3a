using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Parley.Testing.Rooms;

namespace Parley.LoadTest;

/// <summary>
/// A lean room client for many concurrent users (docs/protocol.md, <c>/rtc/ws</c>, PCM16): it keeps only the arrival
/// time of each agent audio frame and the few control messages the run needs, and wakes waiters on arrival instead of
/// being polled, so that hundreds of them cost the load generator little next to the server it measures.
/// </summary>
internal sealed class LoadRoomClient : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly List<long> _frames = new(4096);
    private readonly List<(long Ticks, JsonElement Message)> _messages = [];
    private TaskCompletionSource? _arrival;
    private RoomSocket? _socket;

    /// <summary>Arrival ticks (Stopwatch) of every binary frame received, in order.</summary>
    public int FrameCount
    {
        get
        {
            lock (_lock)
            {
                return _frames.Count;
            }
        }
    }

    /// <summary>The generator's clock: gaps in one of its stalls are laid to it, not to the server.</summary>
    public MicrophoneClock? Generator { get; init; }

    public static async Task<LoadRoomClient> ConnectAsync(Uri serverBase, CancellationToken cancellationToken, MicrophoneClock? generator = null)
    {
        var client = new LoadRoomClient { Generator = generator };
        client._socket = await RoomSocket.ConnectAsync(serverBase, client.ReceiveLoopAsync, static o => o.KeepAliveInterval = TimeSpan.Zero, cancellationToken);
        return client;
    }

    public async Task<JsonElement> RequestAsync(object message, string replyType, CancellationToken cancellationToken)
    {
        var since = Stopwatch.GetTimestamp();
        await _socket!.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message), WebSocketMessageType.Text, cancellationToken);
        return (await WaitForMessageAsync(m => m.GetProperty("Type").GetString() == replyType, since, TimeSpan.FromSeconds(20), cancellationToken)).Message;
    }

    /// <summary>Sends one binary (audio) message; the bytes are not copied.</summary>
    public ValueTask SendAudioAsync(ReadOnlyMemory<byte> pcm, CancellationToken cancellationToken) =>
        _socket!.SendAsync(pcm, WebSocketMessageType.Binary, cancellationToken);

    /// <summary>The first control message matching <paramref name="match"/> that arrived at or after <paramref name="sinceTicks"/>.</summary>
    public async Task<(long Ticks, JsonElement Message)> WaitForMessageAsync(Func<JsonElement, bool> match, long sinceTicks, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            Task arrival;
            lock (_lock)
            {
                foreach (var (ticks, message) in _messages)
                {
                    if (ticks >= sinceTicks && match(message))
                    {
                        return (ticks, message);
                    }
                }

                arrival = Arrival();
            }

            if (!await WaitArrivalAsync(arrival, deadline, cancellationToken))
            {
                throw new TimeoutException($"no matching message within {timeout}");
            }
        }
    }

    /// <summary>Like <see cref="WaitForMessageAsync"/> but answers 0 instead of waiting when nothing matches yet.</summary>
    public long MessageArrival(Func<JsonElement, bool> match, long sinceTicks)
    {
        lock (_lock)
        {
            foreach (var (ticks, message) in _messages)
            {
                if (ticks >= sinceTicks && match(message))
                {
                    return ticks;
                }
            }
        }

        return 0;
    }

    /// <summary>Arrival ticks of the first frame that arrived after <paramref name="afterTicks"/>, or null on timeout.</summary>
    public async Task<long?> WaitForFrameAfterAsync(long afterTicks, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            Task arrival;
            lock (_lock)
            {
                var i = FirstAfter(afterTicks);
                if (i < _frames.Count)
                {
                    return _frames[i];
                }

                arrival = Arrival();
            }

            if (!await WaitArrivalAsync(arrival, deadline, cancellationToken))
            {
                return null;
            }
        }
    }

    /// <summary>Waits until <paramref name="count"/> frames have arrived at or after <paramref name="fromTicks"/>.</summary>
    public async Task WaitForFramesAsync(long fromTicks, int count, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            Task arrival;
            lock (_lock)
            {
                if (_frames.Count - FirstAfter(fromTicks - 1) >= count)
                {
                    return;
                }

                arrival = Arrival();
            }

            if (!await WaitArrivalAsync(arrival, deadline, cancellationToken))
            {
                return;
            }
        }
    }

    /// <summary>The agent utterance starting at <paramref name="firstTicks"/> (see <see cref="LoadRun.Utterance"/>).</summary>
    public UtteranceStats Utterance(long firstTicks, long lateUntilTicks = long.MaxValue)
    {
        lock (_lock)
        {
            return LoadRun.Utterance(_frames, firstTicks, lateUntilTicks, Generator);
        }
    }

    /// <summary>Waits until the utterance starting at <paramref name="firstTicks"/> has been followed by <paramref name="quiet"/> of silence.</summary>
    public async Task<UtteranceStats> WaitForUtteranceEndAsync(long firstTicks, TimeSpan quiet, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var stats = Utterance(firstTicks);
            var left = quiet - Stopwatch.GetElapsedTime(stats.LastTicks);
            if (left <= TimeSpan.Zero)
            {
                return stats;
            }

            await Task.Delay(left + TimeSpan.FromMilliseconds(5), cancellationToken);
        }

        return Utterance(firstTicks);
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket is not null)
        {
            await _socket.DisposeAsync();
        }
    }

    /// <summary>Index of the first frame that arrived after <paramref name="ticks"/> (binary search; caller holds the lock).</summary>
    private int FirstAfter(long ticks)
    {
        int lo = 0, hi = _frames.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_frames[mid] > ticks)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }

    /// <summary>A task completed by the next arrival (frame or message); caller holds the lock.</summary>
    private Task Arrival() => (_arrival ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private static async Task<bool> WaitArrivalAsync(Task arrival, long deadline, CancellationToken cancellationToken)
    {
        var left = deadline - Stopwatch.GetTimestamp();
        if (left <= 0)
        {
            return false;
        }

        try
        {
            await arrival.WaitAsync(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency), cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private void Signal()
    {
        TaskCompletionSource? arrival;
        lock (_lock)
        {
            arrival = _arrival;
            _arrival = null;
        }

        arrival?.TrySetResult();
    }

    private async Task ReceiveLoopAsync(RoomSocket socket)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var length = 0;
        try
        {
            while (socket.Receiving)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(length));
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                length += result.Count;
                if (!result.EndOfMessage)
                {
                    if (length == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }

                    continue;
                }

                var arrived = Stopwatch.GetTimestamp();
                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    lock (_lock)
                    {
                        _frames.Add(arrived);
                    }
                }
                else
                {
                    using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
                    var element = document.RootElement.Clone();
                    lock (_lock)
                    {
                        _messages.Add((arrived, element));
                    }
                }

                length = 0;
                Signal();
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
