using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;

namespace Parley.Providers.Local;

/// <summary>
/// One recognition stream over a pooled pocketsphinx decoder. Pushes queue pooled copies of the samples for the
/// decoding worker (see <see cref="RecognitionStreamBase"/>), so they never wait on recognition; the queue is bounded but
/// generous (<see cref="PocketSphinxOptions.InputQueueCapacity"/>) and waits rather than drop audio when full.
/// The worker rents a decoder from the shared pool at the first audio of an utterance (loading one if the pool is
/// empty) and gives it back at the utterance's end, so a stream that waits between utterances (the warm stream of an
/// idle session) holds no decoder: memory follows the concurrent speakers, not the open streams. It checks the
/// hypothesis every <see cref="PocketSphinxOptions.PartialInterval"/> of audio and emits a partial when it changed, and
/// emits one final result per end of utterance (empty text when nothing was said).
/// </summary>
internal sealed partial class PocketSphinxRecognitionStream : RecognitionStreamBase
{
    private const int SampleRate = 16000;

    private readonly PocketSphinxDecoderPool _pool;
    private readonly ILogger _logger;
    private readonly int _partialSamples;

    internal PocketSphinxRecognitionStream(PocketSphinxDecoderPool pool, PocketSphinxOptions options, ILogger logger)
        : base("pocketsphinx", options.InputQueueCapacity)
    {
        _pool = pool;
        _logger = logger;
        _partialSamples = Math.Max(1, (int)(options.PartialInterval.TotalSeconds * SampleRate));
        Start();
    }

    protected override void OnFailed(Exception exception) => LogWorkerFailed(_logger, exception);

    protected override async Task RunAsync(ChannelReader<AudioPiece> input, ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken)
    {
        PocketSphinxDecoder? decoder = null;
        var reusable = false;
        try
        {
            _pool.CheckModelFiles(); // a missing model fails the stream at once, not at the first utterance
            reusable = true;
            var sinceCheck = 0;
            var lastPartial = string.Empty;
            while (await input.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (input.TryRead(out var piece))
                {
                    if (piece.IsEndOfUtterance)
                    {
                        var text = decoder is { InUtterance: true } ? decoder.EndUtterance() : string.Empty;
                        if (decoder is not null)
                        {
                            _pool.Return(decoder); // between utterances the stream holds no decoder
                            decoder = null;
                        }

                        sinceCheck = 0;
                        lastPartial = string.Empty;
                        await results.WriteAsync(new SpeechRecognitionResult(text, IsFinal: true), cancellationToken)
                            .ConfigureAwait(false);
                        continue;
                    }

                    try
                    {
                        decoder ??= _pool.Rent();
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
                            results.TryWrite(new SpeechRecognitionResult(hypothesis, IsFinal: false));
                        }
                    }
                }
            }
        }
        catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            reusable = false;
            throw;
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
            _pool.Discard(decoder);
        }
    }

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "pocketsphinx recognition stream failed")]
    private static partial void LogWorkerFailed(ILogger logger, Exception exception);
}
