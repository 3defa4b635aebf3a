using System.Collections.Concurrent;
using Parley.Providers.Net;

namespace Parley.Providers.AliyunNls;

/// <summary>
/// One fresh gateway connection kept ready per endpoint and token, so the next sentence does not wait for a WebSocket
/// handshake: each synthesis takes the spare (when it is still young and open) and starts the next one. A spare never
/// carried a task (NLS gives one synthesis per connection, and its docs promise no more); one unused for
/// <see cref="AliyunNlsOptions.SpareLifetime"/> is closed, so an idle agent holds nothing.
/// </summary>
internal sealed class AliyunNlsSpares(TimeProvider time, TimeSpan lifetime) : IDisposable
{
    private readonly ConcurrentDictionary<string, Spare> _spares = new(StringComparer.Ordinal);
    private long _used;
    private int _disposed;

    /// <summary>Syntheses that started on a spare instead of a new connection.</summary>
    public long Used => Interlocked.Read(ref _used);

    /// <summary>The ready connection for <paramref name="key"/>, or null (none, too old, closed, or it failed to connect).</summary>
    public async Task<TtsVendorSocket?> TakeAsync(string key, CancellationToken cancellationToken)
    {
        if (lifetime <= TimeSpan.Zero || !_spares.TryRemove(key, out var spare))
        {
            return null;
        }

        spare.Expiry?.Dispose();
        TtsVendorSocket? socket;
        try
        {
            // Still connecting: it started earlier than a new connection would.
            socket = await spare.Socket.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (OperationCanceledException)
        {
            _ = spare.Socket.ContinueWith(static t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            throw;
        }

        if (!socket.IsOpen || time.GetElapsedTime(spare.Created) >= lifetime)
        {
            socket.Dispose();
            return null;
        }

        Interlocked.Increment(ref _used);
        return socket;
    }

    /// <summary>Starts connecting the spare for <paramref name="key"/> unless one is there.</summary>
    public void Prepare(string key, Func<CancellationToken, Task<TtsVendorSocket>> connect)
    {
        if (lifetime <= TimeSpan.Zero || Volatile.Read(ref _disposed) != 0 || _spares.ContainsKey(key))
        {
            return;
        }

        var spare = new Spare(connect(CancellationToken.None), time.GetTimestamp());
        if (!_spares.TryAdd(key, spare))
        {
            Discard(spare.Socket);
            return;
        }

        // Closed when unused for its lifetime.
        spare.Expiry = time.CreateTimer(_ => Expire(key, spare), null, lifetime, Timeout.InfiniteTimeSpan);
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _disposed, 1);
        foreach (var key in _spares.Keys)
        {
            if (_spares.TryRemove(key, out var spare))
            {
                spare.Expiry?.Dispose();
                Discard(spare.Socket);
            }
        }
    }

    private void Expire(string key, Spare spare)
    {
        if (_spares.TryRemove(new KeyValuePair<string, Spare>(key, spare)))
        {
            spare.Expiry?.Dispose();
            Discard(spare.Socket);
        }
    }

    private static void Discard(Task<TtsVendorSocket> socket) =>
        _ = socket.ContinueWith(static t =>
        {
            if (t.IsCompletedSuccessfully)
            {
                t.Result.Dispose();
            }
            else
            {
                _ = t.Exception; // observed: a spare that failed to connect is simply not used
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private sealed class Spare(Task<TtsVendorSocket> socket, long created)
    {
        public Task<TtsVendorSocket> Socket { get; } = socket;

        public long Created { get; } = created;

        public ITimer? Expiry { get; set; }
    }
}
