using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Parley.Providers.Local;

/// <summary>
/// Keeps loaded pocketsphinx decoders for reuse across utterances and streams. Loading a decoder parses the
/// dictionary and acoustic model (hundreds of milliseconds); the 5prealpha API offers no way to share one loaded
/// acoustic model between decoders, so the pool shares whole decoders instead: a stream rents one at the first audio
/// of an utterance and gives it back at the utterance's end (or on dispose), so the decoders alive follow the users
/// speaking at once, not the open streams. At most <see cref="PocketSphinxOptions.MaxIdleDecoders"/> are kept idle
/// (configuration <c>Parley:Local:PocketSphinx:MaxIdleDecoders</c>); more are freed when returned. A decoder is only
/// ever used by the one stream that rented it.
/// </summary>
internal sealed partial class PocketSphinxDecoderPool : IDisposable
{
    private readonly ConcurrentBag<PocketSphinxDecoder> _idle = [];
    private readonly string[] _arguments;
    private readonly int _maxIdle;
    private readonly ILogger _logger;
    private int _disposed;
    private int _rented;

    internal PocketSphinxDecoderPool(PocketSphinxOptions options, ILogger logger)
    {
        _maxIdle = options.MaxIdleDecoders;
        _logger = logger;
        var directory = options.ModelDirectory;
        _arguments =
        [
            "-hmm", Path.Combine(directory, "en-us"),
            "-lm", Path.Combine(directory, "en-us.lm.bin"),
            "-dict", Path.Combine(directory, "cmudict-en-us.dict"),
            "-samprate", "16000",
            "-logfn", "/dev/null",
        ];
        ModelDirectory = directory;
    }

    public string ModelDirectory { get; }

    public int IdleCount => _idle.Count;

    /// <summary>Decoders rented and not yet given back (streams in an utterance).</summary>
    public int RentedCount => Volatile.Read(ref _rented);

    /// <summary>An idle decoder, or a freshly loaded one when none is idle (blocks for the model load).</summary>
    public PocketSphinxDecoder Rent()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var decoder = _idle.TryTake(out var idle) ? idle : Load();
        Interlocked.Increment(ref _rented);
        return decoder;
    }

    /// <summary>Gives back a decoder that is between utterances; disposes it when the pool is full or disposed.</summary>
    public void Return(PocketSphinxDecoder decoder)
    {
        Interlocked.Decrement(ref _rented);
        if (Volatile.Read(ref _disposed) != 0 || _idle.Count >= _maxIdle)
        {
            decoder.Dispose();
            return;
        }

        _idle.Add(decoder);
        if (Volatile.Read(ref _disposed) != 0 && _idle.TryTake(out var late))
        {
            late.Dispose();
        }
    }

    /// <summary>Frees a rented decoder that cannot be reused (it failed mid-utterance).</summary>
    public void Discard(PocketSphinxDecoder decoder)
    {
        Interlocked.Decrement(ref _rented);
        decoder.Dispose();
    }

    /// <summary>Loads decoders until <paramref name="count"/> are idle (e.g. at server start).</summary>
    public void WarmUp(int count)
    {
        while (_idle.Count < Math.Min(count, _maxIdle))
        {
            _idle.Add(Load());
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        while (_idle.TryTake(out var decoder))
        {
            decoder.Dispose();
        }
    }

    /// <summary>Throws the clear error of a missing model file (checked when a stream starts, before any decoder is rented).</summary>
    public void CheckModelFiles()
    {
        foreach (var file in (ReadOnlySpan<string>)[Path.Combine(ModelDirectory, "en-us", "mdef"), Path.Combine(ModelDirectory, "en-us.lm.bin"), Path.Combine(ModelDirectory, "cmudict-en-us.dict")])
        {
            if (!File.Exists(file))
            {
                throw new InvalidOperationException(
                    $"pocketsphinx model file '{file}' is missing; install the Debian package pocketsphinx-en-us or set the model directory.");
            }
        }

    }

    private PocketSphinxDecoder Load()
    {
        CheckModelFiles();
        var started = Stopwatch.GetTimestamp();
        var decoder = new PocketSphinxDecoder(PocketSphinxDecoderHandle.Create(_arguments));
        LogDecoderLoaded(_logger, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return decoder;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded a pocketsphinx decoder in {ElapsedMs:F0} ms")]
    private static partial void LogDecoderLoaded(ILogger logger, double elapsedMs);
}
