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
        var pending = new PendingFrame();
        var held = false;
        var running = false;
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
                    Interlocked.Add(ref _pendingSamples, -pending.Drop());
                    held = false;
                }

                if (PausedTask() is { } paused)
                {
                    // Paused: nothing goes out (the listener hears silence); the queue and the partial frame wait.
                    running = false;
                    await paused.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                pending.Fill(_input.Reader);
                var filled = pending.Filled;
                if (filled == FrameSamples || (filled > 0 && held))
                {
                    if (!running)
                    {
                        running = true;
                        start = _time.GetTimestamp();
                        index = 0;
                    }

                    EmitPending(pending);
                    Interlocked.Add(ref _pendingSamples, -filled);
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
            pending.Dispose();
            DrainInput();
            Interlocked.Exchange(ref _pendingSamples, 0);
            SignalIdleIfDrained();
        }
    }

    /// <summary>Emits the pacer's complete (or held short) frame and empties it: a whole chunk by ownership, else a copy.</summary>
    private void EmitPending(PendingFrame pending)
    {
        if (pending.IsWhole)
        {
            EmitOwned(pending.TakeWhole());
        }
        else
        {
            Emit(pending.Copied);
            pending.Sent();
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

    /// <summary>
    /// A pacer's next frame, cut from its input queue: copied together from chunks of any length, or a whole 20 ms
    /// chunk taken as it came (a client's microphone), which is handed on without a copy. One per pacer, reused.
    /// </summary>
    private sealed class PendingFrame : IDisposable
    {
        private readonly short[] _buffer = new short[FrameSamples];
        private AudioChunk _current;
        private bool _hasCurrent;
        private int _offset;

        /// <summary>Samples gathered: <see cref="FrameSamples"/> once complete (or whole).</summary>
        public int Filled { get; private set; }

        /// <summary>The frame is one whole chunk as it came (<see cref="TakeWhole"/>), not a copy.</summary>
        public bool IsWhole { get; private set; }

        /// <summary>The copied frame (when not <see cref="IsWhole"/>).</summary>
        public ReadOnlySpan<short> Copied => _buffer.AsSpan(0, Filled);

        /// <summary>Takes from <paramref name="input"/> until the frame is complete or the input is empty.</summary>
        public void Fill(ChannelReader<AudioChunk> input)
        {
            while (Filled < FrameSamples)
            {
                if (Filled == 0 && !_hasCurrent && input.TryRead(out _current))
                {
                    _hasCurrent = true;
                    _offset = 0;
                    if (_current.Length == FrameSamples)
                    {
                        IsWhole = true;
                        Filled = FrameSamples;
                        return;
                    }
                }

                if (!_hasCurrent)
                {
                    if (!input.TryRead(out _current))
                    {
                        return;
                    }

                    _hasCurrent = true;
                    _offset = 0;
                }

                var take = Math.Min(FrameSamples - Filled, _current.Length - _offset);
                _current.Samples.Slice(_offset, take).CopyTo(_buffer.AsSpan(Filled));
                Filled += take;
                _offset += take;
                if (_offset == _current.Length)
                {
                    _current.Dispose();
                    _hasCurrent = false;
                }
            }
        }

        /// <summary>Hands the whole chunk over (ownership moves) and empties the frame.</summary>
        public AudioChunk TakeWhole()
        {
            var chunk = _current;
            _hasCurrent = false;
            IsWhole = false;
            Filled = 0;
            return chunk;
        }

        /// <summary>Empties a copied frame once it is sent.</summary>
        public void Sent() => Filled = 0;

        /// <summary>Drops the frame and the rest of the chunk in hand (a clear); returns how many queued samples that was.</summary>
        public int Drop()
        {
            var dropped = 0;
            if (_hasCurrent)
            {
                dropped += _current.Length - _offset;
                _current.Dispose();
                _hasCurrent = false;
            }

            if (!IsWhole)
            {
                dropped += Filled; // a whole frame's samples are the chunk's, counted above
            }

            Filled = 0;
            IsWhole = false;
            return dropped;
        }

        public void Dispose()
        {
            if (_hasCurrent)
            {
                _current.Dispose();
                _hasCurrent = false;
            }
        }
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
