using Parley.Server.Callbacks;
using Parley.Server.Instances;
using Parley.Server.Rooms;

namespace Parley.Server;

/// <summary>Builds the whole server; <c>Program</c> runs it and tests host the same thing on a free port.</summary>
public static class ParleyServer
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddParleyControlPlane();
        builder.AddParleyCallbacks();
        builder.AddParleyRooms();
        builder.AddParleyInstances();
        configure?.Invoke(builder);
        var app = builder.Build();
        app.MapParley();
        return app;
    }
}
