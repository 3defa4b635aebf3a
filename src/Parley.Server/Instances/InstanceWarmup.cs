using Parley.Server.Apps;
using Parley.Server.Storage;

namespace Parley.Server.Instances;

/// <summary>
/// Pays the first-use costs of CreateAgentInstance once at start instead of in the first caller's request: the
/// instance's singletons (the Silero VAD factory loads ONNX Runtime, the room binding, the LLM client, the callback
/// outbox), the agent store's first query, each app's registry grain, and the first activation of the instance grain
/// type (placement, activator, and its call path). Measured cold CreateAgentInstance → agent in room before this:
/// ~300 ms; the profile put it in JIT, DI singleton construction, ONNX Runtime's environment and Orleans' first
/// placement. Runs in the background after the silo has started; failures are logged and change nothing.
/// </summary>
internal sealed partial class InstanceWarmup(IServiceProvider services, ILogger<InstanceWarmup> logger) : IHostedService
{
    /// <summary>An instance id no real instance has (real ids are 19 digits): its grain answers "not found" and deactivates.</summary>
    internal const string WarmupInstanceId = "warmup";

    private readonly CancellationTokenSource _stop = new();
    private Task _run = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _run = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    /// <summary>The warm-up itself (also called by tests).</summary>
    internal async Task RunAsync(CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        try
        {
            // Singletons the instance grain's constructor and its join resolve (SpeechRecognizers → Silero/ONNX Runtime).
            services.GetRequiredService<IAgentRoomBinding>();
            services.GetRequiredService<Parley.Server.Rooms.SpeechRecognizers>();
            services.GetRequiredService<Parley.Core.Sessions.IChatModel>();
            _ = services.GetServices<Parley.Server.Callbacks.ICallbackPublisher>().LastOrDefault();
            await Api.ControlApiEndpoint.WarmUp();

            var grains = services.GetRequiredService<IGrainFactory>();
            var store = services.GetRequiredService<IAgentStore>();
            foreach (var app in services.GetRequiredService<IAppDirectory>().Apps)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await store.GetAsync(app.AppId, WarmupInstanceId, cancellationToken);
                await grains.GetGrain<IAppInstanceRegistryGrain>(InstanceKeys.Registry(app.AppId)).CountAsync();
                await grains.GetGrain<IAgentInstanceGrain>(InstanceKeys.Instance(app.AppId, WarmupInstanceId)).GetStatusAsync();
            }

            LogWarmedUp(logger, (long)TimeProvider.System.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogWarmupFailed(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Instance path warmed up in {ElapsedMs} ms")]
    private static partial void LogWarmedUp(ILogger logger, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warming up the instance path failed; the first CreateAgentInstance will pay its first-use costs")]
    private static partial void LogWarmupFailed(ILogger logger, Exception exception);
}
