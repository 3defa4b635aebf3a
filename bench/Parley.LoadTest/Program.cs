using Parley.LoadTest;

if (args.Length > 0 && args[0] == "control")
{
    return await ControlProgram.RunAsync(args[1..]);
}

LoadOptions options;
try
{
    if (args.Contains("--help") || args.Contains("-h"))
    {
        Console.WriteLine(LoadOptions.Usage);
        return 0;
    }

    options = LoadOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine(LoadOptions.Usage);
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var report = await LoadRun.RunAsync(options, Console.Out, cancel.Token);
Console.WriteLine(report.ToTable());
if (options.OutFile is not null)
{
    await File.WriteAllTextAsync(options.OutFile, report.ToJson(), cancel.Token);
    Console.WriteLine($"JSON report written to {options.OutFile}");
}

return report.FailedSessions == 0 ? 0 : 1;
