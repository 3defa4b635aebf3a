using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Media;

namespace Parley.Rtc.Rooms;

/// <summary>
/// A published stream: an input queue of 16 kHz PCM16 chunks and a pacer that cuts it into 20 ms frames and hands one
/// frame per 20 ms (TimeProvider time) to every player. When the queue runs dry the pacer sends nothing (no silence)
/// and restarts its clock when audio comes back; a frame left partly filled waits one extra frame period for more
/// audio before it is sent short. A pacer that falls more than 200 ms behind restarts its clock instead of bursting.
/// A live stream (a user's microphone) has its own pacer (StreamPublication.Live.cs): it keeps its clock through a dry
/// spell of up to 200 ms, so that when the publisher catches up after a hiccup the late frames go out at once instead
/// of the whole hiccup becoming a standing delay of every later frame (restarting the clock there cost 35–150 ms on
/// the rest of the stream), and a frame sent on time is passed on by the writer's own thread.
/// </summary>
internal sealed partial class StreamPublication : IRoomLiveAudioOutput
{
    public const int SampleRate = 16000;

    /// <summary>The publisher's extra info for the stream (ZEGO's stream extra info; "" = none), shown to the room's clients.</summary>
    public string ExtraInfo { get; init; } = "";

    public const int FrameSamples = SampleRate / 50;
    private static readonly TimeSpan FramePeriod = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan MaxLag = TimeSpan.FromMilliseconds(200);

    private readonly Room _room;
    private readonly Channel<AudioChunk> _input;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _idleGate = new();
    private readonly TimeProvider _time;
    private volatile StreamPlayer[] _players = [];
    private TaskCompletionSource? _idle;
    private Task _pacer = Task.CompletedTask;
    private long _pendingSamples;
    private long _droppedChunks;
    private long _framesSent;
    private int _clearRequested;
    private TaskCompletionSource? _resumed;

    public StreamPublication(Room room, RoomParticipant owner, string streamId, bool live)
    {
        _room = room;
        _time = room.Manager.TimeProvider;
        Owner = owner;
        StreamId = streamId;
        IsLive = live;
        var options = room.Manager.Options;
        _input = live
            ? Channel.CreateBounded<AudioChunk>(
                new BoundedChannelOptions(Math.Max(1, options.LivePublishQueueChunks)) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.DropOldest },
                OnDropped)
            : Channel.CreateBounded<AudioChunk>(
                new BoundedChannelOptions(Math.Max(1, options.OutputQueueChunks)) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    public RoomParticipant Owner { get; }

    public string StreamId { get; }

    public bool IsLive { get; }

    /// <summary>Set under the room's gate; the pacer reads the current array without locking.</summary>
    public StreamPlayer[] Players
    {
        get => _players;
        set => _players = value;
    }

    public TimeSpan Pending => TimeSpan.FromSeconds((double)Math.Max(0, Interlocked.Read(ref _pendingSamples)) / SampleRate);

    /// <summary>Chunks dropped because a live stream's input queue was full.</summary>
    public long DroppedChunks => Interlocked.Read(ref _droppedChunks);

    public long FramesSent => Interlocked.Read(ref _framesSent);

    public void Start() => _pacer = IsLive ? Task.Run(() => PaceLiveAsync(_stop.Token)) : Task.Run(() => PaceAsync(_stop.Token));

    public ValueTask WriteAsync(AudioChunk chunk, CancellationToken cancellationToken)
    {
        if (chunk.SampleRate != SampleRate)
        {
            chunk.Dispose();
            throw new ArgumentException($"audio must be {SampleRate} Hz PCM16 (got {chunk.SampleRate} Hz)", nameof(chunk));
        }

        if (chunk.IsEmpty)
        {
            chunk.Dispose();
            return ValueTask.CompletedTask;
        }

        var length = chunk.Length;
        Interlocked.Add(ref _pendingSamples, length);
        if (_input.Writer.TryWrite(chunk))
        {
            return ValueTask.CompletedTask;
        }

        return WriteSlowAsync(chunk, length, cancellationToken);
    }

    private async ValueTask WriteSlowAsync(AudioChunk chunk, int length, CancellationToken cancellationToken)
    {
        try
        {
            await _input.Writer.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            Interlocked.Add(ref _pendingSamples, -length);
            chunk.Dispose();
            throw new RoomException(RoomErrorCode.NotInRoom, $"StreamId '{StreamId}' is no longer published");
        }
        catch
        {
            Interlocked.Add(ref _pendingSamples, -length);
            chunk.Dispose();
            throw;
        }
    }

    /// <summary>Queues live audio without waiting; when the queue is full its oldest chunk is dropped and counted.</summary>
    public bool TryWriteLive(AudioChunk chunk)
    {
        var now = NoteLiveWrite();
        if (chunk.Length == FrameSamples && Volatile.Read(ref _parked) && TryEmitInline(chunk, now))
        {
            return true; // on time, nothing queued: passed on by the writer's thread (no pacer wake-up, no timer)
        }

        var length = chunk.Length;
        Interlocked.Add(ref _pendingSamples, length);
        if (_input.Writer.TryWrite(chunk))
        {
            return true;
        }

        Interlocked.Add(ref _pendingSamples, -length);
        chunk.Dispose();
        return false;
    }

    private void OnDropped(AudioChunk chunk)
    {
        Interlocked.Add(ref _pendingSamples, -chunk.Length);
        Interlocked.Increment(ref _droppedChunks);
        RtcMetrics.PublishDropped();
        chunk.Dispose();
    }

    public void Pause()
    {
        lock (_idleGate)
        {
            _resumed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public void Resume()
    {
        TaskCompletionSource? resumed;
        lock (_idleGate)
        {
            resumed = _resumed;
            _resumed = null;
        }

        resumed?.TrySetResult();
    }

    /// <summary>The wait of a paused output, or null.</summary>
    private Task? PausedTask()
    {
        lock (_idleGate)
        {
            return _resumed?.Task;
        }
    }

    public void Clear()
    {
        Interlocked.Exchange(ref _clearRequested, 1);
        DrainInput();
        SignalIdleIfDrained();
        Resume();
    }

    private void DrainInput()
    {
        while (_input.Reader.TryRead(out var chunk))
        {
            Interlocked.Add(ref _pendingSamples, -chunk.Length);
            chunk.Dispose();
        }
    }

    public Task WaitUntilPlayedAsync(CancellationToken cancellationToken)
    {
        lock (_idleGate)
        {
            if (Interlocked.Read(ref _pendingSamples) <= 0 || _stop.IsCancellationRequested)
            {
                return Task.CompletedTask;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idle.Task.WaitAsync(cancellationToken);
        }
    }

    private void SignalIdleIfDrained()
    {
        if (Volatile.Read(ref _idle) is null || (Interlocked.Read(ref _pendingSamples) > 0 && !_stop.IsCancellationRequested))
        {
            return;
        }

        TaskCompletionSource? idle;
        lock (_idleGate)
        {
            idle = _idle;
            _idle = null;
        }

        idle?.TrySetResult();
    }

    private async Task PaceAsync(CancellationToken cancellationToken)
    {
        var frame = new short[FrameSamples];
        var filled = 0;
        var held = false;
        var running = false;
        AudioChunk current = default;
        var hasCurrent = false;
        var offset = 0;
        long start = 0;
        long index = 0;
        using var clock = new FrameClock(_time, cancellationToken);
        var period = (long)(FramePeriod.TotalSeconds * _time.TimestampFrequency);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (running)
                {
                    index++;
                    var due = _time.GetElapsedTime(start) - (FramePeriod * index);
                    if (due > MaxLag)
                    {
                        start = _time.GetTimestamp();
                        index = 0;
                    }
                    else if (due < TimeSpan.Zero)
                    {
                        // The frame's own deadline on the schedule, not a delay from whenever the wait gets armed.
                        await clock.DelayUntilAsync(start + (period * index)).ConfigureAwait(false);
                    }
                }

                if (Interlocked.Exchange(ref _clearRequested, 0) == 1)
                {
                    if (hasCurrent)
                    {
                        Interlocked.Add(ref _pendingSamples, -(current.Length - offset));
                        current.Dispose();
                        hasCurrent = false;
                    }

                    Interlocked.Add(ref _pendingSamples, -filled);
                    filled = 0;
                    held = false;
                }

                if (PausedTask() is { } paused)
                {
                    // Paused: nothing goes out (the listener hears silence); the queue and the partial frame wait.
                    running = false;
                    await paused.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var whole = false;
                while (filled < FrameSamples)
                {
                    if (filled == 0 && !hasCurrent && _input.Reader.TryRead(out current))
                    {
                        hasCurrent = true;
                        offset = 0;
                        if (current.Length == FrameSamples)
                        {
                            // A whole 20 ms frame as it came (a client's microphone): handed on without copying it.
                            whole = true;
                            filled = FrameSamples;
                            break;
                        }
                    }

                    if (!hasCurrent)
                    {
                        if (!_input.Reader.TryRead(out current))
                        {
                            break;
                        }

                        hasCurrent = true;
                        offset = 0;
                    }

                    var take = Math.Min(FrameSamples - filled, current.Length - offset);
                    current.Samples.Slice(offset, take).CopyTo(frame.AsSpan(filled));
                    filled += take;
                    offset += take;
                    if (offset == current.Length)
                    {
                        current.Dispose();
                        hasCurrent = false;
                    }
                }

                if (filled == FrameSamples || (filled > 0 && held))
                {
                    if (!running)
                    {
                        running = true;
                        start = _time.GetTimestamp();
                        index = 0;
                    }

                    if (whole)
                    {
                        EmitOwned(current);
                        hasCurrent = false;
                    }
                    else
                    {
                        Emit(frame.AsSpan(0, filled));
                    }

                    Interlocked.Add(ref _pendingSamples, -filled);
                    filled = 0;
                    held = false;
                    SignalIdleIfDrained();
                }
                else if (filled > 0)
                {
                    // A partial frame: give the publisher one more frame period to complete it.
                    held = true;
                    if (!running)
                    {
                        running = true;
                        start = _time.GetTimestamp();
                        index = 0;
                    }
                }
                else
                {
                    // Dry: frame slot `index` went unused; the clock restarts when audio comes back.
                    running = false;
                    held = false;
                    SignalIdleIfDrained();
                    // No token on the wait (a cancellable wait allocates per call, i.e. per frame of a live stream that
                    // runs dry between frames): the only stop, StopLocked, completes the writer before cancelling.
                    if (!await _input.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
                    {
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            if (hasCurrent)
            {
                current.Dispose();
            }

            DrainInput();
            Interlocked.Exchange(ref _pendingSamples, 0);
            SignalIdleIfDrained();
        }
    }

    private void Emit(ReadOnlySpan<short> frame)
    {
        var players = _players;
        for (var i = 0; i < players.Length; i++)
        {
            players[i].Deliver(frame, SampleRate);
        }

        Interlocked.Increment(ref _framesSent);
    }

    /// <summary>Emits a whole frame chunk: the first player takes it (ownership moves), the others get copies; disposed when nobody plays.</summary>
    private void EmitOwned(AudioChunk chunk)
    {
        var players = _players;
        for (var i = 1; i < players.Length; i++)
        {
            players[i].Deliver(chunk.Samples, SampleRate);
        }

        if (players.Length > 0)
        {
            players[0].DeliverOwned(chunk);
        }
        else
        {
            chunk.Dispose();
        }

        Interlocked.Increment(ref _framesSent);
    }

    /// <summary>Stops the pacer; called under the room's gate when the stream is unpublished.</summary>
    public void StopLocked()
    {
        _input.Writer.TryComplete();
        _stop.Cancel();
    }

    public async ValueTask DisposeAsync()
    {
        Owner.Unpublish(this);
        lock (_room.Gate)
        {
            StopLocked();
        }

        await _pacer.ConfigureAwait(false);
    }
}
