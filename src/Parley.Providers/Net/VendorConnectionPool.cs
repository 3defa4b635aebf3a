namespace Parley.Providers.Net;

/// <summary>A connection a <see cref="VendorConnectionPool{TKey, TConnection}"/> can keep: it says whether it is still open.</summary>
public interface IVendorConnection : IDisposable
{
    /// <summary>False once the connection failed or the vendor closed it.</summary>
    bool IsOpen { get; }
}

/// <summary>
/// Vendor connections kept open between tasks, so that the next sentence or utterance does not pay a handshake: idle
/// connections per key (at most <see cref="MaxIdlePerKey"/>, most recently returned first), one idle for
/// <see cref="IdleTimeout"/> or longer (read on the pool's <see cref="TimeProvider"/>) or found closed is disposed
/// instead of rented. A connection handed back as not reusable (failed, cancelled mid-task, in doubt) is disposed.
/// <see cref="StartAsync{T}"/> replaces a rented idle connection once when it turns out dead before its task started.
/// Shared by the DashScope, Volcengine and MiniMax pools.
/// </summary>
public sealed class VendorConnectionPool<TKey, TConnection> : IDisposable
    where TKey : notnull
    where TConnection : class, IVendorConnection
{
    private readonly Dictionary<TKey, Stack<(TConnection Connection, long IdleSince)>> _idle;
    private readonly Lock _gate = new();
    private long _opened;
    private bool _disposed;

    public VendorConnectionPool(int maxIdlePerKey, TimeSpan idleTimeout, TimeProvider? time = null, IEqualityComparer<TKey>? comparer = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxIdlePerKey);
        ArgumentOutOfRangeException.ThrowIfLessThan(idleTimeout, TimeSpan.Zero);
        MaxIdlePerKey = maxIdlePerKey;
        IdleTimeout = idleTimeout;
        Time = time ?? TimeProvider.System;
        _idle = new Dictionary<TKey, Stack<(TConnection, long)>>(comparer);
    }

    public int MaxIdlePerKey { get; }

    public TimeSpan IdleTimeout { get; }

    public TimeProvider Time { get; }

    /// <summary>Connections opened through the pool so far (handshakes paid).</summary>
    public long Opened => Interlocked.Read(ref _opened);

    /// <summary>Idle connections currently kept.</summary>
    public int IdleCount
    {
        get
        {
            lock (_gate)
            {
                return _idle.Values.Sum(s => s.Count);
            }
        }
    }

    /// <summary>
    /// An open connection for <paramref name="key"/>: an idle one that is still open and not expired (Reused true), or,
    /// when there is none or <paramref name="fresh"/>, a new one from <paramref name="open"/> (counted in <see cref="Opened"/>).
    /// </summary>
    public async Task<(TConnection Connection, bool Reused)> RentAsync(
        TKey key, bool fresh, Func<CancellationToken, Task<TConnection>> open, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(open);
        if (!fresh && TakeIdle(key) is { } idle)
        {
            return (idle, true);
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        var connection = await open(cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _opened);
        return (connection, false);
    }

    /// <summary>Counts a connection opened outside <see cref="RentAsync"/> (one the caller does not pool) in <see cref="Opened"/>.</summary>
    public void CountOpened() => Interlocked.Increment(ref _opened);

    /// <summary>
    /// Rents a connection and runs <paramref name="start"/> on it (the request up to the vendor's first answer). When a
    /// reused idle connection fails with an exception <paramref name="isStale"/> accepts (the vendor dropped it while it
    /// was idle), it is disposed, <paramref name="onStale"/> is told, and the start is tried once more on a new
    /// connection. Any other failure disposes the connection and propagates. On success the caller owns the connection
    /// (hand it back with <see cref="Return"/>).
    /// </summary>
    public async Task<T> StartAsync<T>(
        TKey key,
        Func<CancellationToken, Task<TConnection>> open,
        Func<TConnection, CancellationToken, Task<T>> start,
        Func<Exception, bool> isStale,
        Action? onStale,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(isStale);
        for (var attempt = 0; ; attempt++)
        {
            var (connection, reused) = await RentAsync(key, fresh: attempt > 0, open, cancellationToken).ConfigureAwait(false);
            try
            {
                return await start(connection, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (reused && attempt == 0 && isStale(ex))
            {
                connection.Dispose();
                onStale?.Invoke();
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }
    }

    /// <summary>Hands a connection back: kept under <paramref name="key"/> when <paramref name="reusable"/>, open and there is room; otherwise disposed.</summary>
    public void Return(TKey key, TConnection connection, bool reusable)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (reusable && connection.IsOpen)
        {
            lock (_gate)
            {
                if (!_disposed)
                {
                    if (!_idle.TryGetValue(key, out var stack))
                    {
                        stack = new Stack<(TConnection, long)>();
                        _idle[key] = stack;
                    }

                    if (stack.Count < MaxIdlePerKey)
                    {
                        stack.Push((connection, Time.GetTimestamp()));
                        return;
                    }
                }
            }
        }

        connection.Dispose();
    }

    /// <summary>Disposes every idle connection; later rents throw <see cref="ObjectDisposedException"/>, later returns dispose.</summary>
    public void Dispose()
    {
        List<TConnection> all;
        lock (_gate)
        {
            _disposed = true;
            all = [.. _idle.Values.SelectMany(s => s).Select(e => e.Connection)];
            _idle.Clear();
        }

        foreach (var connection in all)
        {
            connection.Dispose();
        }
    }

    private TConnection? TakeIdle(TKey key)
    {
        while (true)
        {
            (TConnection Connection, long IdleSince) entry;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (!_idle.TryGetValue(key, out var stack) || !stack.TryPop(out entry))
                {
                    return null;
                }
            }

            if (entry.Connection.IsOpen && Time.GetElapsedTime(entry.IdleSince) < IdleTimeout)
            {
                return entry.Connection;
            }

            entry.Connection.Dispose();
        }
    }
}
