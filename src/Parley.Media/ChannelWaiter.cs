using System.Runtime.CompilerServices;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;

namespace Parley.Media;

/// <summary>
/// <see cref="ChannelReader{T}.WaitToReadAsync"/> that a <see cref="CancellationToken"/> can end, without allocating
/// per wait: a channel allocates a new wait operation for every call with a cancellable token, i.e. once per 20 ms frame
/// of a microphone stream that is read as it arrives. This waits with no token (the channel's own reusable operation),
/// registers on the token once, and completes its own reusable source with whichever comes first.
/// </summary>
/// <remarks>
/// One reader, one outstanding wait at a time. Once cancelled, every wait throws <see cref="OperationCanceledException"/>;
/// the channel's wait that was pending then is left to complete (or not) on its own.
/// </remarks>
internal sealed class ChannelWaiter<T> : IValueTaskSource<bool>, IDisposable
{
    private readonly ChannelReader<T> _reader;
    private readonly CancellationToken _token;
    private readonly Action _onReady;
    private readonly CancellationTokenRegistration _registration;
    // Continuations inline: the channel's wake-up runs on the pool, or on the writer's thread for a channel with
    // synchronous continuations (the room binding's user audio: a microphone frame reaches the pipeline with no hop).
    private ManualResetValueTaskSourceCore<bool> _core;
    private ConfiguredValueTaskAwaitable<bool>.ConfiguredValueTaskAwaiter _pending;
    private int _armed; // 1 while a wait is outstanding; whoever resets it completes the source

    public ChannelWaiter(ChannelReader<T> reader, CancellationToken token)
    {
        ArgumentNullException.ThrowIfNull(reader);
        _reader = reader;
        _token = token;
        _onReady = OnReady;
        _registration = token.UnsafeRegister(static s => ((ChannelWaiter<T>)s!).OnCancelled(), this);
    }

    /// <summary>True when data is available, false when the channel completed; throws once the token is cancelled.</summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        _token.ThrowIfCancellationRequested();
        var wait = _reader.WaitToReadAsync(CancellationToken.None);
        if (wait.IsCompleted)
        {
            return wait;
        }

        _core.Reset();
        _pending = wait.ConfigureAwait(false).GetAwaiter();
        Volatile.Write(ref _armed, 1);
        _pending.UnsafeOnCompleted(_onReady);
        if (_token.IsCancellationRequested)
        {
            OnCancelled(); // cancelled between the check above and arming: the registration may have run already
        }

        return new ValueTask<bool>(this, _core.Version);
    }

    public void Dispose() => _registration.Dispose();

    bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void OnReady()
    {
        if (Interlocked.Exchange(ref _armed, 0) != 1)
        {
            return; // cancelled first
        }

        bool ready;
        try
        {
            ready = _pending.GetResult();
        }
        catch (Exception error)
        {
            _core.SetException(error);
            return;
        }

        _core.SetResult(ready);
    }

    private void OnCancelled()
    {
        if (Interlocked.Exchange(ref _armed, 0) == 1)
        {
            // Not inline: the canceller may hold locks; the reader's continuation runs on the pool.
            ThreadPool.UnsafeQueueUserWorkItem(static s => s._core.SetException(new OperationCanceledException(s._token)), this, preferLocal: false);
        }
    }
}
