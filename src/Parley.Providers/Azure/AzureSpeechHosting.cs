using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;

namespace Parley.Providers.Azure;

/// <summary>Registers the <c>Microsoft</c> ASR vendor (Azure Speech to Text).</summary>
public static class AzureSpeechHosting
{
    /// <summary>Binds <see cref="AzureSpeechOptions"/> from <c>Parley:Vendors:Microsoft</c> (validated at start) and registers the recogniser.</summary>
    public static IServiceCollection AddAzureSpeech(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<AzureSpeechOptions>()
            .Bind(configuration.GetSection(AzureSpeechOptions.SectionName))
            .Validate(o => Check(o) is null, "Parley:Vendors:Microsoft is invalid (Url ws:// or wss:// and allowed by the outbound policy, Region a region name, positive timeouts)")
            .ValidateOnStart();
        services.TryAddSingleton(sp => new AzureSpeechRecognizerProvider(
            sp.GetRequiredService<IOptions<AzureSpeechOptions>>().Value, sp.GetService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<OutboundPolicy>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISpeechRecognizer, AzureSpeechRecognizerProvider>(sp => sp.GetRequiredService<AzureSpeechRecognizerProvider>()));
        return services;
    }

    private static string? Check(AzureSpeechOptions options)
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
