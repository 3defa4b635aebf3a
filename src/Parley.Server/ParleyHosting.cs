using Microsoft.Extensions.Options;
using Parley.Server.Api;
using Parley.Server.Apps;
using Parley.Server.Observability;
using Parley.Server.Playground;
using Parley.Server.Storage;
using Parley.Server.Storage.Postgres;
using Parley.Rtc;
using Prometheus;

namespace Parley.Server;

/// <summary>Composition of the server: each area adds its services here and maps its endpoints.</summary>
public static class ParleyHosting
{
    public static IHostApplicationBuilder AddParleyControlPlane(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ParleyOptions>()
            .Bind(builder.Configuration.GetSection(ParleyOptions.SectionName))
            .Validate(o => o.RateLimitPerSecond >= 0, "Parley:RateLimitPerSecond must be 0 (off) or positive")
            .Validate(o => o.SignatureWindow >= TimeSpan.FromSeconds(1), "Parley:SignatureWindow must be at least one second")
            .Validate(o => o.ReplayGuardNoncesPerApp > 0, "Parley:ReplayGuardNoncesPerApp must be positive")
            .Validate(o => o.MaxInstancesPerApp > 0, "Parley:MaxInstancesPerApp must be positive")
            .Validate(o => o.MaxAgentsPerApp > 0, "Parley:MaxAgentsPerApp must be positive")
            .ValidateOnStart();
        services.AddSingleton(TimeProvider.System);
        services.AddParleyOutboundPolicy(builder.Configuration);
        builder.AddParleyTelemetry();
        services.AddSingleton<IAppDirectory, AppDirectory>();
        services.AddSingleton<IdGenerator>();
        services.AddSingleton<ActionRateLimiter>();
        services.AddSingleton<ReplayGuard>();
        builder.AddParleyStore();
        services.AddSingleton(sp =>
        {
            var registry = new ActionRegistry().MapAgentActions();
            foreach (var map in sp.GetServices<Action<ActionRegistry>>())
            {
                map(registry);
            }

            return registry;
        });
        return builder;
    }

    /// <summary>Registers more actions (instances, control) with the dispatcher.</summary>
    public static IServiceCollection AddActions(this IServiceCollection services, Action<ActionRegistry> map) =>
        services.AddSingleton(map);

    public static WebApplication MapParley(this WebApplication app)
    {
        app.MapPlayground();
        app.MapControlApi();
        app.MapParleyRtc();
        Instances.ReadinessEndpoints.MapParleyHealth(app);
        app.MapMetrics("/metrics");
        AnnounceDevelopmentApp(app);
        return app;
    }

    /// <summary>
    /// With no configured apps, tells the developer the generated app's credentials on the console (not the log, which
    /// never carries secrets), so the first request can be signed.
    /// </summary>
    private static void AnnounceDevelopmentApp(WebApplication app)
    {
        if (app.Services.GetRequiredService<IAppDirectory>() is AppDirectory { DevelopmentApp: { } dev } directory
            && !app.Configuration.GetValue<bool>("Parley:Quiet"))
        {
            var options = app.Services.GetRequiredService<IOptions<ParleyOptions>>().Value;
            Console.WriteLine($"""
                Parley development app ({(directory.DevelopmentAppCreated ? "created now" : "stored")} in {Path.GetFullPath(Path.Combine(options.DataDirectory, AppDirectory.DevAppFile))}):
                  AppId          {dev.AppId}
                  ServerSecret   {dev.ServerSecret}
                  CallbackSecret {dev.CallbackSecret}
                Configure Parley:Apps to use your own apps instead.
                """);
        }
    }
}
