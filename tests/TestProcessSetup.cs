using System.Runtime.CompilerServices;

namespace Parley.Tests;

/// <summary>
/// As the server does (Parley:MinThreads): streaming and real-time tests must not stall while the thread pool grows on a
/// busy 2-core machine. Linked into every test project by tests/Directory.Build.props (a module initializer runs per assembly).
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
