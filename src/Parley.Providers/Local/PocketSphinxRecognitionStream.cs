using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Speech;

namespace Parley.Providers.Local;

/// <summary>
/// One recognition stream over a pooled pocketsphinx decoder. <see cref="PushAsync"/> copies the samples into a
/// pooled buffer and queues them for a decoding worker, so it never waits on recognition; the queue is bounded but
/// generous (<see cref="PocketSphinxOptions.InputQueueCapacity"/>) and waits rather than drop audio when full.
/// The worker rents a decoder (loading one if the pool is empty), starts an utterance at the first audio after an
/// end, checks the hypothesis every <see cref="PocketSphinxOptions.PartialInterval"/> of audio and emits a partial when
/// it changed, and emits one final result per <see cref="EndUtteranceAsync"/> (empty text when nothing was said).
/// </summary>
internal sealed partial class PocketSphinxRecognitionStream : ISpeechRecognitionStream
{
    private const int ResultCapacity = 64;
    private const int SampleRate = 16000;

    private readonly Channel<Piece> _input;
    private readonly Channel<SpeechRecognitionResult> _results;
    private readonly CancellationTokenSource _stop = new();
    private readonly PocketSphinxDecoderPool _pool;
    private readonly ILogger _logger;
    private readonly int _partialSamples;
    private readonly Task _worker;
    private int _disposed;

    internal PocketSphinxRecognitionStream(PocketSphinxDecoderPool pool, PocketSphinxOptions options, ILogger logger)
    {
        _pool = pool;
        _logger = logger;
        _partialSamples = Math.Max(1, (int)(options.PartialInterval.TotalSeconds * SampleRate));
        _input = Channel.CreateBounded<Piece>(new BoundedChannelOptions(options.InputQueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });

        // Partials are written with TryWrite (a newer partial supersedes a dropped one); finals wait for room.
        _results = Channel.CreateBounded<SpeechRecognitionResult>(new BoundedChannelOptions(ResultCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
        _worker = Task.Run(() => RunAsync(_stop.Token));
    }

    public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (samples.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        var buffer = ArrayPool<short>.Shared.Rent(samples.Length);
        samples.Span.CopyTo(buffer);
        return Enqueue(new Piece(buffer, samples.Length), cancellationToken);
    }

    public ValueTask EndUtteranceAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Enqueue(default, cancellationToken);
    }

    public IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken) =>
        _results.Reader.ReadAllAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _input.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _worker.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The worker ends by cancellation; nothing to report.
        }

        while (_input.Reader.TryRead(out var piece))
        {
            piece.Return();
        }

        _stop.Dispose();
    }

    private ValueTask Enqueue(Piece piece, CancellationToken cancellationToken)
    {
        if (_input.Writer.TryWrite(piece))
        {
            return ValueTask.CompletedTask;
        }

        return EnqueueSlowAsync(piece, cancellationToken);
    }

    private async ValueTask EnqueueSlowAsync(Piece piece, CancellationToken cancellationToken)
    {
        try
        {
            await _input.Writer.WriteAsync(piece, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException closed)
        {
            piece.Return();
            if (Volatile.Read(ref _disposed) != 0)
            {
                throw new ObjectDisposedException(nameof(PocketSphinxRecognitionStream));
            }

            throw new InvalidOperationException("The pocketsphinx recognition stream failed; see Results for the cause.", closed.InnerException ?? closed);
        }
        catch
        {
            piece.Return();
            throw;
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        PocketSphinxDecoder? decoder = null;
        var reusable = false;
        try
        {
            decoder = _pool.Rent();
            reusable = true;
            var sinceCheck = 0;
            var lastPartial = string.Empty;
            var reader = _input.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var piece))
                {
                    if (piece.IsEndOfUtterance)
                    {
                        var text = decoder.InUtterance ? decoder.EndUtterance() : string.Empty;
                        sinceCheck = 0;
                        lastPartial = string.Empty;
                        await _results.Writer.WriteAsync(new SpeechRecognitionResult(text, IsFinal: true), cancellationToken)
                            .ConfigureAwait(false);
                        continue;
                    }

                    try
                    {
                        reusable = false;
                        if (!decoder.InUtterance)
                        {
                            decoder.StartUtterance();
                        }

                        decoder.Process(piece.Samples);
                        reusable = true;
                    }
                    finally
                    {
                        piece.Return();
                    }

                    sinceCheck += piece.Length;
                    if (sinceCheck >= _partialSamples)
                    {
                        sinceCheck = 0;
                        var hypothesis = decoder.Hypothesis();
                        if (hypothesis.Length > 0 && !string.Equals(hypothesis, lastPartial, StringComparison.Ordinal))
                        {
                            lastPartial = hypothesis;
                            _results.Writer.TryWrite(new SpeechRecognitionResult(hypothesis, IsFinal: false));
                        }
                    }
                }
            }

            _results.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _results.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            reusable = false;
            LogWorkerFailed(_logger, ex);
            _input.Writer.TryComplete(ex); // later pushes fail instead of filling a queue nobody reads
            _results.Writer.TryComplete(ex);
        }
        finally
        {
            if (decoder is not null)
            {
                ReleaseDecoder(decoder, reusable);
            }
        }
    }

    private void ReleaseDecoder(PocketSphinxDecoder decoder, bool reusable)
    {
        if (reusable && decoder.InUtterance)
        {
            try
            {
                decoder.EndUtterance();
            }
            catch (InvalidOperationException ex)
            {
                LogWorkerFailed(_logger, ex);
                reusable = false;
            }
        }

        if (reusable)
        {
            _pool.Return(decoder);
        }
        else
        {
            decoder.Dispose();
        }
    }

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "pocketsphinx recognition stream failed")]
    private static partial void LogWorkerFailed(ILogger logger, Exception exception);

    /// <summary>A queued piece of audio in a pooled buffer, or (no buffer) the end of the current utterance.</summary>
    private readonly struct Piece(short[]? buffer, int length)
    {
        public bool IsEndOfUtterance => buffer is null;

        public int Length => length;

        public ReadOnlySpan<short> Samples => buffer.AsSpan(0, length);

        public void Return()
        {
            if (buffer is not null)
            {
                ArrayPool<short>.Shared.Return(buffer);
            }
        }
    }
}
