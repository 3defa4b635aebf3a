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
        lock (_gate)
        {
            started = ReportPlayedLocked();
            _segment = null;
        }

        started?.ReportFirstFrameOut();
    }

    public async ValueTask FinishAsync(CancellationToken cancellationToken)
    {
        await sink.WaitForPlayoutAsync(cancellationToken).ConfigureAwait(false);
        SpeechProgress? started;
        lock (_gate)
        {
            started = ReportPlayedLocked();
        }

        started?.ReportFirstFrameOut();
    }

    public async ValueTask SpeakAsync(SpeechSegment segment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(segment);
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

            lock (_gate)
            {
                if (_segment == progress)
                {
                    _segmentComplete = true;
                }
            }

            // Report how much has been played while it plays; hand over once only the lookahead is left.
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                SpeechProgress? started;
                lock (_gate)
                {
                    started = ReportPlayedLocked();
                }

                started?.ReportFirstFrameOut();

                var pending = sink.Buffered;
                if (pending == TimeSpan.Zero || pending <= Lookahead)
                {
                    break;
                }

                var wait = pending - Lookahead;
                await Task.Delay(wait < ProgressInterval ? wait : ProgressInterval, time, cancellationToken).ConfigureAwait(false);
            }

            if (Lookahead <= TimeSpan.Zero)
            {
                await FinishAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Clear();
            SynthesisFailed?.Invoke(voice.Provider.Name, ex);
            throw;
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

        var total = _segmentComplete ? _segmentWritten : Math.Max(_segmentWritten, _segmentEstimate);
        var played = Math.Clamp(sink.PlayedSamples - _segmentStart, 0, _segmentWritten);
        progress.ReportPlayed((double)played / total);
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
