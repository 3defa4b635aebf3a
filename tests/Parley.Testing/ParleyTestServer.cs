using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Parley.Server;

namespace Parley.Testing;

/// <summary>An app configured on a test server.</summary>
public sealed record TestApp(uint AppId, string ServerSecret, string? CallbackUrl = null, string? CallbackSecret = null);

/// <summary>
/// The real Parley server (same composition as <c>dotnet run</c>) on Kestrel at 127.0.0.1 and a free port,
/// with its own data directory. Dispose stops it; <see cref="RestartAsync"/> starts a new process-equivalent over the same data.
/// </summary>
public sealed class ParleyTestServer : IAsyncDisposable
{
    private readonly IReadOnlyList<TestApp> _apps;
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly Action<WebApplicationBuilder>? _configure;
    private readonly bool _ownsDataDirectory;
    private WebApplication? _app;

    private ParleyTestServer(IReadOnlyList<TestApp> apps, IReadOnlyDictionary<string, string?> settings, Action<WebApplicationBuilder>? configure, string? dataDirectory)
    {
        _apps = apps;
        _settings = settings;
        _configure = configure;
        _ownsDataDirectory = dataDirectory is null;
        DataDirectory = dataDirectory ?? Path.Combine(Path.GetTempPath(), "parley-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(DataDirectory);
    }

    public string DataDirectory { get; }

    public Uri BaseAddress { get; private set; } = null!;

    public IServiceProvider Services => _app?.Services ?? throw new InvalidOperationException("the server is not running");

    public IReadOnlyList<TestApp> Apps => _apps;

    /// <summary>Starts a server. <paramref name="settings"/> are configuration keys such as <c>Parley:RateLimitPerSecond</c>.</summary>
    public static async Task<ParleyTestServer> StartAsync(
        IReadOnlyList<TestApp>? apps = null,
        IReadOnlyDictionary<string, string?>? settings = null,
        Action<WebApplicationBuilder>? configure = null,
        string? dataDirectory = null,
        CancellationToken cancellationToken = default)
    {
        var server = new ParleyTestServer(apps ?? [DefaultApp], settings ?? new Dictionary<string, string?>(), configure, dataDirectory);
        await server.StartCoreAsync(cancellationToken);
        return server;
    }

    public static TestApp DefaultApp { get; } = new(1234567890, "0123456789abcdef0123456789abcdef");

    public HttpClient CreateHttpClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await StopAsync();
        await StartCoreAsync(cancellationToken);
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_ownsDataDirectory)
        {
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsAddressInUse(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is Microsoft.AspNetCore.Connections.AddressInUseException
                || ex is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse })
            {
                return true;
            }
        }

        return false;
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        var args = new List<string>
        {
            "--urls", "http://127.0.0.1:0",
            "--environment", "Development",
            "--Parley:DataDirectory", DataDirectory,
            "--Parley:Quiet", "true",
            "--Parley:Orleans:SiloPort", "0",
            "--Parley:Orleans:GatewayPort", "0",
            "--Logging:LogLevel:Default", Environment.GetEnvironmentVariable("PARLEY_TEST_LOGLEVEL") ?? "Warning",
            "--Logging:LogLevel:Parley", Environment.GetEnvironmentVariable("PARLEY_TEST_LOGLEVEL") ?? "Warning",
        };

        // The fakes (LLM, callback receiver, DashScope) listen on loopback: allowed unless a test says otherwise.
        if (!_settings.ContainsKey("Parley:Outbound:AllowLoopback"))
        {
            args.AddRange(["--Parley:Outbound:AllowLoopback", "true"]);
        }
        for (var i = 0; i < _apps.Count; i++)
        {
            var app = _apps[i];
            args.AddRange([$"--Parley:Apps:{i}:AppId", app.AppId.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            args.AddRange([$"--Parley:Apps:{i}:ServerSecret", app.ServerSecret]);
            if (app.CallbackUrl is not null)
            {
                args.AddRange([$"--Parley:Apps:{i}:CallbackUrl", app.CallbackUrl]);
            }

            if (app.CallbackSecret is not null)
            {
                args.AddRange([$"--Parley:Apps:{i}:CallbackSecret", app.CallbackSecret]);
            }
        }

        foreach (var (key, value) in _settings)
        {
            args.AddRange([$"--{key}", value ?? ""]);
        }

        // Port 0 asks for free ports, but the silo's are picked before Orleans binds them, so another process can take
        // one in between (seen in CI: AddressInUseException from the silo's listener). A start that lost that race is
        // tried again with newly picked ports, at most twice more.
        for (var attempt = 1; ; attempt++)
        {
            _app = ParleyServer.Build([.. args], _configure);
            try
            {
                await _app.StartAsync(cancellationToken);
                break;
            }
            catch (Exception ex) when (attempt < 3 && IsAddressInUse(ex))
            {
                await _app.DisposeAsync();
                _app = null;
            }
        }

        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
    }
}

/// <summary>Replaces the server's clock (e.g. with a FakeTimeProvider) in <see cref="ParleyTestServer.StartAsync"/>'s configure hook.</summary>
public static class TestServerConfiguration
{
    public static Action<WebApplicationBuilder> WithTime(TimeProvider time) =>
        builder => builder.Services.Replace(ServiceDescriptor.Singleton(time));
}

/// <summary>Typed clients for a test server.</summary>
public static class ParleyTestServerClients
{
    public static Parley.Client.ParleyClient CreateClient(this ParleyTestServer server, TestApp? app = null, TimeProvider? time = null)
    {
        app ??= server.Apps[0];
        return new Parley.Client.ParleyClient(server.CreateHttpClient(), server.BaseAddress, app.AppId, app.ServerSecret, time);
    }
}
