using Parley.Abstractions.Audio;
using Parley.Abstractions.Media;
using Parley.Rtc.Rooms;

namespace Parley.Server.Rooms;

/// <summary>
/// The agent's published room stream as an <see cref="IAudioSink"/>: counts what was written so that the played
/// position is what left the room output (written minus still pending), with cleared audio taken out.
/// </summary>
internal sealed class RoomAudioSink(IRoomAudioOutput output) : IAudioSink
{
    private long _written;
    private long _clears;

    public TimeSpan Buffered => output.Pending;

    public long PlayedSamples => Math.Max(0, Interlocked.Read(ref _written) - PendingSamples);

    private long PendingSamples => (long)Math.Round(output.Pending.TotalSeconds * AudioFormat.Pipeline.SampleRate);

    public ValueTask WriteAsync(AudioChunk chunk, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref _written, chunk.Length);
        return output.WriteAsync(chunk, cancellationToken);
    }

    public void Clear()
    {
        // Whatever was pending never plays: take it out of the written count (a frame leaving meanwhile is off by one frame).
        var pending = PendingSamples;
        output.Clear();
        Interlocked.Add(ref _written, -pending);
        Interlocked.Increment(ref _clears);
    }

    public async ValueTask<Playout> WaitForPlayoutAsync(CancellationToken cancellationToken)
    {
        var clears = Interlocked.Read(ref _clears);
        await output.WaitUntilPlayedAsync(cancellationToken).ConfigureAwait(false);
        return new Playout(PlayedSamples, Interlocked.Read(ref _clears) != clears);
    }
}
