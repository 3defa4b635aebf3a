using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;

namespace Parley.Core.Input;

/// <summary>One opened recognition stream, its reader and the utterances streamed to it whose final has not arrived.</summary>
internal sealed class RecognitionSession(ISpeechRecognitionStream stream, CancellationToken stop)
{
    public ISpeechRecognitionStream Stream { get; } = stream;

    public CancellationTokenSource Cts { get; } = CancellationTokenSource.CreateLinkedTokenSource(stop);

    /// <summary>Utterances awaiting their final result, oldest first. Guarded by the pipeline's lock.</summary>
    public Queue<Utterance> Pending { get; } = new();

    /// <summary>Failed: takes nothing more, its utterances are lost. Guarded by the pipeline's lock.</summary>
    public bool Failed { get; set; }

    /// <summary>Replaced by a newer stream: takes no new utterances, closes once <see cref="Pending"/> is empty.</summary>
    public bool Retired { get; set; }

    public Task Reader { get; set; } = Task.CompletedTask;

    public void Stop()
    {
        try
        {
            // Asynchronous: safe under the pipeline's lock (no cancellation callback runs on this thread).
            _ = Cts.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The reader already closed the session.
        }
    }
}

/// <summary>What the <see cref="UtteranceRecognizer"/> reports to its pipeline.</summary>
internal interface IRecognitionListener
{
    /// <summary>A result of <paramref name="session"/> (for its oldest pending utterance). Called without the lock.</summary>
    ValueTask OnResultAsync(RecognitionSession session, SpeechRecognitionResult result, CancellationToken cancellationToken);

    /// <summary>
    /// <paramref name="session"/> failed (null: a stream could not be opened) and its pending utterances are lost. <paramref name="firstOfOutage"/>: no failure
    /// was reported since a stream last produced a result. Called under the pipeline's lock.
    /// </summary>
    void OnLostLocked(RecognitionSession? session, Utterance[] lost, Exception error, bool firstOfOutage);
}

/// <summary>
/// Streams utterances into recognition streams opened from a factory, and keeps hearing when one fails: the failed
/// stream's utterances are reported lost, and a fresh stream is opened after a backoff on the TimeProvider (doubling
/// per failure in a row, reset by any result). <see cref="Update"/> swaps the factory of a running recogniser: the new
/// stream opens at once and takes the utterances that start after the next speech start, while the old one finishes
/// the utterances it has (their finals still arrive) and then closes. Each stream's reader disposes it.
/// State is guarded by the pipeline's lock (<c>…Locked</c> methods run under it).
/// </summary>
internal sealed class UtteranceRecognizer : IAsyncDisposable
{
    private readonly Lock _gate;
    private readonly TimeProvider _time;
    private readonly TimeSpan _retryDelay;
    private readonly TimeSpan _maxRetryDelay;
    private readonly IRecognitionListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<RecognitionSession> _sessions = [];
    private Func<ISpeechRecognitionStream> _open;
    private RecognitionSession? _current;
    private RecognitionSession? _next;
    private ITimer? _retry;
    private int _failuresInRow;
    private bool _outage;
    private bool _disposed;

    public UtteranceRecognizer(
        Lock gate, Func<ISpeechRecognitionStream> open, TimeProvider time, TimeSpan retryDelay, TimeSpan maxRetryDelay, IRecognitionListener listener)
    {
        _gate = gate;
        _open = open;
        _time = time;
        _retryDelay = retryDelay;
        _maxRetryDelay = maxRetryDelay;
        _listener = listener;
    }

    /// <summary>Opens the first stream (a failure to open is handled like any other failure).</summary>
    public void Start() => OpenAndInstall();

    /// <summary>A new factory; its stream takes over from the next utterance.</summary>
    public void Update(Func<ISpeechRecognitionStream> open)
    {
        ArgumentNullException.ThrowIfNull(open);
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _open = open;
        }

        OpenAndInstall();
    }

    /// <summary>The stream that takes a new utterance (a pending update takes over first); null while none is open.</summary>
    public RecognitionSession? BeginLocked(Utterance utterance)
    {
        if (_next is { } next)
        {
            _next = null;
            if (_current is { } old)
            {
                RetireLocked(old);
            }

            _current = next;
        }

        _current?.Pending.Enqueue(utterance);
        return _current;
    }

    /// <summary>Streams samples to <paramref name="session"/>; a failure fails the session (nothing is thrown but cancellation).</summary>
    public ValueTask PushAsync(RecognitionSession session, ReadOnlyMemory<short> samples, CancellationToken cancellationToken)
    {
        try
        {
            return Settle(session, session.Stream.PushAsync(samples, cancellationToken), cancellationToken);
        }
        catch (Exception ex) when (IsFailure(ex, cancellationToken))
        {
            Fail(session, ex);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Ends the utterance on <paramref name="session"/>; a failure fails the session.</summary>
    public ValueTask EndUtteranceAsync(RecognitionSession session, CancellationToken cancellationToken)
    {
        try
        {
            return Settle(session, session.Stream.EndUtteranceAsync(cancellationToken), cancellationToken);
        }
        catch (Exception ex) when (IsFailure(ex, cancellationToken))
        {
            Fail(session, ex);
            return ValueTask.CompletedTask;
        }
    }

    private static bool IsFailure(Exception ex, CancellationToken cancellationToken) =>
        ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested;

    /// <summary>Completes synchronously (no state machine, no allocation) when the vendor's call did.</summary>
    private ValueTask Settle(RecognitionSession session, ValueTask pending, CancellationToken cancellationToken)
    {
        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
            return ValueTask.CompletedTask;
        }

        return AwaitAsync(session, pending, cancellationToken);
    }

    private async ValueTask AwaitAsync(RecognitionSession session, ValueTask pending, CancellationToken cancellationToken)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex) when (IsFailure(ex, cancellationToken))
        {
            Fail(session, ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        RecognitionSession[] sessions;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _retry?.Dispose();
            _retry = null;
            sessions = [.. _sessions];
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var session in sessions)
        {
            await session.Reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _stop.Dispose();
    }

    private void OpenAndInstall()
    {
        Func<ISpeechRecognitionStream> open;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            open = _open;
        }

        ISpeechRecognitionStream stream;
        try
        {
            stream = open() ?? throw new InvalidOperationException("The recogniser factory returned no stream.");
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                FailedToOpenLocked(ex);
            }

            return;
        }

        var session = new RecognitionSession(stream, _stop.Token);
        RecognitionSession? replaced = null;
        var installed = false;
        lock (_gate)
        {
            if (!_disposed)
            {
                installed = true;
                _sessions.Add(session);
                if (_current is null)
                {
                    _current = session;
                    _retry?.Dispose();
                    _retry = null;
                }
                else
                {
                    // An update (or a retry racing one): the newest stream waits for the next utterance.
                    replaced = _next;
                    _next = session;
                }

                // On the thread pool: never on the caller's scheduler (a grain) nor under this lock.
                session.Reader = Task.Run(() => ReadAsync(session));
                if (replaced is not null)
                {
                    RetireLocked(replaced);
                }
            }
        }

        if (!installed)
        {
            // Disposed meanwhile: nobody will read this stream.
            session.Cts.Dispose();
            _ = stream.DisposeAsync().AsTask().ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }
    }

    private async Task ReadAsync(RecognitionSession session)
    {
        var ct = session.Cts.Token;
        Exception? error = null;
        try
        {
            await foreach (var result in session.Stream.Results(ct).ConfigureAwait(false))
            {
                lock (_gate)
                {
                    _outage = false;
                    _failuresInRow = 0;
                }

                await _listener.OnResultAsync(session, result, ct).ConfigureAwait(false);
                lock (_gate)
                {
                    if (session.Retired && session.Pending.Count == 0)
                    {
                        break;
                    }
                }
            }

            lock (_gate)
            {
                if (!ct.IsCancellationRequested && !(session.Retired && session.Pending.Count == 0))
                {
                    error = new InvalidOperationException("the recognition stream ended");
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            error = ex;
        }

        if (error is not null)
        {
            Fail(session, error);
        }

        lock (_gate)
        {
            _sessions.Remove(session);
            if (_current == session)
            {
                _current = null;
            }

            if (_next == session)
            {
                _next = null;
            }
        }

        try
        {
            await session.Stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A vendor's stream failing to close changes nothing: it is gone either way.
        }

        session.Cts.Dispose();
    }

    private void Fail(RecognitionSession session, Exception error)
    {
        lock (_gate)
        {
            if (session.Failed || _disposed)
            {
                return;
            }

            session.Failed = true;
            Utterance[] lost = [.. session.Pending];
            session.Pending.Clear();
            var wasCurrent = _current == session;
            if (wasCurrent)
            {
                _current = _next;
                _next = null;
            }

            if (_next == session)
            {
                _next = null;
            }

            var first = !_outage;
            _outage = true;
            _failuresInRow++;
            if (_current is null)
            {
                ScheduleRetryLocked();
            }

            _listener.OnLostLocked(session, lost, error, first);
            session.Stop();
        }
    }

    private void FailedToOpenLocked(Exception error)
    {
        if (_disposed)
        {
            return;
        }

        var first = !_outage;
        _outage = true;
        _failuresInRow++;
        if (_current is null)
        {
            ScheduleRetryLocked();
        }

        if (first)
        {
            _listener.OnLostLocked(null, [], error, firstOfOutage: true);
        }
    }

    private void RetireLocked(RecognitionSession session)
    {
        session.Retired = true;
        if (session.Pending.Count == 0)
        {
            session.Stop();
        }
    }

    private void ScheduleRetryLocked()
    {
        var shift = Math.Min(_failuresInRow - 1, 16);
        var delay = TimeSpan.FromTicks(Math.Min(_maxRetryDelay.Ticks, _retryDelay.Ticks << shift));
        _retry?.Dispose();
        _retry = _time.CreateTimer(static state => ((UtteranceRecognizer)state!).OpenAndInstall(), this, delay, Timeout.InfiniteTimeSpan);
    }
}
