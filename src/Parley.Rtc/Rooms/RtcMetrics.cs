using System.Diagnostics.Metrics;

namespace Parley.Rtc.Rooms;

/// <summary>
/// The room server's instruments (.NET Meters, exported at the server's /metrics). Frames dropped by a bounded queue
/// are the first sign of an overloaded server: a reader (player) or a pacer (publication) fell behind.
/// </summary>
internal static class RtcMetrics
{
    public const string MeterName = "Parley.Rtc";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Dropped = Meter.CreateCounter<long>(
        "parley_rtc_dropped_frames",
        "{frame}",
        "Audio frames dropped by a room's bounded queues (queue=player: a subscriber fell behind; queue=publish: a live publisher's pacer fell behind).");

    public static void PlayerDropped() => Dropped.Add(1, new KeyValuePair<string, object?>("queue", "player"));

    public static void PublishDropped() => Dropped.Add(1, new KeyValuePair<string, object?>("queue", "publish"));
}
