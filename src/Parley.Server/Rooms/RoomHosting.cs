using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Parley.Providers.AliyunNls;
using Parley.Providers.Azure;
using Parley.Providers.DashScope;
using Parley.Providers.Local;
using Parley.Providers.MiniMax;
using Parley.Providers.Tencent;
using Parley.Providers.Volcengine;
using Parley.Rtc;
using Parley.Rtc.Tokens;
using Parley.Server.Apps;
using Parley.Server.Instances;

namespace Parley.Server.Rooms;

/// <summary>The room server inside Parley: rooms, the WebSocket transport, the speech engines, and agents joining rooms.</summary>
public static class RoomHosting
{
    public static IHostApplicationBuilder AddParleyRooms(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AgentRoomOptions>()
            .Bind(builder.Configuration.GetSection(AgentRoomOptions.SectionName))
            .Validate(o => o.IdleTimeout > TimeSpan.Zero, "Parley:Rooms:IdleTimeout must be positive")
            .ValidateOnStart();
        services.AddOptions<EndOfTurnModelSettings>()
            .Bind(builder.Configuration.GetSection(EndOfTurnModelSettings.SectionName))
            .Validate(o => o.Threshold is >= 0f and <= 1f, "Parley:Turns:EndOfTurnModel:Threshold must be between 0 and 1")
            .Validate(o => o.Threads >= 1, "Parley:Turns:EndOfTurnModel:Threads must be at least 1")
            .ValidateOnStart();
        services.TryAddSingleton<EndOfTurnModels>();
        services.AddHostedService<EndOfTurnModelLoader>();
        services.AddOptions<EchoCancellationSettings>()
            .Bind(builder.Configuration.GetSection(EchoCancellationSettings.SectionName))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EchoCancellationSettings>, EchoCancellationValidator>());
        services.TryAddSingleton<EchoCancellers>();
        services.AddHostedService<EchoCancellationCheck>();
        services.TryAddSingleton<IRoomAppDirectory, RoomAppDirectory>();
        services.AddParleyRtc(builder.Configuration);
        services.AddParleyOutboundPolicy(builder.Configuration);
        services.AddLocalSpeechEngines(
            builder.Configuration.GetSection("Parley:Local:PocketSphinx").Get<PocketSphinxOptions>(),
            builder.Configuration.GetSection(SileroVadOptions.SectionName).Get<SileroVadOptions>());
        services.AddDashScope(builder.Configuration);
        services.AddMiniMax(builder.Configuration);
        services.AddAliyunNls(builder.Configuration);
        services.AddTencentAsr(builder.Configuration);
        services.AddAzureSpeech(builder.Configuration);
        services.AddVolcengine(builder.Configuration);
        services.TryAddSingleton<TtsProviders>();
        services.TryAddSingleton<SpeechRecognizers>();
        services.TryAddSingleton<Instances.AgentInstanceHostFactory>();
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
