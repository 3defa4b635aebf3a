using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;

namespace Parley.Providers.MiniMax;

/// <summary>Registers the <c>MiniMax</c> TTS vendor (T2A v2 WebSocket) and its session pool.</summary>
public static class MiniMaxHosting
{
    /// <summary>
    /// Binds <see cref="MiniMaxOptions"/> from <c>Parley:Vendors:MiniMax</c> (validated at start) and registers the pool
    /// and the vendor; connections are checked by the <see cref="OutboundPolicy"/> the host registers.
    /// </summary>
    public static IServiceCollection AddMiniMax(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<MiniMaxOptions>()
            .Bind(configuration.GetSection(MiniMaxOptions.SectionName))
            .Validate(o => Error(o) is null, "Parley:Vendors:MiniMax is invalid (Url must be an absolute ws:// or wss:// URL the outbound policy allows; MaxMessageBytes at least 65536; MaxIdleSessionsPerKey not negative; timeouts positive)")
            .ValidateOnStart();
        services.TryAddSingleton(sp => new MiniMaxSessionPool(
            sp.GetRequiredService<IOptions<MiniMaxOptions>>().Value, sp.GetService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<OutboundPolicy>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextToSpeech, MiniMaxTtsProvider>(
            sp => new MiniMaxTtsProvider(sp.GetRequiredService<MiniMaxSessionPool>())));
        return services;
    }

    private static string? Error(MiniMaxOptions options)
    {
        try
        {
            options.Validate();
            return null;
        }
        catch (ArgumentException ex)
        {
            return ex.Message;
        }
    }
}
