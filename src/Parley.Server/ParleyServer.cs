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

        // Real-time pacing (20 ms frames) must not wait for the thread pool to grow when a burst of work arrives on a
        // small machine: start with enough threads (Parley:MinThreads, default 32).
        var minThreads = builder.Configuration.GetValue("Parley:MinThreads", 32);
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, minThreads), Math.Max(io, minThreads));
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
