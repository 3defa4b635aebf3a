using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Speech;
using Parley.Providers.DashScope;
using Parley.Providers.Local;
using Parley.Providers.Net;
using Parley.Rtc;
using Parley.Rtc.Tokens;
using Parley.Server.Apps;
using Parley.Server.Instances;

namespace Parley.Server.Rooms;

/// <summary>The room server inside Parley: rooms, the WebSocket transport, local TTS, and agents joining rooms.</summary>
public static class RoomHosting
{
    public static IHostApplicationBuilder AddParleyRooms(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AgentRoomOptions>()
            .Bind(builder.Configuration.GetSection(AgentRoomOptions.SectionName))
            .Validate(o => o.IdleTimeout > TimeSpan.Zero, "Parley:Rooms:IdleTimeout must be positive")
            .ValidateOnStart();
        services.TryAddSingleton<IRoomAppDirectory, RoomAppDirectory>();
        services.AddParleyRtc(builder.Configuration);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextToSpeechProvider, LocalTtsProvider>());

        // Alibaba DashScope vendors (CosyVoice TTS, AliyunParaformer ASR) share one connection pool; the endpoint is
        // configurable so a deployment can use a regional endpoint, a proxy, or a fake.
        services.AddOptions<DashScopeOptions>()
            .Bind(builder.Configuration.GetSection(DashScopeOptions.SectionName))
            .Validate(o => Uri.TryCreate(o.Url, UriKind.Absolute, out var u) && (u.Scheme == "ws" || u.Scheme == "wss"), "Parley:Vendors:DashScope:Url must be an absolute ws:// or wss:// URL")
            .Validate(o => OutboundPolicy.CheckConfiguredUrl(o.Url, OutboundProtocol.WebSocket) is null, "Parley:Vendors:DashScope:Url is refused by the outbound URL policy (a link-local, metadata or unusable address)")
            .Validate(o => o.MaxMessageBytes >= 1024, "Parley:Vendors:DashScope:MaxMessageBytes must be at least 1024")
            .Validate(o => o.MaxIdleConnectionsPerKey >= 0 && o.IdleTimeout > TimeSpan.Zero && o.ConnectTimeout > TimeSpan.Zero && o.ResponseTimeout > TimeSpan.Zero, "Parley:Vendors:DashScope timeouts must be positive")
            .ValidateOnStart();
        services.AddParleyOutboundPolicy(builder.Configuration);
        services.TryAddSingleton(sp => new DashScopeConnectionPool(
            sp.GetRequiredService<IOptions<DashScopeOptions>>().Value, sp.GetService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<OutboundPolicy>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextToSpeechProvider, CosyVoiceTtsProvider>(
            sp => new CosyVoiceTtsProvider(sp.GetRequiredService<DashScopeConnectionPool>(), sp.GetRequiredService<ILoggerFactory>())));
        services.TryAddSingleton<TtsProviders>();
        services.TryAddSingleton<IVoiceActivityDetectorFactory>(_ => new SileroVadFactory());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISpeechRecognizer, PocketSphinxRecognizerProvider>(
            sp => new PocketSphinxRecognizerProvider(null, sp.GetRequiredService<ILoggerFactory>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISpeechRecognizer, ParaformerRecognizerProvider>(
            sp => new ParaformerRecognizerProvider(sp.GetRequiredService<DashScopeConnectionPool>(), sp.GetRequiredService<ILoggerFactory>())));
        services.TryAddSingleton<SpeechRecognizers>();
        services.Replace(ServiceDescriptor.Singleton<IAgentRoomBinding, RoomAgentBinding>());
        return builder;
    }

    /// <summary>Room tokens (Token04) are verified with the app's ServerSecret.</summary>
    private sealed class RoomAppDirectory(IAppDirectory apps) : IRoomAppDirectory
    {
        public bool TryGetServerSecret(uint appId, out string secret)
        {
            var found = apps.TryGet(appId, out var app);
            secret = found ? app.ServerSecret : "";
            return found;
        }

        public IEnumerable<uint> AppIds => apps.Apps.Select(a => a.AppId);
    }
}
