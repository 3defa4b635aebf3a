using System.Diagnostics;
using System.Text.Json;
using Parley.Testing;

namespace Parley.Server.Tests.Conformance;

/// <summary>
/// Runs one flow of ZEGO's official samples through an out-of-repo Node.js driver (see docs/compatibility.md,
/// "Conformance with ZEGO's samples"): the driver runs the samples' own code, unchanged but for the base-URL constant,
/// and prints the JSON the route handler returned. The samples carry no license, so neither their code nor a recipe
/// that builds it is in this repository; the tests run when <c>PARLEY_ZEGO_SAMPLE_DRIVER</c> names the driver.
/// </summary>
internal sealed class ZegoSampleDriver(string driverPath, Uri parleyBase, TestApp app, string llmUrl)
{
    /// <summary>The environment variable naming the driver script.</summary>
    public const string Variable = "PARLEY_ZEGO_SAMPLE_DRIVER";

    /// <summary>The driver script, or null when none is configured.</summary>
    public static string? Configured =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } path && File.Exists(path) ? path : null;

    /// <summary>Runs <paramref name="flow"/> with <paramref name="args"/> as its JSON input (and <paramref name="environment"/> over the common variables) and returns its JSON output.</summary>
    public async Task<JsonElement> RunAsync(string flow, object args, IReadOnlyDictionary<string, string>? environment = null, CancellationToken cancellationToken = default)
    {
        var argsFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(argsFile, JsonSerializer.Serialize(args), cancellationToken);
        try
        {
            var start = new ProcessStartInfo("/usr/bin/node")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(driverPath);
            start.ArgumentList.Add(flow);
            start.ArgumentList.Add(argsFile);
            start.Environment["PARLEY_BASE_URL"] = parleyBase.ToString().TrimEnd('/');
            start.Environment["NEXT_PUBLIC_ZEGO_APP_ID"] = app.AppId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["ZEGO_SERVER_SECRET"] = app.ServerSecret;
            start.Environment["LLM_BASE_URL"] = llmUrl;
            start.Environment["LLM_API_KEY"] = "sk-conformance";
            start.Environment["LLM_MODEL"] = "fake";
            foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            {
                start.Environment[name] = value;
            }

            using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(90));
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }

            var output = await stdout;
            Assert.True(process.ExitCode == 0, $"driver {flow} exited {process.ExitCode}: {await stderr}");
            var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
            return JsonDocument.Parse(last).RootElement.Clone();
        }
        finally
        {
            File.Delete(argsFile);
        }
    }
}

/// <summary>A fact that runs only where the sample driver is configured (<see cref="ZegoSampleDriver.Variable"/>).</summary>
public sealed class ZegoSampleFactAttribute : FactAttribute
{
    /// <summary>Skips the test unless the driver is configured.</summary>
    public ZegoSampleFactAttribute()
    {
        if (ZegoSampleDriver.Configured is null)
        {
            Skip = $"{ZegoSampleDriver.Variable} does not name ZEGO's sample driver (docs/compatibility.md, Conformance with ZEGO's samples)";
        }
    }
}
