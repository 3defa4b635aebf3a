using System.Globalization;
using Parley.LoadTest;

if (args.Length > 0 && args[0] == "control")
{
    return await ControlProgram.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "cluster")
{
    return await ClusterProgram.RunAsync(args[1..]);
}

var capacity = args.Length > 0 && args[0] == "capacity";
var idleOnly = args.Length > 0 && args[0] == "idle";
var rest = capacity || idleOnly ? args[1..] : args;
LoadOptions options;
int[] steps = [10, 25, 50, 100, 150, 200];
var resolution = 10;
var target = 60.0;
var afterVadEnd = true;
try
{
    if (rest.Contains("--help") || rest.Contains("-h"))
    {
        Console.WriteLine(LoadOptions.Usage);
        return 0;
    }

    var remaining = new List<string>();
    var reader = new ArgumentReader(rest);
    while (reader.MoveNext())
    {
        switch (capacity ? reader.Name : "")
        {
            case "--steps":
                var text = reader.Value();
                steps = [.. text.Split(',').Select(x => int.TryParse(x, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"--steps must be a comma-separated list of positive integers, got '{text}'"))];
                break;
            case "--resolution":
                resolution = reader.Int(1, int.MaxValue);
                break;
            case "--target-p95-ms":
                target = double.TryParse(reader.Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var t) && t > 0 ? t : throw new ArgumentException("--target-p95-ms must be a positive number");
                break;
            case "--measure":
                afterVadEnd = reader.Value() switch
                {
                    "after-vad" => true,
                    "total" => false,
                    var other => throw new ArgumentException($"--measure must be 'after-vad' or 'total', got '{other}'"),
                };
                break;
            default:
                remaining.Add(reader.Name);
                break;
        }
    }

    options = LoadOptions.Parse(remaining);
    if (idleOnly)
    {
        options = options with { IdleOnly = true, WarmUp = false };
    }
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

if (capacity)
{
    var result = await CapacitySearch.RunAsync(options, steps, resolution, target, afterVadEnd, Console.Out, cancel.Token);
    Console.WriteLine(result.ToTable());
    if (options.OutFile is not null)
    {
        await File.WriteAllTextAsync(options.OutFile, result.ToJson(), cancel.Token);
        Console.WriteLine($"JSON report written to {options.OutFile}");
    }

    return 0;
}

var report = await LoadRun.RunAsync(options, Console.Out, cancel.Token);
Console.WriteLine(idleOnly ? report.ToIdleTable() : report.ToTable());
if (options.OutFile is not null)
{
    await File.WriteAllTextAsync(options.OutFile, report.ToJson(), cancel.Token);
    Console.WriteLine($"JSON report written to {options.OutFile}");
}

return report.FailedSessions == 0 ? 0 : 1;
