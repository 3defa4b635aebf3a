namespace Parley.LoadTest;

/// <summary>The <c>cluster</c> subcommand: parses its options, runs <see cref="ClusterRun"/>, prints the table and writes the JSON.</summary>
internal static class ClusterProgram
{
    public static async Task<int> RunAsync(string[] args)
    {
        ClusterOptions options;
        try
        {
            if (args.Contains("--help") || args.Contains("-h"))
            {
                Console.WriteLine(ClusterOptions.Usage);
                return 0;
            }

            options = ClusterOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(ClusterOptions.Usage);
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        var report = await ClusterRun.RunAsync(options, Console.Out, cancel.Token);
        Console.WriteLine(report.ToTable());
        if (options.OutFile is not null)
        {
            await File.WriteAllTextAsync(options.OutFile, report.ToJson(), cancel.Token);
            Console.WriteLine($"JSON report written to {options.OutFile}");
        }

        return report.Cold.Error is null && report.Joins.All(j => j.Error is null) && report.StatusErrors == 0 ? 0 : 1;
    }
}
