using Microsoft.Extensions.DependencyInjection.Extensions;
using Parley.Server.Callbacks;
using Parley.Server.Instances;

namespace Parley.Server.Storage.Postgres;

/// <summary>Registers the PostgreSQL stores when <c>Parley:Store:Provider</c> is PostgreSQL (before the SQLite defaults are tried).</summary>
public static class PostgresHosting
{
    public static IHostApplicationBuilder AddParleyStore(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var store = StoreOptions.Read(builder.Configuration);
        var services = builder.Services;
        services.TryAddSingleton(store);
        if (!store.IsPostgres)
        {
            services.TryAddSingleton<SqliteDatabase>();
            services.TryAddSingleton<IAgentStore, SqliteAgentStore>();
            return builder;
        }

        var leaseSeconds = builder.Configuration.GetValue("Parley:Cluster:NodeLeaseSeconds", 30.0);
        if (leaseSeconds < 1)
        {
            throw new InvalidOperationException("Parley:Cluster:NodeLeaseSeconds must be at least 1");
        }

        services.TryAddSingleton(new NodeLeaseOptions { Lease = TimeSpan.FromSeconds(leaseSeconds) });
        services.TryAddSingleton(sp => new PostgresDatabase(store.ConnectionString, sp.GetService<ILogger<PostgresDatabase>>()));
        services.TryAddSingleton<IAgentStore, PostgresAgentStore>();
        services.TryAddSingleton<PostgresCallbackOutbox>();
        services.TryAddSingleton<ICallbackOutbox>(sp => sp.GetRequiredService<PostgresCallbackOutbox>());
        services.TryAddSingleton<ICallbackPublisher>(sp => sp.GetRequiredService<ICallbackOutbox>());
        services.TryAddSingleton<PostgresInstanceJournal>();
        services.TryAddSingleton<IInstanceJournal>(sp => sp.GetRequiredService<PostgresInstanceJournal>());
        services.TryAddSingleton<IInstanceSlotStore, PostgresInstanceSlots>();
        services.TryAddSingleton<Parley.Rtc.Rooms.IRoomLocator, PostgresRoomLocator>();

        // Migrate before anything else starts, then heartbeat (with the node's load report) and recover lost nodes'
        // instances for as long as the node runs.
        services.TryAddSingleton<ClusterNodeService>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterNodeService>());
        services.TryAddSingleton<Parley.Server.Instances.Placement.INodeLoadSource, PostgresNodeLoads>();
        return builder;
    }
}

/// <summary>
/// A cluster node's duties towards the shared store: migrate the schema at start, renew the node's lease every third
/// of it, and (every half lease) end the instances of nodes whose lease ran out — their Exception and Deleted go out
/// from here. At a clean stop the lease is given up.
/// </summary>
internal sealed partial class ClusterNodeService(
    PostgresDatabase database,
    PostgresInstanceJournal journal,
    InstanceLifecycle lifecycle,
    NodeLeaseOptions lease,
    TimeProvider time,
    IConfiguration configuration,
    IServiceProvider services,
    ILogger<ClusterNodeService> logger) : BackgroundService
{
    private readonly Parley.Server.Instances.Placement.ProcessCpuMeter _cpu = new(time);

    /// <summary>The node's public URL (where room clients are redirected); empty when not configured.</summary>
    private string Address => configuration["Parley:Cluster:PublicUrl"] ?? "";

    /// <summary>Renews the lease with this node's load report (silo address, process CPU since the last report, drain flag).</summary>
    public Task PublishAsync(CancellationToken cancellationToken)
    {
        var silo = services.GetService<Orleans.Runtime.ILocalSiloDetails>()?.SiloAddress.ToParsableString() ?? "";
        var draining = services.GetService<NodeDrain>()?.IsDraining ?? false;
        return journal.HeartbeatAsync(new NodeReport(Address, silo, _cpu.Sample(), draining), cancellationToken);
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await database.EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        await PublishAsync(cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await journal.LeaveAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException)
        {
            LogStoreFailed(logger, ex, "leave");
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(lease.Lease / 6, time);
        var tick = 0;
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false))
        {
            tick++;
            try
            {
                if (tick % 2 == 0)
                {
                    await PublishAsync(stoppingToken).ConfigureAwait(false);
                }

                if (tick % 3 == 0)
                {
                    var recovered = await lifecycle.RecoverAsync(stoppingToken).ConfigureAwait(false);
                    if (recovered > 0)
                    {
                        LogRecovered(logger, recovered);
                    }
                }
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                LogStoreFailed(logger, ex, "heartbeat");
            }
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} agent instances of lost nodes ended; Exception and AgentInstanceDeleted queued for each")]
    private static partial void LogRecovered(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The PostgreSQL store did not answer the node's {Step}")]
    private static partial void LogStoreFailed(ILogger logger, Exception exception, string step);
}

/// <summary>
/// The drain of a cluster node at SIGTERM, done in the host's stopping phase (<see cref="IHostedLifecycleService.StoppingAsync"/>),
/// before any hosted service stops: the web server keeps listening, so <c>/readyz</c> answers 503 and the calls in
/// progress (control API, room connections) are served. The node publishes its drain flag at once (placement skips
/// it) and refuses new instances (they are placed elsewhere); live calls go on until they end or
/// <see cref="ParleyClusterOptions.DrainTimeout"/> passes. Then the room connections end, the web server stops
/// listening, and the silo ends the instances left cleanly (Deleted 1205, ServerStopped).
/// </summary>
internal sealed partial class NodeDrainService(
    NodeDrain drain,
    PostgresInstanceJournal journal,
    ClusterNodeService node,
    ParleyClusterOptions cluster,
    TimeProvider time,
    ILogger<NodeDrainService> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        drain.Begin();
        LogDraining(logger, cluster.DrainTimeout.TotalSeconds);
        try
        {
            await node.PublishAsync(cancellationToken).ConfigureAwait(false);
            await WaitForLiveCallsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException)
        {
            LogDrainTimedOut(logger, -1, cluster.DrainTimeout.TotalSeconds);
        }
        finally
        {
            drain.EndRooms();
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Waits until this node hosts no live instance and <see cref="ParleyClusterOptions.DrainMinimum"/> has passed, or
    /// until <see cref="ParleyClusterOptions.DrainTimeout"/> (which also caps the minimum).
    /// </summary>
    private async Task WaitForLiveCallsAsync(CancellationToken cancellationToken)
    {
        if (cluster.DrainTimeout <= TimeSpan.Zero)
        {
            return;
        }

        var minimum = cluster.DrainMinimum < cluster.DrainTimeout ? cluster.DrainMinimum : cluster.DrainTimeout;
        var start = time.GetTimestamp();
        while (true)
        {
            var hosted = await journal.CountHostedAsync(cancellationToken).ConfigureAwait(false);
            var elapsed = time.GetElapsedTime(start);
            if (hosted == 0 && elapsed >= minimum)
            {
                return;
            }

            if (elapsed >= cluster.DrainTimeout)
            {
                if (hosted > 0)
                {
                    LogDrainTimedOut(logger, hosted, cluster.DrainTimeout.TotalSeconds);
                }

                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), time, cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Draining: not ready, no new instances; live calls may go on for up to {Seconds} s")]
    private static partial void LogDraining(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain: {Count} agent instances still live after {Seconds} s; they are ended now")]
    private static partial void LogDrainTimedOut(ILogger logger, long count, double seconds);
}

/// <summary>
/// Whether this node drains (SIGTERM received in a cluster): <c>/readyz</c> and the instance grain read it, and the
/// room server ends its connections only when <see cref="EndRooms"/> is called after the drain.
/// </summary>
public sealed class NodeDrain : Parley.Rtc.Rooms.IRoomServerShutdown, IDisposable
{
    private readonly CancellationTokenSource _rooms = new();
    private volatile bool _draining;

    /// <summary>True from SIGTERM on: not ready, no new instances here.</summary>
    public bool IsDraining => _draining;

    /// <summary>Cancelled after the drain: the room connections end.</summary>
    public CancellationToken Stopping => _rooms.Token;

    public void Begin() => _draining = true;

    public void EndRooms()
    {
        _draining = true;
        _rooms.Cancel();
    }

    public void Dispose() => _rooms.Dispose();
}
