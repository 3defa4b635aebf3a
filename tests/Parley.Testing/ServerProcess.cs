using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Parley.Testing;

/// <summary>
/// The server as a separate OS process (the same binary <c>dotnet run</c> starts), for tests that need a real
/// process boundary: kill -9, console output, start-up from the command line.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _lock = new();

    private ServerProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri BaseAddress { get; }

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

    /// <summary>Starts the server on <paramref name="port"/> (0: a free one) and waits for <c>/healthz</c>.</summary>
    public static async Task<ServerProcess> StartAsync(string dataDirectory, IEnumerable<string>? extraArgs = null, CancellationToken cancellationToken = default, int port = 0)
    {
        port = port == 0 ? FreePort() : port;
        var serverDll = Path.Combine(AppContext.BaseDirectory, "Parley.Server.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var arg in new[] { serverDll, "--urls", $"http://127.0.0.1:{port}", "--Parley:DataDirectory", dataDirectory }.Concat(extraArgs ?? []))
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server process");
        var server = new ServerProcess(process, new Uri($"http://127.0.0.1:{port}/"));
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the server exited with {process.ExitCode}:\n{server.Output}");
            }

            try
            {
                if ((await http.GetAsync("healthz", cancellationToken)).IsSuccessStatusCode)
                {
                    return server;
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

        await server.DisposeAsync();
        throw new TimeoutException($"the server did not answer /healthz within 60 s:\n{server.Output}");
    }

    /// <summary>SIGTERM (what systemd, Docker and Ctrl-C-like stops send): the host shuts down gracefully; waits for the exit.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })
                ?? throw new InvalidOperationException("could not run kill -TERM");
            await kill.WaitForExitAsync();
            using var limit = new CancellationTokenSource(timeout);
            await _process.WaitForExitAsync(limit.Token);
        }

        // The asynchronous output readers finish after the exit: wait for them so Output is complete.
        await _process.WaitForExitAsync();
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: no shutdown hooks run.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
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

    /// <summary>A free port for a listener started a moment later, outside the ephemeral range (see <see cref="Parley.Server.Instances.FreePorts"/>).</summary>
    public static int FreePort() => Parley.Server.Instances.FreePorts.Pick(IPAddress.Loopback);
}
