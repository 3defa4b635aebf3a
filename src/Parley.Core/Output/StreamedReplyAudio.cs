using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Media;

namespace Parley.Core.Output;

/// <summary>
/// One reply synthesised as its text is generated: a single <see cref="ITtsStream"/> takes the deltas as they come,
/// and a pump plays its audio as soon as it is produced (the first words are heard before the LLM has finished the
/// first sentence). The sentences are accounted afterwards: the stream's <see cref="WordTiming"/>s say where in the
/// audio each piece of text starts, so a sentence's audio runs from the first word at or after the previous sentence's
/// end to the first word at or after its own end (<see cref="Parley.Core.Sessions.SpeechSegment.TextEnd"/>), or to the
/// end of the stream.
/// </summary>
internal sealed class StreamedReplyAudio : IAsyncDisposable
{
    private readonly ITtsStream _stream;
    private readonly CancellationTokenSource _stop;
    private readonly Lock _gate = new();
    private readonly List<(int TextOffset, long Position)> _marks = [];
    private readonly List<(int TextEnd, long EndPosition)> _wordEnds = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _end = -1;
    private Exception? _failure;
    private Task? _pump;
    private int _disposed;

    public StreamedReplyAudio(long roundId, ITtsStream stream, CancellationToken replyToken)
    {
        RoundId = roundId;
        _stream = stream;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(replyToken);
    }

    public long RoundId { get; }

    /// <summary>The reply's synthesis stream.</summary>
    public ITtsStream Stream => _stream;

    /// <summary>Length of the (filtered) text pushed so far: the offsets word timings and sentence ends count in.</summary>
    public int Pushed { get; private set; }

    /// <summary>The text is complete (flushed).</summary>
    public bool TextEnded { get; private set; }

    /// <summary>Where the previous sentence ended in the text (0 before the first).</summary>
    public int LastTextEnd { get; set; }

    /// <summary>Whether any audio of the reply was produced.</summary>
    public bool HasAudio { get; private set; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Starts playing the stream's audio through <paramref name="write"/> (16 kHz; ownership of the chunk moves) from
    /// output position <paramref name="start"/> (the output's sample count when the reply starts).
    /// </summary>
    public void Start(long start, Func<AudioChunk, CancellationToken, ValueTask> write) =>
        _pump = Task.Run(() => PumpAsync(start, write, _stop.Token));

    public async ValueTask PushAsync(string text, CancellationToken cancellationToken)
    {
        if (text.Length == 0 || TextEnded || IsDisposed)
        {
            return;
        }

        try
        {
            await _stream.PushTextAsync(text, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // The synthesis failed: the reply's audio reports it (a speech error), not the LLM stage pushing text.
            return;
        }

        Pushed += text.Length;
    }

    public async ValueTask EndTextAsync()
    {
        if (TextEnded || IsDisposed)
        {
            return;
        }

        TextEnded = true;
        try
        {
            await _stream.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // As above: the failure is the audio's to report.
        }
    }

    /// <summary>Stops the synthesis from any thread without waiting (the interruption lane); disposal follows.</summary>
    public void Cancel()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// The output position where the audio of the text from <paramref name="textOffset"/> on starts: the first word
    /// at or after it, or the end of the audio when the stream ended first. Waits until that is known; a vendor
    /// failure throws it.
    /// </summary>
    public async ValueTask<long> PositionOfAsync(int textOffset, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                foreach (var (offset, position) in _marks)
                {
                    if (offset >= textOffset)
                    {
                        return position;
                    }
                }

                if (_failure is { } failure)
                {
                    throw new InvalidOperationException("The TTS stream failed: " + failure.Message, failure);
                }

                if (_end >= 0)
                {
                    return _end;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Cancel();
        if (_pump is not null)
        {
            await _pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task PumpAsync(long start, Func<AudioChunk, CancellationToken, ValueTask> write, CancellationToken cancellationToken)
    {
        Resampler? resampler = null;
        var rate = 0;
        var position = start;
        try
        {
            await foreach (var piece in _stream.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (piece.Word is { TextLength: > 0 } word)
                {
                    // Placed by the vendor's time, not by arrival: timings may come before or after their audio.
                    Mark(word, start);
                }

                using var chunk = piece.Audio;
                if (chunk.IsEmpty)
                {
                    continue;
                }

                HasAudio = true;
                AudioChunk output;
                if (chunk.SampleRate == AudioFormat.Pipeline.SampleRate)
                {
                    output = AudioChunk.CopyOf(chunk.Samples, chunk.SampleRate);
                }
                else
                {
                    if (resampler is null || rate != chunk.SampleRate)
                    {
                        resampler = new Resampler(chunk.SampleRate, AudioFormat.Pipeline.SampleRate);
                        rate = chunk.SampleRate;
                    }

                    output = AudioChunk.Rent(resampler.MaxOutputSamples(chunk.Length), AudioFormat.Pipeline.SampleRate);
                    output = output.WithLength(resampler.Process(chunk.Samples, output.WritableSpan));
                }

                position += output.Length;
                await write(output, cancellationToken).ConfigureAwait(false);
            }

            if (resampler is not null)
            {
                var tail = AudioChunk.Rent(resampler.MaxFlushSamples, AudioFormat.Pipeline.SampleRate);
                tail = tail.WithLength(resampler.Flush(tail.WritableSpan));
                position += tail.Length;
                await write(tail, cancellationToken).ConfigureAwait(false);
            }

            End(position, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            End(position, null);
        }
        catch (Exception ex)
        {
            End(position, ex);
        }
    }

    /// <summary>
    /// The end (in the text) of the last word whose audio ends at or before output position <paramref name="played"/>,
    /// or null when no word timing has been seen.
    /// </summary>
    public int? PlayedTextOffset(long played)
    {
        lock (_gate)
        {
            if (_wordEnds.Count == 0)
            {
                return null;
            }

            var offset = 0;
            foreach (var (textEnd, endPosition) in _wordEnds)
            {
                if (endPosition <= played && textEnd > offset)
                {
                    offset = textEnd;
                }
            }

            return offset;
        }
    }

    private void Mark(WordTiming word, long start)
    {
        var rate = AudioFormat.Pipeline.SampleRate;
        lock (_gate)
        {
            _marks.Add((word.TextOffset, start + (long)(word.Start.TotalSeconds * rate)));
            _wordEnds.Add((word.TextOffset + word.TextLength, start + (long)(word.End.TotalSeconds * rate)));
            Signal();
        }
    }

    private void End(long position, Exception? failure)
    {
        lock (_gate)
        {
            _end = position;
            _failure = failure;
            Signal();
        }
    }

    private void Signal()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }
}
