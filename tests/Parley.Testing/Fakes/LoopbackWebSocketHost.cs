using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Parley.Testing.Fakes;

/// <summary>Kestrel on 127.0.0.1 (random port) running one request handler with WebSockets enabled: the host of the vendor fakes.</summary>
public sealed class LoopbackWebSocketHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LoopbackWebSocketHost(WebApplication app, string authority)
    {
        _app = app;
        Authority = authority;
    }

    /// <summary><c>127.0.0.1:port</c>.</summary>
    public string Authority { get; }

    public static async Task<LoopbackWebSocketHost> StartAsync(RequestDelegate handler, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        app.Run(handler);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new LoopbackWebSocketHost(app, address.TrimEnd('/')["http://".Length..]);
    }

    public async ValueTask DisposeAsync()
    {
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            try
            {
                await _app.StopAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await _app.DisposeAsync();
    }
}
