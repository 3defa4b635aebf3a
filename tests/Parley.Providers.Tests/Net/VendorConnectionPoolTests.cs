using Microsoft.Extensions.Time.Testing;
using Parley.Providers.Net;

namespace Parley.Providers.Tests.Net;

public sealed class VendorConnectionPoolTests
{
    private readonly FakeTimeProvider _time = new();
    private int _serial;

    [Fact]
    public async Task Rent_ReusesAReturnedConnection_OnlyUnderItsKey()
    {
        using var pool = NewPool();
        var (a, reusedA) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        Assert.False(reusedA);
        pool.Return("a", a, reusable: true);
        Assert.Equal(1, pool.IdleCount);

        var (b, reusedB) = await pool.RentAsync("b", fresh: false, OpenAsync, CancellationToken.None);
        Assert.False(reusedB);
        Assert.NotSame(a, b);

        var (again, reusedAgain) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        Assert.True(reusedAgain);
        Assert.Same(a, again);
        Assert.Equal(2, pool.Opened);
        Assert.Equal(0, pool.IdleCount);
    }

    [Fact]
    public async Task Rent_Fresh_OpensANewOneAndKeepsTheIdle()
    {
        using var pool = NewPool();
        var (a, _) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        pool.Return("a", a, reusable: true);

        var (b, reused) = await pool.RentAsync("a", fresh: true, OpenAsync, CancellationToken.None);
        Assert.False(reused);
        Assert.NotSame(a, b);
        Assert.Equal(1, pool.IdleCount);
    }

    [Fact]
    public async Task IdleConnection_ExpiresOnThePoolsClock()
    {
        using var pool = NewPool(idleTimeout: TimeSpan.FromSeconds(30));
        var (a, _) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        pool.Return("a", a, reusable: true);

        _time.Advance(TimeSpan.FromSeconds(29));
        var (same, reused) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        Assert.True(reused);
        pool.Return("a", same, reusable: true); // idle again from now

        _time.Advance(TimeSpan.FromSeconds(30));
        var (next, reusedAfter) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        Assert.False(reusedAfter);
        Assert.NotSame(a, next);
        Assert.True(a.Disposed); // the expired one was closed, not leaked
    }

    [Fact]
    public async Task ClosedIdleConnection_IsDisposedInsteadOfRented()
    {
        using var pool = NewPool();
        var (a, _) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        pool.Return("a", a, reusable: true);
        a.Open = false; // the vendor closed it while it was idle

        var (b, reused) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        Assert.False(reused);
        Assert.NotSame(a, b);
        Assert.True(a.Disposed);
    }

    [Fact]
    public async Task Return_NotReusableOrOverTheLimit_Disposes()
    {
        using var pool = NewPool(maxIdle: 1);
        var (a, _) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        var (b, _) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        var (c, _) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);

        pool.Return("a", a, reusable: false);
        pool.Return("a", b, reusable: true);
        pool.Return("a", c, reusable: true);

        Assert.True(a.Disposed);
        Assert.False(b.Disposed);
        Assert.True(c.Disposed);
        Assert.Equal(1, pool.IdleCount);
    }

    [Fact]
    public async Task Start_ADeadReusedConnection_IsReplacedOnce()
    {
        using var pool = NewPool();
        var (a, _) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        pool.Return("a", a, reusable: true);
        var stale = 0;
        var started = new List<FakeConnection>();

        var result = await pool.StartAsync(
            "a",
            OpenAsync,
            (connection, _) =>
            {
                started.Add(connection);
                return connection == a ? Task.FromException<FakeConnection>(new StaleException()) : Task.FromResult(connection);
            },
            ex => ex is StaleException,
            () => stale++,
            CancellationToken.None);

        Assert.Equal(2, started.Count);
        Assert.Same(a, started[0]);
        Assert.Same(result, started[1]);
        Assert.NotSame(a, result);
        Assert.True(a.Disposed);
        Assert.False(result.Disposed);
        Assert.Equal(1, stale);
    }

    [Fact]
    public async Task Start_AFreshConnectionFailing_IsNotRetried()
    {
        using var pool = NewPool();
        var opened = new List<FakeConnection>();
        Task<FakeConnection> Open(CancellationToken ct)
        {
            var c = new FakeConnection(++_serial);
            opened.Add(c);
            return Task.FromResult(c);
        }

        await Assert.ThrowsAsync<StaleException>(() => pool.StartAsync<FakeConnection>(
            "a", Open, (_, _) => throw new StaleException(), ex => ex is StaleException, null, CancellationToken.None));

        Assert.Single(opened);
        Assert.True(opened[0].Disposed);
    }

    [Fact]
    public async Task Start_TheReplacementFailingToo_Throws()
    {
        using var pool = NewPool();
        var (a, _) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        pool.Return("a", a, reusable: true);
        var attempts = 0;

        await Assert.ThrowsAsync<StaleException>(() => pool.StartAsync<FakeConnection>(
            "a", OpenAsync, (_, _) => { attempts++; throw new StaleException(); }, ex => ex is StaleException, null, CancellationToken.None));

        Assert.Equal(2, attempts);
        Assert.Equal(2, pool.Opened);
        Assert.Equal(0, pool.IdleCount);
    }

    [Fact]
    public async Task Start_AnotherFailureOnAReusedConnection_IsNotRetried()
    {
        using var pool = NewPool();
        var (a, _) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        pool.Return("a", a, reusable: true);
        var attempts = 0;

        await Assert.ThrowsAsync<InvalidOperationException>(() => pool.StartAsync<FakeConnection>(
            "a", OpenAsync, (_, _) => { attempts++; throw new InvalidOperationException("refused"); }, ex => ex is StaleException, null, CancellationToken.None));

        Assert.Equal(1, attempts);
        Assert.True(a.Disposed);
    }

    [Fact]
    public async Task Dispose_ClosesTheIdleAndRefusesLaterRents()
    {
        var pool = NewPool();
        var (a, _) = await pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None);
        var (b, _) = await pool.RentAsync("b", fresh: false, OpenAsync, CancellationToken.None);
        var (held, _) = await pool.RentAsync("b", fresh: false, OpenAsync, CancellationToken.None);
        pool.Return("a", a, reusable: true);
        pool.Return("b", b, reusable: true);

        pool.Dispose();

        Assert.True(a.Disposed);
        Assert.True(b.Disposed);
        Assert.Equal(0, pool.IdleCount);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pool.RentAsync("a", fresh: false, OpenAsync, CancellationToken.None));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pool.RentAsync("a", fresh: true, OpenAsync, CancellationToken.None));

        pool.Return("b", held, reusable: true); // a connection still out when the pool closed is closed on return
        Assert.True(held.Disposed);
    }

    [Fact]
    public void Constructor_RefusesANegativeLimit() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new VendorConnectionPool<string, FakeConnection>(-1, TimeSpan.FromSeconds(1), _time));

    private VendorConnectionPool<string, FakeConnection> NewPool(int maxIdle = 4, TimeSpan? idleTimeout = null) =>
        new(maxIdle, idleTimeout ?? TimeSpan.FromMinutes(1), _time, StringComparer.Ordinal);

    private Task<FakeConnection> OpenAsync(CancellationToken cancellationToken) => Task.FromResult(new FakeConnection(++_serial));

    private sealed class StaleException() : Exception("connection broken");

    private sealed class FakeConnection(int serial) : IVendorConnection
    {
        public int Serial { get; } = serial;

        public bool Open { get; set; } = true;

        public bool Disposed { get; private set; }

        public bool IsOpen => Open && !Disposed;

        public void Dispose() => Disposed = true;

        public override string ToString() => $"connection {Serial}";
    }
}
