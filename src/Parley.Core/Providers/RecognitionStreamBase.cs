using System.Threading.Channels;
using Parley.Abstractions.Speech;

namespace Parley.Core.Providers;

/// <summary>
/// The base of recognition streams: a bounded input queue that <see cref="PushAsync"/> fills without waiting on
/// recognition (pooled copies; it waits rather than drop audio when the queue is full), one worker running the
/// vendor's <see cref="RunAsync"/>, the results queue, failure and disposal. A vendor implements only
/// <see cref="RunAsync"/>: read <see cref="AudioPiece"/>s in order, write partials with <c>TryWrite</c> (a newer one
/// supersedes a dropped one) and one final per end of utterance with <c>WriteAsync</c>.
/// When <see cref="RunAsync"/> throws, <see cref="Results"/> ends by throwing that exception, later pushes throw
/// <see cref="InvalidOperationException"/> with it as inner exception, and <see cref="OnFailed"/> is called once.
/// Derived constructors call <see cref="Start"/> last (the worker otherwise starts at the first push or read).
/// </summary>
public abstract class RecognitionStreamBase : ISpeechRecognitionStream
{
    private const int ResultCapacity = 64;

    private readonly Channel<AudioPiece> _input;
    private readonly Channel<SpeechRecognitionResult> _results;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly string _vendor;
    private Task? _worker;
    private int _disposed;

    /// <param name="vendor">The vendor name, for messages.</param>
    /// <param name="inputCapacity">Queued pieces before <see cref="PushAsync"/> waits (2048 ≈ 40 s of 20 ms frames).</param>
    protected RecognitionStreamBase(string vendor, int inputCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputCapacity, 1);
        _vendor = vendor;
        _input = Channel.CreateBounded<AudioPiece>(new BoundedChannelOptions(inputCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _results = Channel.CreateBounded<SpeechRecognitionResult>(new BoundedChannelOptions(ResultCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    /// <summary>The worker: completes when the stream ended (disposed, or the vendor returned or failed; a failure is in <see cref="Results"/>).</summary>
    public Task Completion
    {
        get
        {
            lock (_gate)
            {
                return _worker ?? Task.CompletedTask;
            }
        }
    }

    public ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (samples.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        return Enqueue(AudioPiece.CopyOf(samples.Span), cancellationToken);
    }

    public ValueTask EndUtteranceAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Enqueue(AudioPiece.EndOfUtterance, cancellationToken);
    }

    public IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken)
    {
        Start();
        return _results.Reader.ReadAllAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _input.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        Task? worker;
        lock (_gate)
        {
            worker = _worker;
        }

        if (worker is not null)
        {
            await worker.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // the worker reports failures in Results
        }
        else
        {
            _results.Writer.TryComplete();
        }

        while (_input.Reader.TryRead(out var piece))
        {
            piece.Return();
        }

        await DisposeCoreAsync().ConfigureAwait(false);
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Starts the worker (once); derived constructors call it last so the vendor's fields are set.</summary>
    protected void Start()
    {
        lock (_gate)
        {
            _worker ??= Task.Run(() => WorkAsync(_stop.Token));
        }
    }

    /// <summary>
    /// The vendor's recognition: read <paramref name="input"/> in order until it completes, return each piece's buffer
    /// (<see cref="AudioPiece.Return"/>), write results to <paramref name="results"/>. The token is cancelled on dispose;
    /// release vendor resources (connections, decoders) in a <c>finally</c> here. Waits on <paramref name="input"/> end
    /// when it completes, which dispose does before it cancels the token: they do not register on the token (a
    /// cancellable channel wait allocates an operation and a registration for every 20 ms piece).
    /// </summary>
    protected abstract Task RunAsync(ChannelReader<AudioPiece> input, ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken);

    /// <summary>Called once when <see cref="RunAsync"/> threw (to log it); the results end with the exception right after.</summary>
    protected virtual void OnFailed(Exception exception)
    {
    }

    /// <summary>Releases what the vendor holds beyond the worker, after it ended.</summary>
    protected virtual ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;

    private ValueTask Enqueue(AudioPiece piece, CancellationToken cancellationToken)
    {
        Start();
        return _input.Writer.TryWrite(piece) ? ValueTask.CompletedTask : EnqueueSlowAsync(piece, cancellationToken);
    }

    private async ValueTask EnqueueSlowAsync(AudioPiece piece, CancellationToken cancellationToken)
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
                throw new ObjectDisposedException(GetType().Name);
            }

            throw new InvalidOperationException($"The {_vendor} recognition stream failed; see Results for the cause.", closed.InnerException ?? closed);
        }
        catch
        {
            piece.Return();
            throw;
        }
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RunAsync(new InputReader(_input.Reader), _results.Writer, cancellationToken).ConfigureAwait(false);
            _results.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _results.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            try
            {
                OnFailed(ex);
            }
            finally
            {
                _input.Writer.TryComplete(ex); // later pushes fail instead of filling a queue nobody reads
                _results.Writer.TryComplete(ex);
            }
        }
    }

    /// <summary>
    /// The input as the vendor reads it: waits go to the channel without the token, so the channel's one reusable
    /// waiter serves every piece (with a cancellable token it allocates a waiter and a registration per wait, i.e. per
    /// 20 ms frame of every speaking session). Nothing waits forever: dispose completes the input before it cancels,
    /// and a failure completes it too.
    /// </summary>
    private sealed class InputReader(ChannelReader<AudioPiece> inner) : ChannelReader<AudioPiece>
    {
        public override Task Completion => inner.Completion;

        public override bool CanCount => inner.CanCount;

        public override bool CanPeek => inner.CanPeek;

        public override int Count => inner.Count;

        public override bool TryRead(out AudioPiece item) => inner.TryRead(out item);

        public override bool TryPeek(out AudioPiece item) => inner.TryPeek(out item);

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) =>
            cancellationToken.IsCancellationRequested
                ? ValueTask.FromCanceled<bool>(cancellationToken)
                : inner.WaitToReadAsync(CancellationToken.None);

        public override ValueTask<AudioPiece> ReadAsync(CancellationToken cancellationToken = default) =>
            cancellationToken.IsCancellationRequested
                ? ValueTask.FromCanceled<AudioPiece>(cancellationToken)
                : inner.ReadAsync(CancellationToken.None);
    }
}
