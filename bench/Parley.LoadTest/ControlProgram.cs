namespace Parley.LoadTest;

/// <summary>The <c>control</c> subcommand: parses its options, runs <see cref="ControlRun"/>, prints the table and writes the JSON.</summary>
internal static class ControlProgram
{
    public static async Task<int> RunAsync(string[] args)
    {
        ControlOptions options;
        try
        {
            if (args.Contains("--help") || args.Contains("-h"))
            {
                Console.WriteLine(ControlOptions.Usage);
                return 0;
            }

            options = ControlOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(ControlOptions.Usage);
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        var report = await ControlRun.RunAsync(options, Console.Out, cancel.Token);
        Console.WriteLine(report.ToTable());
        if (options.OutFile is not null)
        {
            await File.WriteAllTextAsync(options.OutFile, report.ToJson(), cancel.Token);
            Console.WriteLine($"JSON report written to {options.OutFile}");
        }

        var statusFailed = report.Status is { } s && (s.Errors > 0 || s.Succeeded == 0);
        return report.FailedCreations == 0 && !statusFailed ? 0 : 1;
    }
}
