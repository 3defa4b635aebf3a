using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;

namespace Parley.Testing.Postgres;

/// <summary>
/// A private PostgreSQL server for the tests: its own temporary data directory (<c>initdb</c>), started with
/// <c>pg_ctl</c> on a free loopback port with its unix socket in that directory, trust authentication for the user
/// <c>parley</c>. PostgreSQL refuses to run as root, so as root (CI) the binaries run as the <c>postgres</c> user
/// through <c>runuser</c>. One server per test process (<see cref="Shared"/>), stopped and removed when the process
/// exits; each test class takes its own database (<see cref="PostgresDatabaseFixture"/>).
/// </summary>
public sealed class PostgresTestCluster : IDisposable
{
    private static readonly Lazy<Task<PostgresTestCluster>> SharedCluster = new(StartAsync);
    private readonly string _binDirectory;
    private readonly string? _runAs;
    private int _stopped;

    private PostgresTestCluster(string binDirectory, string? runAs, string directory, int port)
    {
        _binDirectory = binDirectory;
        _runAs = runAs;
        DataRoot = directory;
        Port = port;
    }

    /// <summary>The directory holding the PostgreSQL binaries (Debian: /usr/lib/postgresql/N/bin), or null when absent.</summary>
    public static string? BinDirectory { get; } = FindBinDirectory();

    /// <summary>Why the PostgreSQL tests are skipped, or null when the binaries are there.</summary>
    public static string? SkipReason => BinDirectory is null
        ? "PostgreSQL binaries (initdb, pg_ctl) are not installed: run scripts/install-deps.sh"
        : null;

    /// <summary>The process-wide server, started on first use.</summary>
    public static Task<PostgresTestCluster> Shared => SharedCluster.Value;

    public string DataRoot { get; }

    public int Port { get; }

    /// <summary>A connection string to <paramref name="database"/> over TCP on loopback.</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "parley",
        Database = database,
        Pooling = true,
        Timeout = 15,
    }.ToString();

    /// <summary>Creates an empty database with a fresh name; returns its name.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix, CancellationToken cancellationToken = default)
    {
        var name = (prefix + "_" + Guid.NewGuid().ToString("N")[..12]).ToLowerInvariant();
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"CREATE DATABASE \"{name}\"";
        await command.ExecuteNonQueryAsync(cancellationToken);
        return name;
    }

    public async Task DropDatabaseAsync(string name, CancellationToken cancellationToken = default)
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        try
        {
            Run(_binDirectory, _runAs, "pg_ctl", ["stop", "-D", Path.Combine(DataRoot, "data"), "-m", "immediate", "-w"], TimeSpan.FromSeconds(30), throwOnFailure: false);
        }
        finally
        {
            try
            {
                Directory.Delete(DataRoot, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static async Task<PostgresTestCluster> StartAsync()
    {
        var bin = BinDirectory ?? throw new InvalidOperationException(SkipReason);
        var runAs = Environment.UserName == "root" || geteuid() == 0 ? "postgres" : null;
        RemoveStoppedLeftovers();
        var directory = Path.Combine(Path.GetTempPath(), "parley-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var data = Path.Combine(directory, "data");
        if (runAs is not null)
        {
            Run(null, null, "chown", [runAs, directory], TimeSpan.FromSeconds(10));
        }

        Run(bin, runAs, "initdb", ["-D", data, "-U", "parley", "--auth=trust", "-E", "UTF8", "--no-sync"], TimeSpan.FromSeconds(120));
        var port = ServerProcess.FreePort();
        var options = string.Create(CultureInfo.InvariantCulture,
            $"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={directory} -c fsync=off -c max_connections=300 -c shared_buffers=32MB");
        Run(bin, runAs, "pg_ctl", ["start", "-D", data, "-w", "-t", "60", "-l", Path.Combine(directory, "log"), "-o", options], TimeSpan.FromSeconds(90));
        var cluster = new PostgresTestCluster(bin, runAs, directory, port);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.Dispose();
        await using (var connection = new NpgsqlConnection(cluster.ConnectionString("postgres")))
        {
            await connection.OpenAsync();
        }

        return cluster;
    }

    /// <summary>Data directories of earlier test runs whose server is stopped (no postmaster.pid) but whose exit left them.</summary>
    private static void RemoveStoppedLeftovers()
    {
        foreach (var directory in Directory.GetDirectories(Path.GetTempPath(), "parley-pg-*"))
        {
            if (File.Exists(Path.Combine(directory, "data", "postmaster.pid")))
            {
                continue;
            }

            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static void Run(string? bin, string? runAs, string tool, IEnumerable<string> args, TimeSpan timeout, bool throwOnFailure = true)
    {
        var path = bin is null ? tool : Path.Combine(bin, tool);
        var start = runAs is null ? new ProcessStartInfo(path) : new ProcessStartInfo("runuser");
        if (runAs is not null)
        {
            foreach (var a in new[] { "-u", runAs, "--", path })
            {
                start.ArgumentList.Add(a);
            }
        }

        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.WorkingDirectory = Path.GetTempPath();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} did not finish within {timeout}");
        }

        process.WaitForExit();
        if (process.ExitCode != 0 && throwOnFailure)
        {
            lock (output)
            {
                throw new InvalidOperationException($"{tool} exited with {process.ExitCode}:\n{output}");
            }
        }
    }

    private static string? FindBinDirectory()
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root))
        {
            return null;
        }

        return Directory.GetDirectories(root)
            .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
            .Where(d => File.Exists(Path.Combine(d.Dir, "initdb")) && File.Exists(Path.Combine(d.Dir, "pg_ctl")))
            .OrderByDescending(d => d.Version)
            .Select(d => d.Dir)
            .FirstOrDefault();
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = false)]
    private static extern uint geteuid();
}

/// <summary>
/// A class fixture: a fresh database in the shared <see cref="PostgresTestCluster"/>, dropped after the class.
/// </summary>
public sealed class PostgresDatabaseFixture : IAsyncDisposable, Xunit.IAsyncLifetime
{
    private PostgresTestCluster? _cluster;
    private string? _name;

    public string ConnectionString { get; private set; } = "";

    public PostgresTestCluster Cluster => _cluster ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        if (PostgresTestCluster.SkipReason is not null)
        {
            return;
        }

        _cluster = await PostgresTestCluster.Shared;
        _name = await _cluster.CreateDatabaseAsync("parley");
        ConnectionString = _cluster.ConnectionString(_name);
    }

    /// <summary>Another empty database in the same server (a test that needs a clean store of its own).</summary>
    public async Task<string> CreateAnotherAsync(string prefix = "parley") =>
        Cluster.ConnectionString(await Cluster.CreateDatabaseAsync(prefix));

    public async Task DisposeAsync()
    {
        if (_cluster is not null && _name is not null)
        {
            await _cluster.DropDatabaseAsync(_name);
        }
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
}

/// <summary>A fact that needs PostgreSQL: skipped, with the reason, only when its binaries are not installed.</summary>
public sealed class PostgresFactAttribute : Xunit.FactAttribute
{
    public PostgresFactAttribute()
    {
        Skip = PostgresTestCluster.SkipReason;
    }
}

/// <summary>A theory that needs PostgreSQL for some rows; see <see cref="PostgresFactAttribute"/>.</summary>
public sealed class PostgresTheoryAttribute : Xunit.TheoryAttribute
{
    public PostgresTheoryAttribute()
    {
        Skip = PostgresTestCluster.SkipReason;
    }
}
