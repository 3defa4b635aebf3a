using System.Runtime.CompilerServices;

namespace Parley.Media.Tests;

/// <summary>
/// As the server does (Parley:MinThreads): streaming and real-time tests must not stall while the thread pool grows on a
/// busy 2-core machine where test assemblies run in parallel.
/// </summary>
internal static class TestProcessSetup
{
    [ModuleInitializer]
    internal static void RaiseThreadPoolFloor()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
    }
}
