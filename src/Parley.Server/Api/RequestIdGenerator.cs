namespace Parley.Server.Api;

/// <summary>
/// Unique 19-digit decimal ids (like ZEGO's RequestId and AgentInstanceId): milliseconds since 2020 in the high bits,
/// a per-process random node and a counter in the low bits. Monotonic within a process.
/// </summary>
public sealed class IdGenerator(TimeProvider time)
{
    private static readonly DateTimeOffset Epoch = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly long _node = Random.Shared.Next(0, 1 << 10);
    private long _last;

    public string Next()
    {
        var millis = (long)(time.GetUtcNow() - Epoch).TotalMilliseconds;
        var candidate = (millis << 22) | (_node << 12);
        while (true)
        {
            var last = Interlocked.Read(ref _last);
            var next = candidate > last ? candidate : last + 1;
            if (Interlocked.CompareExchange(ref _last, next, last) == last)
            {
                // Offset keeps every id at 19 digits for the next ~200 years.
                return (next + 1_000_000_000_000_000_000L).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }
    }
}
