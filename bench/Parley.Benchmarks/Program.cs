using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Parley.Benchmarks -- --filter '*' --job short
// Median next to Mean: this machine is shared, so medians are the numbers to compare.
// dotnet run -c Release --project bench/Parley.Benchmarks -- vad-batch [rounds]: the batched VAD per window, interleaved.
if (args.Length > 0 && args[0] == "vad-batch")
{
    Parley.Benchmarks.VadBatchInterleaved.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 30);
    return;
}

var config = DefaultConfig.Instance.AddColumn(StatisticColumn.Median);
BenchmarkSwitcher.FromAssembly(typeof(Parley.Benchmarks.VadBenchmarks).Assembly).Run(args, config);
