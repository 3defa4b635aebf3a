using System.Threading.Channels;
using Parley.Abstractions.Speech;

namespace Parley.Core.Providers;

/// <summary>
/// The base of TTS streams for vendors whose protocol streams text in (one vendor task per reply, text pushed as it
/// comes). A vendor implements <see cref="RunAsync"/>: read text pieces until the reader completes (the flush), write
/// audio and word timings; the base owns the queues, the worker (started at the first push or read), failures and
/// disposal.
/// </summary>
public abstract class TtsStreamBase : ITtsStream
{
    private readonly Channel<string> _text = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<TtsAudio> _audio;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Task? _worker;
    private Exception? _failure;
    private int _disposed;

    /// <param name="audioCapacity">Audio pieces queued ahead of the reader before the vendor waits.</param>
    protected TtsStreamBase(int audioCapacity = 64)
    {
        _audio = Channel.CreateBounded<TtsAudio>(new BoundedChannelOptions(audioCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
    }

    public ValueTask PushTextAsync(string text, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        EnsureStarted();
        if (!_text.Writer.TryWrite(text))
        {
            throw Volatile.Read(ref _failure) is { } failure
                ? new InvalidOperationException("The TTS stream failed; ReadAsync reports the cause.", failure)
                : new InvalidOperationException("The TTS stream was flushed: open a new stream for more text.");
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        EnsureStarted();
        _text.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    public IAsyncEnumerable<TtsAudio> ReadAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        EnsureStarted();
        return _audio.Reader.ReadAllAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _text.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        Task? worker;
        lock (_gate)
        {
            worker = _worker;
        }

        if (worker is not null)
        {
            await worker.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        while (_audio.Reader.TryRead(out var piece))
        {
            piece.Audio.Dispose();
        }

        await DisposeCoreAsync().ConfigureAwait(false);
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// The vendor's synthesis: read <paramref name="text"/> until it completes (the caller flushed), write each
    /// piece of audio (ownership moves to the reader) and word timing to <paramref name="audio"/>, return when the
    /// last audio is written. Throwing ends <see cref="ReadAsync"/> with the exception; the token is cancelled on dispose.
    /// </summary>
    protected abstract Task RunAsync(ChannelReader<string> text, ChannelWriter<TtsAudio> audio, CancellationToken cancellationToken);

    /// <summary>Releases the vendor's resources after the worker ended.</summary>
    protected virtual ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;

    private void EnsureStarted()
    {
        lock (_gate)
        {
            _worker ??= Task.Run(() => WorkAsync(_stop.Token));
        }
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RunAsync(_text.Reader, _audio.Writer, cancellationToken).ConfigureAwait(false);
            _audio.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _audio.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            Volatile.Write(ref _failure, ex);
            _text.Writer.TryComplete(ex);
            _audio.Writer.TryComplete(ex);
        }
    }
}
