using Parley.Abstractions.Audio;
using Parley.Abstractions.Media;
using Parley.Rtc.Rooms;

namespace Parley.Server.Rooms;

/// <summary>
/// The agent's published room stream as an <see cref="IAudioSink"/>: counts what was written so that the played
/// position is what left the room output (written minus still pending), with cleared audio taken out.
/// <see cref="Pause"/> pauses the room output at the next frame (its queue is kept) and holds back further writes at
/// the sink (they wait until <see cref="Resume"/> or <see cref="Clear"/>).
/// </summary>
internal sealed class RoomAudioSink(IRoomAudioOutput output) : IAudioSink
{
    private long _written;
    private long _clears;
    private readonly Lock _gate = new();
    private TaskCompletionSource? _resumed;

    public bool Paused
    {
        get
        {
            lock (_gate)
            {
                return _resumed is not null;
            }
        }
    }

    public void Pause()
    {
        lock (_gate)
        {
            _resumed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        output.Pause();
    }

    public void Resume()
    {
        TaskCompletionSource? resumed;
        lock (_gate)
        {
            resumed = _resumed;
            _resumed = null;
        }

        output.Resume();
        resumed?.TrySetResult();
    }

    public TimeSpan Buffered => output.Pending;

    public long PlayedSamples => Math.Max(0, Interlocked.Read(ref _written) - PendingSamples);

    private long PendingSamples => (long)Math.Round(output.Pending.TotalSeconds * AudioFormat.Pipeline.SampleRate);

    public ValueTask WriteAsync(AudioChunk chunk, CancellationToken cancellationToken)
    {
        Task? paused;
        lock (_gate)
        {
            paused = _resumed?.Task;
        }

        if (paused is null)
        {
            Interlocked.Add(ref _written, chunk.Length);
            return output.WriteAsync(chunk, cancellationToken);
        }

        return WriteAfterPauseAsync(paused, chunk, cancellationToken);
    }

    private async ValueTask WriteAfterPauseAsync(Task paused, AudioChunk chunk, CancellationToken cancellationToken)
    {
        var clears = Interlocked.Read(ref _clears);
        try
        {
            await paused.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            chunk.Dispose();
            throw;
        }

        if (Interlocked.Read(ref _clears) != clears)
        {
            chunk.Dispose(); // cleared while it waited: it never plays
            return;
        }

        await WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
    }

    public void Clear()
    {
        // Whatever was pending never plays: take it out of the written count (a frame leaving meanwhile is off by one frame).
        var pending = PendingSamples;
        output.Clear();
        Interlocked.Add(ref _written, -pending);
        Interlocked.Increment(ref _clears);
        Resume();
    }

    public async ValueTask<Playout> WaitForPlayoutAsync(CancellationToken cancellationToken)
    {
        var clears = Interlocked.Read(ref _clears);
        await output.WaitUntilPlayedAsync(cancellationToken).ConfigureAwait(false);
        return new Playout(PlayedSamples, Interlocked.Read(ref _clears) != clears);
    }
}
