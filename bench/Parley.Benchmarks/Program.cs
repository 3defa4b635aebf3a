using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Parley.Benchmarks -- --filter '*' --job short
// Median next to Mean: this machine is shared, so medians are the numbers to compare.
var config = DefaultConfig.Instance.AddColumn(StatisticColumn.Median);
BenchmarkSwitcher.FromAssembly(typeof(Parley.Benchmarks.VadBenchmarks).Assembly).Run(args, config);
