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
    /// <c>Parley:Orleans:Clustering</c>: <c>Localhost</c> (default; one machine, in-memory membership). <c>AdoNet</c>
    /// (PostgreSQL membership for several machines) is the planned alternative and is refused at start until it lands.
    /// </summary>
    public string Clustering { get; set; } = "Localhost";

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
        if (!string.Equals(options.Clustering, "Localhost", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException(
                $"Parley:Orleans:Clustering '{options.Clustering}' is not available in this build; use 'Localhost' (ADO.NET clustering for several machines is planned)");
        }

        // Localhost clustering: the silo only talks to itself, so a busy configured port (another Parley in the same
        // process or machine) falls back to a free one instead of failing the start.
        var siloPort = ResolvePort(options.SiloPort);
        var gatewayPort = ResolvePort(options.GatewayPort);
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
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort, null, options.ServiceId, options.ClusterId);
            silo.Configure<Orleans.Configuration.EndpointOptions>(e =>
            {
                e.AdvertisedIPAddress = IPAddress.Loopback;
                e.SiloPort = siloPort;
                e.GatewayPort = gatewayPort;
            });
        });

        // After the silo's own hosted service, so the warm-up's grain calls find it started (and it stops first).
        builder.Services.AddHostedService<InstanceWarmup>();
        return builder;
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

    /// <summary>A currently free TCP port on the loopback interface.</summary>
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
