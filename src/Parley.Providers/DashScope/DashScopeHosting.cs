using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;

namespace Parley.Providers.DashScope;

/// <summary>Registers the Alibaba DashScope vendors: CosyVoice TTS, AliyunParaformer and AliyunFunASR ASR (sharing one connection pool), and AliyunQwenASR (DashScope's realtime endpoint).</summary>
public static class DashScopeHosting
{
    /// <summary>
    /// Binds <see cref="DashScopeOptions"/> from <c>Parley:Vendors:DashScope</c> (the endpoint is configurable so a
    /// deployment can use a regional endpoint, a proxy, or a fake) and registers the pool and both vendors. The
    /// pool's connections are checked by the <see cref="OutboundPolicy"/> the host registers.
    /// </summary>
    public static IServiceCollection AddDashScope(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DashScopeOptions>()
            .Bind(configuration.GetSection(DashScopeOptions.SectionName))
            .Validate(o => Uri.TryCreate(o.Url, UriKind.Absolute, out var u) && (u.Scheme == "ws" || u.Scheme == "wss"), "Parley:Vendors:DashScope:Url must be an absolute ws:// or wss:// URL")
            .Validate(o => OutboundPolicy.CheckConfiguredUrl(o.Url, OutboundProtocol.WebSocket) is null, "Parley:Vendors:DashScope:Url is refused by the outbound URL policy (a link-local, metadata or unusable address)")
            .Validate(o => o.MaxMessageBytes >= 1024, "Parley:Vendors:DashScope:MaxMessageBytes must be at least 1024")
            .Validate(o => o.MaxIdleConnectionsPerKey >= 0 && o.IdleTimeout > TimeSpan.Zero && o.ConnectTimeout > TimeSpan.Zero && o.ResponseTimeout > TimeSpan.Zero, "Parley:Vendors:DashScope timeouts must be positive")
            .ValidateOnStart();
        services.TryAddSingleton(sp => new DashScopeConnectionPool(
            sp.GetRequiredService<IOptions<DashScopeOptions>>().Value, sp.GetService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<OutboundPolicy>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextToSpeech, CosyVoiceTtsProvider>(
            sp => new CosyVoiceTtsProvider(sp.GetRequiredService<DashScopeConnectionPool>(), sp.GetRequiredService<ILoggerFactory>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISpeechRecognizer, ParaformerRecognizerProvider>(
            sp => new ParaformerRecognizerProvider(sp.GetRequiredService<DashScopeConnectionPool>(), sp.GetRequiredService<ILoggerFactory>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISpeechRecognizer, FunAsrRecognizerProvider>(
            sp => new FunAsrRecognizerProvider(sp.GetRequiredService<DashScopeConnectionPool>(), sp.GetRequiredService<ILoggerFactory>())));
        services.AddOptions<QwenAsrOptions>()
            .Bind(configuration.GetSection(QwenAsrOptions.SectionName))
            .Validate(o => Uri.TryCreate(o.Url, UriKind.Absolute, out var u) && (u.Scheme == "ws" || u.Scheme == "wss") && OutboundPolicy.CheckConfiguredUrl(o.Url, OutboundProtocol.WebSocket) is null,
                "Parley:Vendors:AliyunQwenASR:Url must be an absolute ws:// or wss:// URL allowed by the outbound URL policy")
            .Validate(o => !string.IsNullOrWhiteSpace(o.Model) && o.MaxMessageBytes >= 1024 && o.ConnectTimeout > TimeSpan.Zero && o.ResponseTimeout > TimeSpan.Zero,
                "Parley:Vendors:AliyunQwenASR: Model must be set, MaxMessageBytes at least 1024, timeouts positive")
            .ValidateOnStart();
        services.TryAddSingleton(sp => new QwenAsrRecognizerProvider(
            sp.GetRequiredService<IOptions<QwenAsrOptions>>().Value, sp.GetRequiredService<IOptions<DashScopeOptions>>().Value.ApiKey,
            sp.GetService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<OutboundPolicy>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISpeechRecognizer, QwenAsrRecognizerProvider>(sp => sp.GetRequiredService<QwenAsrRecognizerProvider>()));
        return services;
    }
}
