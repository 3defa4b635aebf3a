using System.Text.Json.Nodes;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Sessions;
using Parley.Core.Text;
using Parley.Media;
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

    /// <summary>Return from a segment once no more than this is left to play (see <c>Parley:Rooms:SpeechLookahead</c>).</summary>
    public TimeSpan Lookahead { get; init; }

    public void UpdateTts(TtsSelection selection) => Volatile.Write(ref _tts, selection);

    public async ValueTask FinishAsync(CancellationToken cancellationToken)
    {
        try
        {
            await output.WaitUntilPlayedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            output.Clear();
            throw;
        }
    }

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
        var progress = segment.Progress;
        var reportedAudio = false;
        long written = 0;
        var firstFrameOut = false;

        // Until synthesis ends the segment's length is unknown: a generous estimate (slower than any voice speaks)
        // keeps the reported fraction at or below the truth, so an early interruption never keeps unplayed text.
        var estimate = (long)text.Length * SamplesPerCharacterUpperBound;
        Resampler? resampler = null;
        try
        {
            // One synthesis stream per segment: the text is pushed whole and flushed, so its audio ends with the segment.
            await using var stream = selection.Provider.Open(new TtsRequest(selection.Parameters));
            await stream.PushTextAsync(text, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            await foreach (var piece in stream.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                using (var chunk = piece.Audio)
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

                    if (!reportedAudio)
                    {
                        reportedAudio = true;
                        progress.ReportFirstAudio();
                    }

                    ReportPlayed(progress, written, Math.Max(written, estimate), ref firstFrameOut);
                    if (chunk.SampleRate == AudioFormat.Pipeline.SampleRate)
                    {
                        written += chunk.Length;
                        await output.WriteAsync(AudioChunk.CopyOf(chunk.Samples, chunk.SampleRate), cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    resampler ??= new Resampler(chunk.SampleRate, AudioFormat.Pipeline.SampleRate);
                    var resampled = AudioChunk.Rent(resampler.MaxOutputSamples(chunk.Length), AudioFormat.Pipeline.SampleRate);
                    var count = resampler.Process(chunk.Samples, resampled.WritableSpan);
                    written += count;
                    await output.WriteAsync(resampled.WithLength(count), cancellationToken).ConfigureAwait(false);
                }
            }

            if (resampler is not null)
            {
                var tail = AudioChunk.Rent(resampler.MaxFlushSamples, AudioFormat.Pipeline.SampleRate);
                var count = resampler.Flush(tail.WritableSpan);
                written += count;
                await output.WriteAsync(tail.WithLength(count), cancellationToken).ConfigureAwait(false);
            }

            // Report how much of the segment has gone out while it plays, so an interruption keeps only the played text;
            // hand over to the next segment once only the lookahead is left (its synthesis then overlaps this end).
            while (true)
            {
                ReportPlayed(progress, written, written, ref firstFrameOut);
                var pending = output.Pending;
                if (pending == TimeSpan.Zero || pending <= Lookahead)
                {
                    break;
                }

                var wait = pending - Lookahead;
                await Task.Delay(wait < ProgressInterval ? wait : ProgressInterval, time, cancellationToken).ConfigureAwait(false);
            }

            if (Lookahead <= TimeSpan.Zero)
            {
                await output.WaitUntilPlayedAsync(cancellationToken).ConfigureAwait(false);
                ReportPlayed(progress, written, written, ref firstFrameOut);
            }
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

    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(40);

    /// <summary>150 ms of 16 kHz audio per character: about 7 characters a second, slower than flite or espeak-ng speak.</summary>
    private const int SamplesPerCharacterUpperBound = 2400;

    /// <param name="queued">Samples of the segment written to the room output so far.</param>
    /// <param name="total">The segment's length in samples (or an upper bound of it while synthesis runs).</param>
    private void ReportPlayed(SpeechProgress progress, long queued, long total, ref bool firstFrameOut)
    {
        if (total == 0 || queued == 0)
        {
            return;
        }

        var pending = (long)(output.Pending.TotalSeconds * AudioFormat.Pipeline.SampleRate);
        var sent = Math.Clamp(queued - pending, 0, total);
        if (sent > 0 && !firstFrameOut)
        {
            firstFrameOut = true;
            progress.ReportFirstFrameOut();
        }

        progress.ReportPlayed((double)sent / total);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "TTS vendor {Vendor} failed")]
    private static partial void LogTtsFailed(ILogger logger, Exception exception, string vendor);
}

/// <summary>The TTS of an instance: the provider for its Vendor, its Params and its text rules.</summary>
internal sealed record TtsSelection(ITextToSpeech Provider, JsonObject? Parameters, IReadOnlyList<FilterSpan> Filters, string? Terminator);
