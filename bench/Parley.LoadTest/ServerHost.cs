using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Parley.LoadTest;

/// <summary>
/// The Parley server as its own OS process (<c>dotnet Parley.Server.dll</c>), so its CPU time and memory can be read
/// from /proc without the load generator's own work in them.
/// </summary>
internal sealed class ServerHost : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _lock = new();
    private readonly string _dataDirectory;

    private ServerHost(Process process, Uri baseAddress, string dataDirectory)
    {
        _process = process;
        BaseAddress = baseAddress;
        _dataDirectory = dataDirectory;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri BaseAddress { get; }

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_lock)
            {
                return _output.ToString();
            }
        }
    }

    /// <param name="extraArgs">More configuration arguments, after the defaults (a later key wins, e.g. <c>--Parley:RateLimitPerSecond 0</c>).</param>
    /// <param name="port">The HTTP port (0 = a free one).</param>
    public static async Task<ServerHost> StartAsync(LoadOptions options, CancellationToken cancellationToken, IReadOnlyList<string>? extraArgs = null, int port = 0)
    {
        var dll = options.ServerDll ?? Path.Combine(AppContext.BaseDirectory, "Parley.Server.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"Parley.Server.dll not found at {dll}", dll);
        }

        port = port == 0 ? Parley.Testing.ServerProcess.FreePort() : port;
        var data = Path.Combine(Path.GetTempPath(), "parley-load", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(data);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        string[] args =
        [
            dll,
            "--urls", $"http://127.0.0.1:{port}",
            "--Parley:DataDirectory", data,
            "--Parley:Quiet", "true",
            "--Parley:RateLimitPerSecond", "10000",
            "--Parley:MaxInstancesPerApp", "100000",
            "--Parley:Orleans:SiloPort", "0",
            "--Parley:Orleans:GatewayPort", "0",
            "--Parley:Apps:0:AppId", options.AppId.ToString(CultureInfo.InvariantCulture),
            "--Parley:Apps:0:ServerSecret", options.ServerSecret,
            "--Logging:LogLevel:Default", options.ServerLogLevel ?? "Warning",
            "--Logging:LogLevel:Parley", options.ServerLogLevel ?? "Warning",
            // The fake vendors listen on loopback.
            "--Parley:Outbound:AllowLoopback", "true",
        ];
        foreach (var (name, value) in options.ServerEnvironment)
        {
            start.Environment[name] = value;
        }

        foreach (var arg in args.Concat(extraArgs ?? []))
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server process");
        var host = new ServerHost(process, new Uri($"http://127.0.0.1:{port}/"), data);
        lock (Started)
        {
            Started.Add(host);
        }

        try
        {
            using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"the server exited with {process.ExitCode}:\n{host.Output}");
                }

                try
                {
                    if ((await http.GetAsync("healthz", cancellationToken)).IsSuccessStatusCode)
                    {
                        return host;
                    }
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }

                await Task.Delay(200, cancellationToken);
            }

            throw new TimeoutException($"the server did not answer /healthz within 60 s:\n{host.Output}");
        }
        catch
        {
            // Never leave a server process behind (cancelled, failed or timed out start).
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>Servers started and not yet disposed: killed when this process exits, however the run ended.</summary>
    private static readonly List<ServerHost> Started = CreateRegistry();

    private static List<ServerHost> CreateRegistry()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (Started)
            {
                foreach (var host in Started)
                {
                    try
                    {
                        if (!host._process.HasExited)
                        {
                            host._process.Kill(entireProcessTree: true);
                        }
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
                    {
                    }
                }
            }
        };
        return [];
    }

    public async ValueTask DisposeAsync()
    {
        lock (Started)
        {
            if (!Started.Remove(this))
            {
                return;
            }
        }

        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            _output.AppendLine(line);
        }
    }
}
