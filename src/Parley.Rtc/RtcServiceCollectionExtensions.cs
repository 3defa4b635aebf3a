using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Parley.Media;
using Parley.Rtc.Rooms;
using Parley.Rtc.Tokens;
using Parley.Rtc.WebSockets;

namespace Parley.Rtc;

/// <summary>Hosting the room server: <c>services.AddParleyRtc(configuration)</c> and <c>app.MapParleyRtc()</c>.</summary>
public static class RtcServiceCollectionExtensions
{
    /// <summary>The default WebSocket path.</summary>
    public const string DefaultPath = "/rtc/ws";

    /// <summary>
    /// Registers the room server: <see cref="IRoomManager"/> (singleton), <see cref="Token04Verifier"/>, the codec registry
    /// with "pcm16", options from <c>Parley:Rtc</c>, <see cref="TimeProvider.System"/> unless one is registered, and an
    /// <see cref="IRoomAppDirectory"/> over <see cref="ParleyRtcOptions.Apps"/> unless the host registers its own.
    /// </summary>
    public static IServiceCollection AddParleyRtc(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ParleyRtcOptions>().Bind(configuration.GetSection(ParleyRtcOptions.SectionName))
            .Validate(o => o.MaxRoomsPerUser > 0, "Parley:Rtc:MaxRoomsPerUser must be positive")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IRoomAppDirectory>(sp => StaticRoomAppDirectory.FromOptions(sp.GetRequiredService<IOptions<ParleyRtcOptions>>().Value));
        services.TryAddSingleton<RoomManager>();
        services.TryAddSingleton<IRoomManager>(sp => sp.GetRequiredService<RoomManager>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAudioCodecFactory, Pcm16CodecFactory>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAudioCodecFactory, OpusCodecFactory>());
        services.TryAddSingleton<AudioCodecRegistry>();
        services.TryAddSingleton<Token04Verifier>();
        return services;
    }

    /// <summary>Maps the room WebSocket endpoint (default <c>/rtc/ws</c>); WebSocket support is added for that path only.</summary>
    public static IEndpointConventionBuilder MapParleyRtc(this IEndpointRouteBuilder endpoints, string pattern = DefaultPath)
    {
        var pipeline = endpoints.CreateApplicationBuilder()
            .UseWebSockets()
            .Use(_ => HandleAsync)
            .Build();
        return endpoints.Map(pattern, pipeline).WithDisplayName("Parley RTC WebSocket");
    }

    private static async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("this endpoint accepts WebSocket connections only", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var services = context.RequestServices;
        var lifetime = services.GetService<IHostApplicationLifetime>();
        using var socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
        var connection = new RtcConnection(
            socket,
            services.GetRequiredService<RoomManager>(),
            services.GetRequiredService<Token04Verifier>(),
            services.GetRequiredService<AudioCodecRegistry>(),
            services.GetRequiredService<IOptions<ParleyRtcOptions>>().Value,
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILoggerFactory>(),
            services.GetService<IRoomLocator>());
        var shutdown = services.GetService<IRoomServerShutdown>()?.Stopping ?? lifetime?.ApplicationStopping ?? CancellationToken.None;
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, shutdown);
        await connection.RunAsync(stopping.Token).ConfigureAwait(false);
    }
}
