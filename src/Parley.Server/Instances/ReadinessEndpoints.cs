using Orleans.Runtime;

namespace Parley.Server.Instances;

/// <summary>
/// <c>/healthz</c>: the process answers (liveness). <c>/readyz</c>: this node should get traffic — its silo is an
/// active member of the cluster, the store answers, and it is not draining (SIGTERM received). A load balancer sends
/// control calls and room clients only to ready nodes.
/// </summary>
public static class ReadinessEndpoints
{
    public static WebApplication MapParleyHealth(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/readyz", async (HttpContext context) =>
        {
            var services = context.RequestServices;
            var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(TimeSpan.FromSeconds(3));
            var draining = lifetime.ApplicationStopping.IsCancellationRequested || services.GetService<Storage.Postgres.NodeDrain>()?.IsDraining == true;
            var silo = SiloStatusOf(services);
            var store = await StoreReachableAsync(services, timeout.Token);
            var ready = !draining && silo == SiloStatus.Active && store;
            return Results.Json(
                new { ready, silo = silo.ToString(), store = store ? "reachable" : "unreachable", draining },
                statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        return app;
    }

    private static SiloStatus SiloStatusOf(IServiceProvider services)
    {
        var local = services.GetService<ILocalSiloDetails>();
        var membership = services.GetService<IClusterMembershipService>();
        if (local is null || membership is null)
        {
            return SiloStatus.None;
        }

        return membership.CurrentSnapshot.GetSiloStatus(local.SiloAddress);
    }

    private static async Task<bool> StoreReachableAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        try
        {
            if (services.GetService<Storage.Postgres.PostgresDatabase>() is { } postgres
                && services.GetRequiredService<Storage.StoreOptions>().IsPostgres)
            {
                return await postgres.PingAsync(cancellationToken);
            }

            await using var connection = await services.GetRequiredService<Storage.SqliteDatabase>().OpenAsync(cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            return false;
        }
    }
}
