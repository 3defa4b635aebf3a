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

        // Migrate before anything else starts, then heartbeat and recover lost nodes' instances for as long as the node runs.
        services.AddHostedService<ClusterNodeService>();
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
    ILogger<ClusterNodeService> logger) : BackgroundService
{
    /// <summary>The node's public URL (where room clients are redirected); empty when not configured.</summary>
    private string Address => configuration["Parley:Cluster:PublicUrl"] ?? "";

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await database.EnsureMigratedAsync(cancellationToken).ConfigureAwait(false);
        await journal.HeartbeatAsync(Address, cancellationToken).ConfigureAwait(false);
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
                    await journal.HeartbeatAsync(Address, stoppingToken).ConfigureAwait(false);
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
/// The drain of a cluster node: registered after the silo, so at SIGTERM it stops first. While it waits the node is
/// not ready (<c>/readyz</c> 503) and refuses new instances (they are placed elsewhere); live calls go on until they
/// end or <see cref="ParleyClusterOptions.DrainTimeout"/> passes, then the silo stops and ends the rest cleanly
/// (Deleted 1205, ServerStopped).
/// </summary>
internal sealed partial class NodeDrainService(PostgresInstanceJournal journal, ParleyClusterOptions cluster, TimeProvider time, ILogger<NodeDrainService> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (cluster.DrainTimeout <= TimeSpan.Zero)
        {
            return;
        }

        var start = time.GetTimestamp();
        try
        {
            long hosted;
            while ((hosted = await journal.CountHostedAsync(cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (time.GetElapsedTime(start) >= cluster.DrainTimeout)
                {
                    LogDrainTimedOut(logger, hosted, cluster.DrainTimeout.TotalSeconds);
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(250), time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException)
        {
            LogDrainTimedOut(logger, -1, cluster.DrainTimeout.TotalSeconds);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain: {Count} agent instances still live after {Seconds} s; they are ended now")]
    private static partial void LogDrainTimedOut(ILogger logger, long count, double seconds);
}
