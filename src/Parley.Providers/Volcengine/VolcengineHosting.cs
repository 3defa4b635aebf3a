using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;

namespace Parley.Providers.Volcengine;

/// <summary>Registers the Volcengine (ByteDance) vendors: TTS ByteDanceV3, ByteDanceFlowing, ByteDance; ASR VolcSeedASR; one connection pool.</summary>
public static class VolcengineHosting
{
    /// <summary>
    /// Binds <see cref="VolcengineOptions"/> (<c>Parley:Vendors:Volcengine</c> for the shared limits,
    /// <c>Parley:Vendors:&lt;Vendor&gt;</c> for each vendor's Url and, for VolcSeedASR, default credentials), validated at
    /// start, and registers the pool (its connections checked by the host's <see cref="OutboundPolicy"/>) and the vendors.
    /// </summary>
    public static IServiceCollection AddVolcengine(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<VolcengineOptions>()
            .Configure(o =>
            {
                configuration.GetSection(VolcengineOptions.SharedSection).Bind(o);
                configuration.GetSection("Parley:Vendors:" + ByteDanceV3TtsProvider.VendorName).Bind(o.ByteDanceV3);
                configuration.GetSection("Parley:Vendors:" + ByteDanceFlowingTtsProvider.VendorName).Bind(o.ByteDanceFlowing);
                configuration.GetSection("Parley:Vendors:" + ByteDanceHttpTtsProvider.VendorName).Bind(o.ByteDance);
                configuration.GetSection("Parley:Vendors:" + VolcSeedAsrRecognizerProvider.VendorName).Bind(o.VolcSeedASR);
            })
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<VolcengineOptions>, OptionsValidator>());
        services.TryAddSingleton(sp => new VolcConnectionPool(
            sp.GetRequiredService<IOptions<VolcengineOptions>>().Value, sp.GetService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<OutboundPolicy>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextToSpeech, ByteDanceV3TtsProvider>(
            sp => new ByteDanceV3TtsProvider(sp.GetRequiredService<VolcConnectionPool>(), sp.GetRequiredService<ILoggerFactory>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextToSpeech, ByteDanceFlowingTtsProvider>(
            sp => new ByteDanceFlowingTtsProvider(sp.GetRequiredService<VolcConnectionPool>(), sp.GetRequiredService<ILoggerFactory>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextToSpeech, ByteDanceHttpTtsProvider>(
            sp => new ByteDanceHttpTtsProvider(sp.GetRequiredService<VolcConnectionPool>(), sp.GetRequiredService<ILoggerFactory>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISpeechRecognizer, VolcSeedAsrRecognizerProvider>(
            sp => new VolcSeedAsrRecognizerProvider(sp.GetRequiredService<VolcConnectionPool>(), sp.GetRequiredService<ILoggerFactory>())));
        return services;
    }

    /// <summary>Names the setting that is out of range (<see cref="VolcengineOptions.Error"/>).</summary>
    private sealed class OptionsValidator : IValidateOptions<VolcengineOptions>
    {
        public ValidateOptionsResult Validate(string? name, VolcengineOptions options) =>
            options.Error() is { } error ? ValidateOptionsResult.Fail(error) : ValidateOptionsResult.Success;
    }
}
