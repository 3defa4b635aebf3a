using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Parley.Providers.Net;

namespace Parley.Server;

/// <summary>Replaces name resolution for the outbound policy's connection checks (tests: a name that resolves to a chosen address).</summary>
public sealed class OutboundHostResolver(Func<string, CancellationToken, Task<IPAddress[]>> resolve)
{
    public Func<string, CancellationToken, Task<IPAddress[]>> Resolve { get; } = resolve;
}

/// <summary>
/// The server's <see cref="OutboundPolicy"/> (section <c>Parley:Outbound</c>, docs/security.md): one instance checks
/// agent URLs at validation time and every connection of the LLM client, the callback client and the DashScope pool.
/// Its own listening endpoints come from Kestrel (<see cref="IServerAddressesFeature"/>) at each check.
/// </summary>
public static class OutboundHosting
{
    public static IServiceCollection AddParleyOutboundPolicy(this IServiceCollection services, IConfiguration configuration)
    {
        var options = new OutboundPolicyOptions();
        configuration.GetSection(OutboundPolicyOptions.SectionName).Bind(options);

        // Development (no Parley:Apps: one developer on their machine): self-hosted LLMs on loopback or the LAN are
        // the usual case. Configured apps are tenants: their URLs may not reach into the operator's networks unless
        // the operator says so.
        var development = !configuration.GetSection("Parley:Apps").GetChildren().Any();
        var allowLoopback = options.AllowLoopback ?? development;
        var allowPrivate = options.AllowPrivateNetworks ?? development;
        foreach (var network in options.AllowedNetworks)
        {
            try
            {
                OutboundPolicy.ParseNetwork(network);
            }
            catch (FormatException ex)
            {
                throw new InvalidOperationException($"{OutboundPolicyOptions.SectionName}:AllowedNetworks: {ex.Message}", ex);
            }
        }

        services.TryAddSingleton(sp => new OutboundPolicy(
            allowLoopback,
            allowPrivate,
            options.AllowedNetworks,
            () => ListeningEndpoints(sp),
            sp.GetService<OutboundHostResolver>()?.Resolve));
        return services;
    }

    private static IEnumerable<ListeningEndpoint> ListeningEndpoints(IServiceProvider services)
    {
        var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
        return addresses is null ? [] : addresses.SelectMany(ListeningEndpoint.Parse).ToList();
    }
}
