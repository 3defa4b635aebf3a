using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Parley.LoadTest;

/// <summary>One utterance handed to a microphone: when its first and last frames were sent (Stopwatch ticks).</summary>
internal sealed class Utterance(byte[] pcm)
{
    public byte[] Pcm { get; } = pcm;

    public TaskCompletionSource<long> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<long> Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// A user's microphone: one 20 ms PCM16 frame every 20 ms for the whole session, silence unless an utterance is
/// queued (a real client's microphone never stops sending, and the VAD needs the silence to end a turn).
/// </summary>
internal sealed class Microphone(LoadRoomClient client)
{
    public const int FrameBytes = 640;
    private static readonly byte[] SilenceFrame = new byte[FrameBytes];
    private readonly Lock _lock = new();
    private Utterance? _pending;
    private Utterance? _current;
    private int _offset;
    private Task _sending = Task.CompletedTask;

    /// <summary>Frames whose send had to wait for the previous one (the load generator or the socket falling behind).</summary>
    public int QueuedSends { get; private set; }

    public static byte[] ToPcm(short[] samples) => MemoryMarshal.AsBytes(samples.AsSpan()).ToArray();

    public Utterance Say(byte[] pcm)
    {
        var utterance = new Utterance(pcm);
        lock (_lock)
        {
            if (_pending is not null || _current is not null)
            {
                throw new InvalidOperationException("the microphone is already playing an utterance");
            }

            _pending = utterance;
        }

        return utterance;
    }

    /// <summary>Sends this tick's frame. A send still in flight from the previous tick makes this frame wait for it, not get lost.</summary>
    internal void Tick(CancellationToken cancellationToken)
    {
        if (_current is null)
        {
            lock (_lock)
            {
                _current = _pending;
                _pending = null;
                _offset = 0;
            }
        }

        ReadOnlyMemory<byte> piece = SilenceFrame;
        var current = _current;
        if (current is not null)
        {
            piece = current.Pcm.AsMemory(_offset, Math.Min(FrameBytes, current.Pcm.Length - _offset));
        }

        var beforeSend = Stopwatch.GetTimestamp();
        if (_sending.IsCompleted)
        {
            var send = client.SendAudioAsync(piece, cancellationToken);
            _sending = send.IsCompletedSuccessfully ? Task.CompletedTask : send.AsTask();
        }
        else
        {
            QueuedSends++;
            _sending = SendAfterAsync(_sending, piece, cancellationToken);
        }

        if (current is null)
        {
            return;
        }

        if (_offset == 0)
        {
            current.Started.TrySetResult(beforeSend);
        }

        _offset += piece.Length;
        if (_offset >= current.Pcm.Length)
        {
            current.Ended.TrySetResult(Stopwatch.GetTimestamp());
            lock (_lock)
            {
                _current = null;
            }
        }
    }

    private async Task SendAfterAsync(Task previous, ReadOnlyMemory<byte> piece, CancellationToken cancellationToken)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await client.SendAudioAsync(piece, cancellationToken);
    }
}

/// <summary>
/// One real-time clock for every microphone of the run: each 20 ms tick sends one frame per user. Hundreds of users
/// on one timer cost the load generator far less than one timer each.
/// </summary>
internal sealed class MicrophoneClock
{
    private readonly List<Microphone> _microphones = [];
    private readonly Lock _lock = new();
    private int _version;

    /// <summary>Ticks that started more than 20 ms late (the load generator itself falling behind).</summary>
    public long LateTicks { get; private set; }

    /// <summary>Ticks run so far (one per 20 ms of real time when the generator keeps up).</summary>
    public long Ticks { get; private set; }

    /// <summary>The largest lateness of a tick so far, in milliseconds.</summary>
    public double MaxLagMs { get; private set; }

    /// <summary>Forgets <see cref="MaxLagMs"/> (the next measurement starts now).</summary>
    public void ResetMaxLag() => MaxLagMs = 0;

    /// <summary>A tick this late, or a GC pause of the generator this long between two ticks, is a stall of the generator.</summary>
    public static readonly TimeSpan StallThreshold = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// How long after a stall of the generator a gap in the agent's audio is still laid to it: the fake vendors run in
    /// the generator, so a stall there delays the TTS audio the server plays a little later.
    /// </summary>
    public static readonly TimeSpan StallShadow = TimeSpan.FromMilliseconds(100);

    private readonly List<(long Start, long End)> _stalls = [];

    /// <summary>Stalls of the generator so far (its own clock late or its GC paused, ≥ <see cref="StallThreshold"/>).</summary>
    public int Stalls
    {
        get
        {
            lock (_stalls)
            {
                return _stalls.Count;
            }
        }
    }

    /// <summary>The generator's own GC pauses since it started, in milliseconds.</summary>
    public static double GcPauseMs => GC.GetTotalPauseDuration().TotalMilliseconds;

    /// <summary>
    /// Whether the generator itself stalled between <paramref name="fromTicks"/> and <paramref name="toTicks"/>
    /// (Stopwatch timestamps), or up to <see cref="StallShadow"/> before: a gap the generator saw then is not the
    /// server's (its receive loop, or the fake vendors feeding the server, could not run).
    /// </summary>
    public bool StalledDuring(long fromTicks, long toTicks)
    {
        var shadow = (long)(StallShadow.TotalSeconds * Stopwatch.Frequency);
        lock (_stalls)
        {
            foreach (var (start, end) in _stalls)
            {
                if (start <= toTicks && end + shadow >= fromTicks)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Records a stall (tests and the clock's own loop); one that overlaps the last (the ticks catching up) extends it.</summary>
    internal void AddStall(long startTicks, long endTicks)
    {
        lock (_stalls)
        {
            if (_stalls.Count > 0 && _stalls[^1] is var last && startTicks <= last.End)
            {
                _stalls[^1] = (last.Start, Math.Max(last.End, endTicks));
                return;
            }

            _stalls.Add((startTicks, endTicks));
        }
    }

    public void Add(Microphone microphone)
    {
        lock (_lock)
        {
            _microphones.Add(microphone);
            _version++;
        }
    }

    public void Remove(Microphone microphone)
    {
        lock (_lock)
        {
            _microphones.Remove(microphone);
            _version++;
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var origin = Stopwatch.GetTimestamp();
        var threshold = (long)(StallThreshold.TotalSeconds * Stopwatch.Frequency);
        Microphone[] snapshot = [];
        var version = -1;
        long tick = 0;
        var lastStart = origin;
        var lastPause = GC.GetTotalPauseDuration();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                // A stall: this tick began well after it was due, or the GC paused the generator since the last one.
                var started = Stopwatch.GetTimestamp();
                var due = origin + (tick * 20 * Stopwatch.Frequency / 1000);
                var pause = GC.GetTotalPauseDuration();
                if (started - due > threshold)
                {
                    AddStall(due, started);
                }
                else if (pause - lastPause >= StallThreshold)
                {
                    AddStall(lastStart, started);
                }

                lastStart = started;
                lastPause = pause;
                lock (_lock)
                {
                    if (version != _version)
                    {
                        snapshot = [.. _microphones];
                        version = _version;
                    }
                }

                foreach (var microphone in snapshot)
                {
                    microphone.Tick(cancellationToken);
                }

                tick++;
                Ticks = tick;
                var wait = TimeSpan.FromMilliseconds(tick * 20) - clock.Elapsed;
                if (-wait.TotalMilliseconds > MaxLagMs)
                {
                    MaxLagMs = -wait.TotalMilliseconds;
                }

                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }
                else if (wait < TimeSpan.FromMilliseconds(-20))
                {
                    LateTicks++;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }
}
