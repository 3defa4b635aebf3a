using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Parley.Server.Apps;
using Parley.Server.Callbacks;

namespace Parley.Server.Tests.Callbacks;

internal sealed class FakeAppDirectory : IAppDirectory
{
    private readonly Dictionary<uint, AppOptions> _apps = [];

    public IReadOnlyList<AppOptions> Apps => [.. _apps.Values];

    public FakeAppDirectory Add(uint appId, Uri? callbackUrl, string? secret)
    {
        _apps[appId] = new AppOptions { AppId = appId, ServerSecret = "server-secret", CallbackUrl = callbackUrl?.ToString(), CallbackSecret = secret };
        return this;
    }

    public bool TryGet(uint appId, out AppOptions app) => _apps.TryGetValue(appId, out app!);
}

/// <summary>A temporary data directory holding the shared SQLite file.</summary>
internal sealed class TempDataDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "parley-callbacks-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A generic host running only AddParleyCallbacks, over a given data directory and fake clock.</summary>
internal sealed class CallbackTestHost : IAsyncDisposable
{
    private CallbackTestHost(IHost host)
    {
        Host = host;
        Outbox = host.Services.GetRequiredService<SqliteCallbackOutbox>();
        Publisher = host.Services.GetRequiredService<ICallbackPublisher>();
        Dispatcher = host.Services.GetRequiredService<CallbackDispatcher>();
    }

    public IHost Host { get; }

    public SqliteCallbackOutbox Outbox { get; }

    public ICallbackPublisher Publisher { get; }

    public CallbackDispatcher Dispatcher { get; }

    public static async Task<CallbackTestHost> StartAsync(
        string dataDirectory,
        TimeProvider time,
        IAppDirectory apps,
        IDictionary<string, string?>? configuration = null,
        bool start = true,
        ILoggerProvider? logs = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration);
        }

        builder.Services.Configure<ParleyOptions>(o => o.DataDirectory = dataDirectory);
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(apps);
        builder.AddParleyCallbacks();
        var host = builder.Build();
        if (start)
        {
            await host.StartAsync();
        }

        return new CallbackTestHost(host);
    }

    public static CallbackEvent Event(uint appId, string name = CallbackEvents.Interrupted, int round = 1) =>
        new(appId, name, "1912124734317838336", "agent_user_1", "room_1", new() { ["Round"] = round, ["Reason"] = 1 });

    /// <summary>Waits until the dispatcher has nothing in flight and nothing due.</summary>
    public async Task IdleAsync()
    {
        var idle = Dispatcher.WhenIdleAsync();
        if (await Task.WhenAny(idle, Task.Delay(TimeSpan.FromSeconds(10))) != idle)
        {
            throw new TimeoutException("The callback dispatcher did not become idle.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            await Host.StopAsync(stop.Token);
        }

        Host.Dispose();
    }
}

internal static class FakeTime
{
    /// <summary>2025-04-24T13:45:13Z, the moment of ZEGO's callback example.</summary>
    public static readonly DateTimeOffset Start = DateTimeOffset.FromUnixTimeMilliseconds(1745502313000);

    public static FakeTimeProvider Create() => new(Start);
}
