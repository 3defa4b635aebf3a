using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;

namespace Parley.Providers.AliyunNls;

/// <summary>Registers the <c>Aliyun</c> TTS vendor (NLS speech synthesis with CreateToken tokens).</summary>
public static class AliyunNlsHosting
{
    /// <summary>Binds <see cref="AliyunNlsOptions"/> from <c>Parley:Vendors:Aliyun</c> (validated at start) and registers the vendor.</summary>
    public static IServiceCollection AddAliyunNls(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<AliyunNlsOptions>()
            .Bind(configuration.GetSection(AliyunNlsOptions.SectionName))
            .Validate(o => Error(o) is null, "Parley:Vendors:Aliyun is invalid (Url an absolute ws(s) URL, TokenUrl an absolute http(s) URL, both allowed by the outbound policy; RegionId set; timeouts positive)")
            .ValidateOnStart();
        services.TryAddSingleton(sp => new AliyunNlsTtsProvider(
            sp.GetRequiredService<IOptions<AliyunNlsOptions>>().Value, sp.GetService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<OutboundPolicy>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextToSpeech, AliyunNlsTtsProvider>(sp => sp.GetRequiredService<AliyunNlsTtsProvider>()));
        return services;
    }

    private static string? Error(AliyunNlsOptions options)
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
