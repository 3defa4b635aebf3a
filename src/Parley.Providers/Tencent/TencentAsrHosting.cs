using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;

namespace Parley.Providers.Tencent;

/// <summary>Registers the <c>Tencent</c> ASR vendor.</summary>
public static class TencentAsrHosting
{
    /// <summary>Binds <see cref="TencentAsrOptions"/> from <c>Parley:Vendors:Tencent</c> (validated at start) and registers the recogniser.</summary>
    public static IServiceCollection AddTencentAsr(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<TencentAsrOptions>()
            .Bind(configuration.GetSection(TencentAsrOptions.SectionName))
            .Validate(o => Check(o) is null, "Parley:Vendors:Tencent is invalid (Url ws:// or wss:// and allowed by the outbound policy, numeric AppId, positive timeouts)")
            .ValidateOnStart();
        services.TryAddSingleton(sp => new TencentRecognizerProvider(
            sp.GetRequiredService<IOptions<TencentAsrOptions>>().Value, sp.GetService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<OutboundPolicy>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISpeechRecognizer, TencentRecognizerProvider>(sp => sp.GetRequiredService<TencentRecognizerProvider>()));
        return services;
    }

    private static string? Check(TencentAsrOptions options)
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
