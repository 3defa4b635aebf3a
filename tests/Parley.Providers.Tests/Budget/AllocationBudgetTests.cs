using System.Text.Json;
using Xunit.Abstractions;
using Parley.Benchmarks.HotPaths;

namespace Parley.Providers.Tests.Budget;

/// <summary>
/// Holds bench/allocation-budget.json: every hot-path operation (the same code the micro-benchmarks time, linked
/// from bench/Parley.Benchmarks/HotPaths) may allocate at most its budget in bytes per call, measured with
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> over <see cref="MeasuredCalls"/> calls after a warm-up.
/// </summary>
public sealed class AllocationBudgetTests(ITestOutputHelper output)
{
    private const int WarmUpCalls = 300;
    private const int MeasuredCalls = 1000;

    public static TheoryData<string> Operations()
    {
        var data = new TheoryData<string>();
        foreach (var name in HotPathOperations.All.Keys.Order(StringComparer.Ordinal))
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Operations))]
    public void HotPath_AllocatesWithinBudgetPerCall(string operation)
    {
        var budget = Budget.Load().BytesPerCall(operation);
        using var instance = HotPathOperations.All[operation]();

        var bytesPerCall = MeasureBytesPerCall(instance.Invoke, () => instance.OffThreadAllocatedBytes);
        output.WriteLine($"{operation}: {bytesPerCall:0.##} B/call (budget {budget} B)");

        Assert.True(
            bytesPerCall <= budget,
            $"{operation} allocated {bytesPerCall:0.##} bytes per call; bench/allocation-budget.json allows {budget}.");
    }

    [Fact]
    public void Budget_ListsExactlyTheHotPathOperations()
    {
        var budget = Budget.Load();

        Assert.Equal(
            HotPathOperations.All.Keys.Order(StringComparer.Ordinal),
            budget.Names.Order(StringComparer.Ordinal));
        Assert.All(budget.Names, name => Assert.True(budget.BytesPerCall(name) >= 0, $"{name} has a negative budget."));
    }

    [Fact]
    public void Measurement_SeesAllocationsOfTheMeasuredCall()
    {
        // The harness must be able to fail: an operation that allocates a 100-byte array per call is seen as such.
        var bytesPerCall = MeasureBytesPerCall(() => new byte[100].Length);

        Assert.InRange(bytesPerCall, 100, 200);
    }

    [Fact]
    public void Measurement_OfAZeroAllocationCall_IsZero()
    {
        var buffer = new short[320];
        var bytesPerCall = MeasureBytesPerCall(() =>
        {
            buffer.AsSpan().Fill(7);
            return buffer[3];
        });

        Assert.Equal(0, bytesPerCall);
    }

    /// <param name="call">One call.</param>
    /// <param name="offThread">Bytes allocated so far for the calls on other threads (a batch worker's), if any.</param>
    private static double MeasureBytesPerCall(Func<int> call, Func<long>? offThread = null)
    {
        var sink = 0;
        for (var i = 0; i < WarmUpCalls; i++)
        {
            sink ^= call();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var beforeOff = offThread?.Invoke() ?? 0;
        for (var i = 0; i < MeasuredCalls; i++)
        {
            sink ^= call();
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before + ((offThread?.Invoke() ?? 0) - beforeOff);
        GC.KeepAlive(sink);
        return (double)allocated / MeasuredCalls;
    }

    private sealed class Budget
    {
        private readonly Dictionary<string, long> _bytes;

        private Budget(Dictionary<string, long> bytes) => _bytes = bytes;

        public IEnumerable<string> Names => _bytes.Keys;

        public static Budget Load()
        {
            var path = Path.Combine(AppContext.BaseDirectory, "allocation-budget.json");
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            var bytes = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var entry in document.RootElement.GetProperty("operations").EnumerateObject())
            {
                bytes.Add(entry.Name, entry.Value.GetProperty("bytesPerCall").GetInt64());
            }

            return new Budget(bytes);
        }

        public long BytesPerCall(string operation) =>
            _bytes.TryGetValue(operation, out var bytes)
                ? bytes
                : throw new KeyNotFoundException($"bench/allocation-budget.json has no budget for '{operation}'.");
    }
}
