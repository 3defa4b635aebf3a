using System.Text.Json.Nodes;
using Parley.Abstractions.Audio;
using Parley.Core.Audio;
using Parley.Core.Sessions;
using Parley.Core.Text;
using Parley.Rtc.Rooms;

namespace Parley.Server.Rooms;

/// <summary>
/// Speaks a session's sentences into the agent's published stream: FilterText/TerminatorText are applied across the
/// sentences of a reply, the text is synthesised by the TTS vendor as a stream, resampled to 16 kHz and written to the
/// room output, which paces it in real time. <see cref="SpeakAsync"/> returns once the audio has been sent; on
/// cancellation (interruption) the queued audio is dropped at once.
/// </summary>
internal sealed partial class RoomSpeechOutput(
    IRoomAudioOutput output,
    TtsSelection tts,
    TimeProvider time,
    ILogger logger) : ISpeechOutput
{
    private SpeechTextFilter? _filter;
    private long _round = -1;
    private TtsSelection _tts = tts;

    /// <summary>When the first audio of the current reply reached the room output (for latency).</summary>
    public event Action<long, TimeSpan>? FirstAudio;

    public void UpdateTts(TtsSelection selection) => Volatile.Write(ref _tts, selection);

    public async ValueTask SpeakAsync(SpeechSegment segment, CancellationToken cancellationToken)
    {
        var selection = Volatile.Read(ref _tts);
        if (segment.IsFirstOfReply || segment.RoundId != _round)
        {
            _round = segment.RoundId;
            _filter = new SpeechTextFilter(selection.Filters, selection.Terminator);
        }

        var text = _filter!.Push(segment.Text + " ").Trim();
        if (text.Length == 0)
        {
            return;
        }

        var started = time.GetTimestamp();
        var firstAudio = segment.IsFirstOfReply;
        Resampler? resampler = null;
        try
        {
            await foreach (var chunk in selection.Provider.SynthesizeAsync(text, selection.Parameters, cancellationToken).ConfigureAwait(false))
            {
                using (chunk)
                {
                    if (chunk.IsEmpty)
                    {
                        continue;
                    }

                    if (firstAudio)
                    {
                        firstAudio = false;
                        FirstAudio?.Invoke(segment.RoundId, time.GetElapsedTime(started));
                    }

                    if (chunk.SampleRate == AudioFormat.Pipeline.SampleRate)
                    {
                        await output.WriteAsync(AudioChunk.CopyOf(chunk.Samples, chunk.SampleRate), cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    resampler ??= new Resampler(chunk.SampleRate, AudioFormat.Pipeline.SampleRate);
                    var resampled = AudioChunk.Rent(resampler.MaxOutputSamples(chunk.Length), AudioFormat.Pipeline.SampleRate);
                    var written = resampler.Process(chunk.Samples, resampled.WritableSpan);
                    await output.WriteAsync(resampled.WithLength(written), cancellationToken).ConfigureAwait(false);
                }
            }

            if (resampler is not null)
            {
                var tail = AudioChunk.Rent(resampler.MaxFlushSamples, AudioFormat.Pipeline.SampleRate);
                var written = resampler.Flush(tail.WritableSpan);
                await output.WriteAsync(tail.WithLength(written), cancellationToken).ConfigureAwait(false);
            }

            await output.WaitUntilPlayedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            output.Clear();
            throw;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            output.Clear();
            LogTtsFailed(logger, ex, selection.Provider.Name);
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "TTS vendor {Vendor} failed")]
    private static partial void LogTtsFailed(ILogger logger, Exception exception, string vendor);
}

/// <summary>The TTS of an instance: the provider for its Vendor, its Params and its text rules.</summary>
internal sealed record TtsSelection(ITextToSpeechProvider Provider, JsonObject? Parameters, IReadOnlyList<FilterSpan> Filters, string? Terminator);
