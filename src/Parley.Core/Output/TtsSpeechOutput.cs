using System.Text.Json.Nodes;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Media;
using Parley.Abstractions.Speech;
using Parley.Core.Sessions;
using Parley.Core.Text;
using Parley.Media;

namespace Parley.Core.Output;

/// <summary>The TTS of an agent: the engine for its vendor, its Params and its text rules (FilterText, TerminatorText).</summary>
public sealed record TtsVoice(ITextToSpeech Provider, JsonObject? Parameters, IReadOnlyList<FilterSpan> Filters, string? Terminator)
{
    /// <summary><c>TTS.CharacterFilter</c>: strings (≤ 2 characters) removed from the text before synthesis (subtitles keep them).</summary>
    public IReadOnlyList<string> CharacterFilter { get; init; } = [];

    /// <summary><c>TTS.Url</c>: the vendor endpoint to use instead of the engine's configured one, or null.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>
    /// <c>AdvancedConfig.TTSParamPaths</c>: metadata key → dotted path in the vendor's Params; a sentence whose
    /// metadata has the key is synthesised with the value at that path (that sentence only).
    /// </summary>
    public IReadOnlyDictionary<string, string>? ParamPaths { get; init; }
}

/// <summary>
/// Speaks a session's sentences into an <see cref="IAudioSink"/>: FilterText/TerminatorText are applied across the
/// sentences of a reply, each sentence is synthesised as a stream, resampled to 16 kHz and written to the sink, which
/// paces it. <see cref="SpeakAsync"/> returns once no more than <see cref="Lookahead"/> of the sentence is left to play
/// (so the next sentence's synthesis overlaps its end). What was played is measured at the sink
/// (<see cref="IAudioSink.PlayedSamples"/>); <see cref="Clear"/> drops the sink's audio at once.
/// </summary>
public sealed class TtsSpeechOutput(IAudioSink sink, TtsVoice voice, TimeProvider time) : ISpeechOutput
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(40);

    /// <summary>150 ms of 16 kHz audio per character: about 7 characters a second, slower than any voice speaks.</summary>
    private const int SamplesPerCharacterUpperBound = 2400;

    private readonly Lock _gate = new();
    private SpeechTextFilter? _filter;
    private long _round = -1;
    private TtsVoice _voice = voice;

    // The segment being played: where it starts in the sink's sample count, its length so far, and whether complete.
    private SpeechProgress? _segment;
    private long _segmentStart;
    private long _segmentWritten;
    private long _segmentEstimate;
    private bool _segmentComplete;
    private long _written;

    // The reply whose text is synthesised as it is generated (engines with streaming text and word timings), or null.
    private StreamedReplyAudio? _streamed;
    private bool _segmentOpen;
    private StreamedReplyAudio? _segmentText;
    private int _segmentTextStart;
    private int _segmentTextEnd;

    /// <summary>Raised when a segment fails to synthesise (vendor name, exception), for logging by the host.</summary>
    public event Action<string, Exception>? SynthesisFailed;

    /// <summary>Return from a segment once no more than this is left to play.</summary>
    public TimeSpan Lookahead { get; init; }

    public TtsVoice Voice => Volatile.Read(ref _voice);

    /// <summary>Speaks with another voice from the next sentence on.</summary>
    public void UpdateVoice(TtsVoice next) => Volatile.Write(ref _voice, next);

    /// <summary>A provisional barge-in: the sink stops emitting and keeps its audio.</summary>
    public void Pause() => sink.Pause();

    /// <summary>A released false start: the sink emits again from where it stopped.</summary>
    public void Resume() => sink.Resume();

    public void Clear()
    {
        sink.Clear();
        SpeechProgress? started;
        StreamedReplyAudio? streamed;
        lock (_gate)
        {
            started = ReportPlayedLocked();
            _segment = null;

            // Cleared audio never counts as played: the written count goes back to the sink's played position, so
            // the next segment's played fraction (and a streamed reply's positions) are measured from where it is.
            _written = sink.PlayedSamples;
            streamed = _streamed;
            _streamed = null;
            _segmentOpen = false;
        }

        started?.ReportFirstFrameOut();
        if (streamed is not null)
        {
            // The synthesis stops now; its connection is released off the interruption lane.
            streamed.Cancel();
            _ = streamed.DisposeAsync().AsTask();
        }
    }

    /// <summary>
    /// Streams the reply's text into the engine as it is generated when the engine takes text pieces and says where
    /// each word's audio is (<see cref="TtsCapabilities.StreamingText"/> and <see cref="TtsCapabilities.WordTimings"/>):
    /// the timings are what places each sentence's audio. Other engines get whole sentences.
    /// </summary>
    public bool StreamsText => TakesTextPieces(Volatile.Read(ref _voice));

    private static bool TakesTextPieces(TtsVoice voice) => voice.Provider.Capabilities is { StreamingText: true, WordTimings: true };

    /// <summary>The streamed reply of round <paramref name="roundId"/>, or null (call under <c>_gate</c>).</summary>
    private StreamedReplyAudio? StreamedLocked(long roundId) => _streamed is { } current && current.RoundId == roundId ? current : null;

    public async ValueTask<int> PushTextAsync(long roundId, string text, bool first, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        StreamedReplyAudio? reply;
        StreamedReplyAudio? previous = null;
        var voice = Volatile.Read(ref _voice);
        lock (_gate)
        {
            if (first && TakesTextPieces(voice))
            {
                previous = _streamed;
                _round = roundId;
                _filter = new SpeechTextFilter(voice.Filters, voice.Terminator);
                _streamed = new StreamedReplyAudio(roundId, voice.Provider.Open(new TtsRequest(voice.Parameters) { Endpoint = voice.Endpoint }), cancellationToken);
                _segment = null;
                _segmentOpen = false;
                _streamed.Start(_written, WriteStreamedAsync);
            }

            reply = StreamedLocked(roundId);
        }

        if (previous is not null)
        {
            await previous.DisposeAsync().ConfigureAwait(false);
        }

        if (reply is null)
        {
            return 0;
        }

        await reply.PushAsync(RemoveCharacters(_filter!.Push(text), voice.CharacterFilter), cancellationToken).ConfigureAwait(false);
        return reply.Pushed;
    }

    public ValueTask PushAudioAsync(long roundId, ReadOnlyMemory<byte> pcm16, int sampleRate, CancellationToken cancellationToken)
    {
        StreamedReplyAudio? reply;
        lock (_gate)
        {
            reply = StreamedLocked(roundId);
        }

        return reply?.Stream is ModelAudioVoice.IAudioInput input ? input.PushAudioAsync(pcm16, sampleRate, cancellationToken) : ValueTask.CompletedTask;
    }

    public void EndText(long roundId)
    {
        StreamedReplyAudio? reply;
        lock (_gate)
        {
            reply = StreamedLocked(roundId);
        }

        if (reply is not null && !reply.TextEnded)
        {
            var voice = Volatile.Read(ref _voice);
            var rest = RemoveCharacters(_filter!.Complete(), voice.CharacterFilter);
            _ = EndAsync(reply, rest);
        }

        static async Task EndAsync(StreamedReplyAudio reply, string rest)
        {
            try
            {
                await reply.PushAsync(rest, CancellationToken.None).ConfigureAwait(false);
                await reply.EndTextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException or OperationCanceledException)
            {
                // The stream failed or was interrupted: its reader reports the failure, the interrupter cleared it.
            }
        }
    }

    public async ValueTask FinishAsync(CancellationToken cancellationToken)
    {
        await sink.WaitForPlayoutAsync(cancellationToken).ConfigureAwait(false);
        SpeechProgress? started;
        StreamedReplyAudio? done = null;
        lock (_gate)
        {
            started = ReportPlayedLocked();
            if (_streamed is { TextEnded: true })
            {
                // The reply is heard: release its synthesis stream (and the vendor connection) now.
                done = _streamed;
                _streamed = null;
            }
        }

        started?.ReportFirstFrameOut();
        if (done is not null)
        {
            await done.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask SpeakAsync(SpeechSegment segment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(segment);
        StreamedReplyAudio? streamed;
        lock (_gate)
        {
            streamed = segment.TextEnd >= 0 ? StreamedLocked(segment.RoundId) : null;
        }

        if (streamed is not null)
        {
            await SpeakStreamedAsync(streamed, segment, cancellationToken).ConfigureAwait(false);
            return;
        }

        var voice = Volatile.Read(ref _voice);
        if (segment.IsFirstOfReply || segment.RoundId != _round)
        {
            _round = segment.RoundId;
            _filter = new SpeechTextFilter(voice.Filters, voice.Terminator);
        }

        var text = RemoveCharacters(_filter!.Push(segment.Text + " "), voice.CharacterFilter).Trim();
        if (text.Length == 0)
        {
            return;
        }

        var progress = segment.Progress;
        lock (_gate)
        {
            _segment = progress;
            _segmentText = null;
            _segmentStart = _written;
            _segmentWritten = 0;
            _segmentComplete = false;

            // Until synthesis ends the length is unknown: a generous estimate keeps the reported fraction at or
            // below the truth, so an early interruption never keeps unplayed text.
            _segmentEstimate = (long)text.Length * SamplesPerCharacterUpperBound;
        }

        var reportedAudio = false;
        Resampler? resampler = null;
        try
        {
            // One synthesis stream per segment: the text is pushed whole and flushed, so its audio ends with the segment.
            await using var stream = voice.Provider.Open(Request(voice, segment));
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

                    if (!reportedAudio)
                    {
                        reportedAudio = true;
                        progress.ReportFirstAudio();
                    }

                    if (chunk.SampleRate == AudioFormat.Pipeline.SampleRate)
                    {
                        await WriteAsync(progress, AudioChunk.CopyOf(chunk.Samples, chunk.SampleRate), cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    resampler ??= new Resampler(chunk.SampleRate, AudioFormat.Pipeline.SampleRate);
                    var resampled = AudioChunk.Rent(resampler.MaxOutputSamples(chunk.Length), AudioFormat.Pipeline.SampleRate);
                    var count = resampler.Process(chunk.Samples, resampled.WritableSpan);
                    await WriteAsync(progress, resampled.WithLength(count), cancellationToken).ConfigureAwait(false);
                }
            }

            if (resampler is not null)
            {
                var tail = AudioChunk.Rent(resampler.MaxFlushSamples, AudioFormat.Pipeline.SampleRate);
                var count = resampler.Flush(tail.WritableSpan);
                await WriteAsync(progress, tail.WithLength(count), cancellationToken).ConfigureAwait(false);
            }

            await HandOverAsync(progress, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Clear();
            SynthesisFailed?.Invoke(voice.Provider.Name, ex);
            throw;
        }
    }

    /// <summary>
    /// One sentence of a reply whose text streams into the engine: its audio is already being played by the reply's
    /// pump; this accounts for the part of it the word timings give the sentence, then hands over like any sentence.
    /// </summary>
    private async ValueTask SpeakStreamedAsync(StreamedReplyAudio streamed, SpeechSegment segment, CancellationToken cancellationToken)
    {
        var progress = segment.Progress;
        try
        {
            var start = await streamed.PositionOfAsync(streamed.LastTextEnd, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                _segment = progress;
                _segmentStart = start;
                _segmentOpen = true;
                _segmentText = streamed;
                _segmentTextStart = streamed.LastTextEnd;
                _segmentTextEnd = segment.TextEnd;
                _segmentWritten = Math.Max(0, _written - start);
                _segmentComplete = false;
                _segmentEstimate = (long)segment.Text.Length * SamplesPerCharacterUpperBound;
            }

            var end = await streamed.PositionOfAsync(segment.TextEnd, cancellationToken).ConfigureAwait(false);
            streamed.LastTextEnd = segment.TextEnd;
            SpeechProgress? started;
            lock (_gate)
            {
                _segmentOpen = false;
                _segmentWritten = Math.Max(0, end - start);
                started = ReportPlayedLocked();
            }

            if (end > start)
            {
                progress.ReportFirstAudio();
            }

            started?.ReportFirstFrameOut();
            await HandOverAsync(progress, cancellationToken, end).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Clear();
            SynthesisFailed?.Invoke(Voice.Provider.Name, ex);
            throw;
        }
    }

    /// <summary>Writes audio of a streamed reply (its pump): counted for the sentence being accounted, if any.</summary>
    private async ValueTask WriteStreamedAsync(AudioChunk chunk, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            chunk.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
        }

        SpeechProgress? started;
        lock (_gate)
        {
            _written += chunk.Length;
            if (_segmentOpen)
            {
                _segmentWritten = Math.Max(0, _written - _segmentStart);
            }

            started = ReportPlayedLocked();
        }

        started?.ReportFirstFrameOut();
        await sink.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Marks the segment's audio complete, reports its progress while it plays, hands over at the lookahead.</summary>
    /// <param name="end">
    /// For a sentence of a streamed reply, where its audio ends in the output (the sink also holds the next
    /// sentences' audio); -1: the sentence's audio is the last the sink holds.
    /// </param>
    private async ValueTask HandOverAsync(SpeechProgress progress, CancellationToken cancellationToken, long end = -1)
    {
        lock (_gate)
        {
            if (_segment == progress)
            {
                _segmentComplete = true;
            }
        }

        // Report how much has been played while it plays; hand over once only the lookahead is left. The waits are one
        // entry on the shared media clock for the whole sentence, not a Task.Delay (a task, a runtime timer and a
        // cancellation registration) every 40 ms of every speaking session.
        FrameClock? clock = null;
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                SpeechProgress? started;
                lock (_gate)
                {
                    started = ReportPlayedLocked();
                }

                started?.ReportFirstFrameOut();

                var pending = end < 0
                    ? sink.Buffered
                    : TimeSpan.FromSeconds(Math.Max(0, end - sink.PlayedSamples) / (double)AudioFormat.Pipeline.SampleRate);
                if (pending == TimeSpan.Zero || pending <= Lookahead)
                {
                    break;
                }

                var wait = pending - Lookahead;
                clock ??= new FrameClock(time, cancellationToken);
                await clock.DelayAsync(wait < ProgressInterval ? wait : ProgressInterval).ConfigureAwait(false);
            }
        }
        finally
        {
            clock?.Dispose();
        }

        if (Lookahead <= TimeSpan.Zero)
        {
            await FinishAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask WriteAsync(SpeechProgress progress, AudioChunk chunk, CancellationToken cancellationToken)
    {
        // Checked before every write: after an interruption (token cancelled, then Clear) nothing of it may be queued.
        if (cancellationToken.IsCancellationRequested)
        {
            chunk.Dispose();
            cancellationToken.ThrowIfCancellationRequested();
        }

        var length = chunk.Length;
        SpeechProgress? started;
        lock (_gate)
        {
            _written += length;
            if (_segment == progress)
            {
                _segmentWritten += length;
            }

            started = ReportPlayedLocked();
        }

        started?.ReportFirstFrameOut();

        await sink.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reports the current segment's played fraction from the sink's played position; returns the segment's progress
    /// once some of it has played, for the caller to report its first frame out after leaving the lock (that report
    /// raises the "started playing" event, whose handlers take the session's lock).
    /// </summary>
    private SpeechProgress? ReportPlayedLocked()
    {
        if (_segment is not { } progress || _segmentWritten == 0)
        {
            return null;
        }

        var played = Math.Clamp(sink.PlayedSamples - _segmentStart, 0, _segmentWritten);
        if (_segmentText is { } streamed && streamed.PlayedTextOffset(sink.PlayedSamples) is { } offset && _segmentTextEnd > _segmentTextStart)
        {
            // Streamed text with word timings: the words whose audio has been played, not an estimate.
            progress.ReportPlayed(Math.Clamp((double)(offset - _segmentTextStart) / (_segmentTextEnd - _segmentTextStart), 0, 1));
        }
        else
        {
            var total = _segmentComplete ? _segmentWritten : Math.Max(_segmentWritten, _segmentEstimate);
            progress.ReportPlayed((double)played / total);
        }

        return played > 0 && progress.FirstFrameOutAt is null ? progress : null;
    }

    /// <summary>The segment's request: the voice's Params and endpoint, with the sentence's <c>TTSParamPaths</c> values.</summary>
    private static TtsRequest Request(TtsVoice voice, SpeechSegment segment)
    {
        List<TtsParameterOverride>? overrides = null;
        if (voice.ParamPaths is { Count: > 0 } paths && segment.MetaInfo is { } meta)
        {
            foreach (var (key, path) in paths)
            {
                if (meta.TryGetPropertyValue(key, out var value))
                {
                    (overrides ??= []).Add(new TtsParameterOverride(path, value?.DeepClone()));
                }
            }
        }

        return new TtsRequest(voice.Parameters) { Endpoint = voice.Endpoint, Overrides = overrides };
    }

    /// <summary>Removes each CharacterFilter string (longest first, so "##" goes before "#").</summary>
    internal static string RemoveCharacters(string text, IReadOnlyList<string> filter)
    {
        if (filter.Count == 0)
        {
            return text;
        }

        foreach (var item in filter.OrderByDescending(f => f.Length))
        {
            if (item.Length > 0)
            {
                text = text.Replace(item, "", StringComparison.Ordinal);
            }
        }

        return text;
    }
}
