using System.Diagnostics;
using Parley.Benchmarks.HotPaths;

namespace Parley.Benchmarks;

/// <summary>
/// The batched VAD's per-window cost on a shared, noisy machine: the operations (unbatched, batch 1/16/64/256, 16
/// sessions through the worker) take turns, round after round, each timing about 1024 windows per round, so a load
/// change hits all of them alike; the median per-window time over the rounds is printed with its ratio to unbatched.
/// </summary>
internal static class VadBatchInterleaved
{
    private static readonly (string Name, string Operation, int Windows)[] Cases =
    [
        ("unbatched (per-session call)", HotPathOperations.SileroVadScore, 1),
        ("batch 1", HotPathOperations.SileroVadBatch1, 1),
        ("batch 16", HotPathOperations.SileroVadBatch16, 16),
        ("batch 64", HotPathOperations.SileroVadBatch64, 64),
        ("batch 256", HotPathOperations.SileroVadBatch256, 256),
        ("worker, 16 sessions", HotPathOperations.SileroVadBatchWorker16, 16),
    ];

    public static void Run(int rounds)
    {
        const int windowsPerRound = 1024;
        var operations = Cases.Select(c => HotPathOperations.All[c.Operation]()).ToArray();
        var perWindow = Cases.Select(_ => new List<double>()).ToArray();
        try
        {
            for (var i = 0; i < operations.Length; i++)
            {
                for (var w = 0; w < 2 * windowsPerRound / Cases[i].Windows; w++)
                {
                    operations[i].Invoke(); // warm-up: JIT, buffers, bindings
                }
            }

            for (var round = 0; round < rounds; round++)
            {
                for (var i = 0; i < operations.Length; i++)
                {
                    var calls = windowsPerRound / Cases[i].Windows;
                    var clock = Stopwatch.StartNew();
                    for (var c = 0; c < calls; c++)
                    {
                        operations[i].Invoke();
                    }

                    perWindow[i].Add(clock.Elapsed.TotalNanoseconds / (calls * Cases[i].Windows));
                }
            }
        }
        catch
        {
            Dispose(operations);
            throw;
        }

        var baseline = Median(perWindow[0]);
        Console.WriteLine($"Silero VAD per window, {rounds} interleaved rounds of {windowsPerRound} windows each, {Environment.ProcessorCount} cores");
        Console.WriteLine("| case | median ns per window | p25–p75 | ratio to unbatched |");
        Console.WriteLine("|---|---:|---:|---:|");
        for (var i = 0; i < Cases.Length; i++)
        {
            var sorted = perWindow[i].Order().ToList();
            var batching = operations[i] is SileroBatchWorkerOperation worker ? $" ({worker.WindowsPerCall:0.0} windows per model call)" : "";
            Console.WriteLine($"| {Cases[i].Name}{batching} | {Median(sorted):0} | {sorted[sorted.Count / 4]:0}–{sorted[3 * sorted.Count / 4]:0} | {Median(sorted) / baseline:0.00} |");
        }

        Dispose(operations);
    }

    private static void Dispose(IHotPathOperation[] operations)
    {
        foreach (var operation in operations)
        {
            operation.Dispose();
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
