using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Parley.Core.Sessions;
using Parley.Providers.Llm;

namespace Parley.Server.Instances;

/// <summary>Configuration of the instance host (sections <c>Parley:Orleans</c>, <c>Parley:Defaults</c>, <c>Parley:Llm</c>).</summary>
public sealed class InstanceHostOptions
{
    /// <summary>Silo-to-silo port (<c>Parley:Orleans:SiloPort</c>, default 11111; 0 = a free port).</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Client gateway port (<c>Parley:Orleans:GatewayPort</c>, default 30000; 0 = a free port).</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// <c>Parley:Orleans:Clustering</c>: <c>Localhost</c> (one machine, in-memory membership) or <c>PostgreSQL</c>
    /// (membership in the PostgreSQL store, for a cluster of nodes; needs <c>Parley:Store:Provider</c> PostgreSQL;
    /// <c>AdoNet</c>, its former name, still means the same). Empty (default): PostgreSQL with the PostgreSQL store,
    /// Localhost with SQLite.
    /// </summary>
    public string Clustering { get; set; } = "";

    public string ClusterId { get; set; } = "parley";

    public string ServiceId { get; set; } = "parley";

    /// <summary><c>Parley:Defaults:AddAnswerToHistory</c>: SendAgentInstanceLLM's default (contract 10.3; Parley: true).</summary>
    public bool AddAnswerToHistory { get; set; } = true;

    /// <summary><c>Parley:Llm:StallTimeoutSeconds</c>: a reply whose LLM sends nothing for this long fails with 2201.</summary>
    public TimeSpan LlmStallTimeout { get; set; } = TimeSpan.FromSeconds(15);
}

public static class InstanceHosting
{
    /// <summary>Hosts agent instances: an in-process Orleans silo, the LLM client, the room seam, and the instance/control actions.</summary>
    public static IHostApplicationBuilder AddParleyInstances(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var options = new InstanceHostOptions();
        configuration.GetSection("Parley:Orleans").Bind(options);
        options.AddAnswerToHistory = configuration.GetValue("Parley:Defaults:AddAnswerToHistory", options.AddAnswerToHistory);
        var stallSeconds = configuration.GetValue("Parley:Llm:StallTimeoutSeconds", options.LlmStallTimeout.TotalSeconds);
        if (stallSeconds <= 0)
        {
            throw new InvalidOperationException("Parley:Llm:StallTimeoutSeconds must be positive");
        }

        options.LlmStallTimeout = TimeSpan.FromSeconds(stallSeconds);
        var store = Storage.StoreOptions.Read(configuration);
        var cluster = ParleyClusterOptions.Read(configuration, options, store);
        builder.Services.AddSingleton(cluster);
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.TryAddSingleton(TimeProvider.System);
        var llmLimits = new LlmClientLimits();
        configuration.GetSection("Parley:Llm").Bind(llmLimits);
        try
        {
            llmLimits.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException(ex.Message, ex);
        }

        // LLM.Url "parley:demo" is the built-in demo LLM; anything else the OpenAI-compatible client, whose
        // connections go through the outbound policy.
        builder.Services.AddParleyOutboundPolicy(configuration);
        builder.Services.TryAddSingleton<OpenAICompatibleChatModel>(sp => new OpenAICompatibleChatModel(sp.GetRequiredService<Parley.Providers.Net.OutboundPolicy>(), llmLimits));
        builder.Services.TryAddSingleton(sp => new DemoChatModel(sp.GetRequiredService<TimeProvider>()));
        builder.Services.TryAddSingleton<OpenAIResponsesChatModel>(sp => new OpenAIResponsesChatModel(sp.GetRequiredService<Parley.Providers.Net.OutboundPolicy>(), llmLimits));
        // ZEGO's trial key (LLM.ApiKey "zego_test") is served by Parley:Llm:Trial (an operator's URL) or the demo LLM.
        var trialLlm = new ZegoTrialLlmOptions();
        configuration.GetSection("Parley:Llm:Trial").Bind(trialLlm);
        try
        {
            trialLlm.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException(ex.Message, ex);
        }

        builder.Services.TryAddSingleton<IChatModel>(sp => new ZegoTrialChatModel(
            new ChatModelRouter(sp.GetRequiredService<OpenAICompatibleChatModel>(), sp.GetRequiredService<DemoChatModel>(), sp.GetRequiredService<OpenAIResponsesChatModel>()),
            new OpenAICompatibleChatModel(sp.GetRequiredService<Parley.Providers.Net.OutboundPolicy>(), llmLimits, Parley.Providers.Net.UrlOrigin.Operator),
            sp.GetRequiredService<DemoChatModel>(),
            trialLlm));
        builder.Services.TryAddSingleton<Storage.SqliteDatabase>();
        builder.Services.TryAddSingleton<IInstanceJournal, SqliteInstanceJournal>();
        builder.Services.TryAddSingleton<InstanceLifecycle>();

        // Before the silo starts: Deleted for the instances a crashed process left live.
        builder.Services.AddHostedService<InstanceRecovery>();
        builder.Services.AddSingleton<Action<Api.ActionRegistry>>(InstanceActions.Map);
        builder.Services.AddSingleton<Action<Api.ActionRegistry>>(ControlActions.Map);
        builder.UseOrleans(silo => ConfigureSilo(silo, cluster));

        // After the silo's own hosted service, so the warm-up's grain calls find it started (and it stops first).
        builder.Services.AddHostedService<InstanceWarmup>();
        if (cluster.IsPostgresMembership)
        {
            // The drain runs in the stopping phase, before any service stops (the web server still listens): live calls
            // may finish (up to the drain timeout) while new ones go elsewhere; the room connections end after it.
            builder.Services.AddSingleton<Storage.Postgres.NodeDrain>();
            builder.Services.AddSingleton<Parley.Rtc.Rooms.IRoomServerShutdown>(sp => sp.GetRequiredService<Storage.Postgres.NodeDrain>());
            builder.Services.AddHostedService<Storage.Postgres.NodeDrainService>();
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = cluster.DrainTimeout + TimeSpan.FromSeconds(30));
        }
        return builder;
    }

    private static void ConfigureSilo(ISiloBuilder silo, ParleyClusterOptions cluster)
    {
        // Agent instances go to the least-loaded node (sessions and CPU, from the loads the nodes publish).
        silo.Services.AddSingleton(new Placement.LeastLoadedChoice(cluster.PlacementCpuCoresPerSession));
        silo.Services.AddPlacementDirector<Placement.LeastLoadedPlacement, Placement.LeastLoadedPlacementDirector>();
        if (!cluster.IsPostgresMembership)
        {
            // Localhost clustering: the silo only talks to itself, so a busy configured port (another Parley in the same
            // process or machine) falls back to a free one instead of failing the start.
            var siloPort = ResolvePort(cluster.SiloPort);
            var gatewayPort = ResolvePort(cluster.GatewayPort);
            silo.UseLocalhostClustering(siloPort, gatewayPort, null, cluster.ServiceId, cluster.ClusterId);
            silo.Configure<Orleans.Configuration.EndpointOptions>(e =>
            {
                e.AdvertisedIPAddress = IPAddress.Loopback;
                e.SiloPort = siloPort;
                e.GatewayPort = gatewayPort;
            });
            return;
        }

        // A cluster: membership in the shared PostgreSQL database, Parley's own table (schema version 3, created by the
        // store's migration). No other clustering is configured; nothing outside the process connects to the gateway,
        // so no gateway list provider either. Ports are exact: a node of a cluster must be reachable where it says.
        silo.Services.AddSingleton<IMembershipTable, Storage.Postgres.PostgresMembershipTable>();
        silo.Configure<Orleans.Configuration.ClusterOptions>(o =>
        {
            o.ClusterId = cluster.ClusterId;
            o.ServiceId = cluster.ServiceId;
        });
        var siloPortExact = cluster.SiloPort == 0 ? FreePort() : cluster.SiloPort;
        var gatewayPortExact = cluster.GatewayPort == 0 ? FreePort() : cluster.GatewayPort;
        silo.Configure<Orleans.Configuration.EndpointOptions>(e =>
        {
            e.AdvertisedIPAddress = cluster.AdvertisedAddress;
            e.SiloPort = siloPortExact;
            e.GatewayPort = gatewayPortExact;
            e.SiloListeningEndpoint = new IPEndPoint(cluster.ListenAddress, siloPortExact);
            e.GatewayListeningEndpoint = new IPEndPoint(cluster.ListenAddress, gatewayPortExact);
        });
        silo.Configure<Orleans.Configuration.ClusterMembershipOptions>(m =>
        {
            m.ProbeTimeout = cluster.ProbeTimeout;
            m.TableRefreshTimeout = cluster.ProbeTimeout * 2;
            m.IAmAliveTablePublishTimeout = cluster.ProbeTimeout * 4;
            m.NumMissedProbesLimit = 3;
            m.DeathVoteExpirationTimeout = cluster.ProbeTimeout * 12;
        });
    }

    private static int ResolvePort(int configured)
    {
        if (configured == 0)
        {
            return FreePort();
        }

        try
        {
            using var probe = new TcpListener(IPAddress.Any, configured);
            probe.Start();
            probe.Stop();
            return configured;
        }
        catch (SocketException)
        {
            return FreePort();
        }
    }

    private static int FreePort() => FreePorts.Pick();
}
