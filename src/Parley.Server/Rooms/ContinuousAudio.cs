using System.Threading.Channels;
using Parley.Abstractions.Audio;

namespace Parley.Server.Rooms;

/// <summary>
/// Turns a played stream, which goes quiet when its publisher sends nothing (a client that stops sending, a muted
/// microphone, a stream not yet published), into a continuous 20 ms, 16 kHz stream: real frames pass through, and
/// after <see cref="GapBeforeSilence"/> without one, silence frames follow in real time. Turn-taking measures silence
/// in audio time, so without this a user who simply stops sending would never finish their turn.
/// </summary>
internal static class ContinuousAudio
{
    public static readonly TimeSpan GapBeforeSilence = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan FramePeriod = TimeSpan.FromMilliseconds(20);
    private const int FrameSamples = 320;

    public static ChannelReader<AudioChunk> Fill(ChannelReader<AudioChunk> source, TimeProvider time, CancellationToken cancellationToken)
    {
        var output = Channel.CreateBounded<AudioChunk>(new BoundedChannelOptions(50)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.DropOldest,
        }, static dropped => dropped.Dispose());
        _ = Task.Run(() => PumpAsync(source, output.Writer, time, cancellationToken), CancellationToken.None);
        return output.Reader;
    }

    private static async Task PumpAsync(ChannelReader<AudioChunk> source, ChannelWriter<AudioChunk> output, TimeProvider time, CancellationToken cancellationToken)
    {
        var wait = GapBeforeSilence;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                // One timer per wait (a small allocation per frame): fine at one stream per instance; pooling it is a known follow-up.
                using var gap = new CancellationTokenSource(wait, time);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, gap.Token);
                try
                {
                    if (!await source.WaitToReadAsync(timeout.Token).ConfigureAwait(false))
                    {
                        return;
                    }

                    while (source.TryRead(out var chunk))
                    {
                        output.TryWrite(chunk);
                    }

                    wait = GapBeforeSilence;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // A gap: one frame of silence per frame period until real audio returns.
                    var silence = AudioChunk.Rent(FrameSamples, AudioFormat.Pipeline.SampleRate);
                    silence.WritableSpan.Clear();
                    output.TryWrite(silence);
                    wait = FramePeriod;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            output.TryComplete();
        }
    }
}
