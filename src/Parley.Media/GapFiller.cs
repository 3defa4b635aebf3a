using System.Threading.Channels;
using Parley.Abstractions.Audio;

namespace Parley.Media;

/// <summary>
/// Turns a played stream, which goes quiet when its publisher sends nothing (a client that stops sending, a muted
/// microphone, a stream not yet published), into a continuous 20 ms, 16 kHz stream: real frames pass through, and
/// after <see cref="GapBeforeSilence"/> without one, silence frames follow in real time. Turn-taking measures silence
/// in audio time, so without this a user who simply stops sending would never finish their turn.
/// The gap is watched by one entry on the shared <see cref="MediaTimer"/> (<see cref="GapFilledStream"/>): a frame
/// only stamps the time, nothing is re-armed or allocated per frame, silent or not (silence frames are pooled).
/// </summary>
internal static class GapFiller
{
    public static readonly TimeSpan GapBeforeSilence = TimeSpan.FromMilliseconds(100);

    /// <summary>Reads <paramref name="source"/> into a <see cref="GapFilledStream"/> (its pump is one task); prefer writing to the stream directly.</summary>
    public static ChannelReader<AudioChunk> Fill(ChannelReader<AudioChunk> source, TimeProvider time, CancellationToken cancellationToken)
    {
        var stream = new GapFilledStream(time, cancellationToken);
        _ = Task.Run(() => PumpAsync(source, stream, cancellationToken), CancellationToken.None);
        return stream.Reader;
    }

    private static async Task PumpAsync(ChannelReader<AudioChunk> source, GapFilledStream stream, CancellationToken cancellationToken)
    {
        try
        {
            // No token on the wait: a cancellable wait allocates per frame; the stream completes on the token itself.
            while (await source.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false) && !cancellationToken.IsCancellationRequested)
            {
                while (source.TryRead(out var chunk))
                {
                    stream.Write(chunk);
                }
            }
        }
        finally
        {
            stream.Complete();
        }
    }
}
