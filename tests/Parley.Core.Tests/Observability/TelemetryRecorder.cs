using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Parley.Core.Observability;

namespace Parley.Core.Tests.Observability;

/// <summary>Listens to one <see cref="ParleyTelemetry"/> only (by reference), so parallel tests do not see each other.</summary>
internal sealed class TelemetryRecorder : IDisposable
{
    private readonly ActivityListener _activities;
    private readonly MeterListener _meters = new();

    public TelemetryRecorder(ParleyTelemetry telemetry)
    {
        _activities = new ActivityListener
        {
            ShouldListenTo = source => ReferenceEquals(source, telemetry.ActivitySource),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = Spans.Enqueue,
        };
        ActivitySource.AddActivityListener(_activities);
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, telemetry.Meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Measurements.Enqueue(new Measurement(instrument.Name, value, Tags(tags))));
        _meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Measurements.Enqueue(new Measurement(instrument.Name, value, Tags(tags))));
        _meters.Start();
    }

    public ConcurrentQueue<Activity> Spans { get; } = new();

    public ConcurrentQueue<Measurement> Measurements { get; } = new();

    public Activity Root(long round) => Assert.Single(Spans, s => s.OperationName == TelemetryNames.TurnSpan && Equals(s.GetTagItem(TelemetryNames.Round), round));

    public IReadOnlyList<Activity> Children(Activity root) => [.. Spans.Where(s => s.ParentSpanId == root.SpanId).OrderBy(s => s.StartTimeUtc)];

    public IReadOnlyList<double> Values(string instrument) => [.. Measurements.Where(m => m.Instrument == instrument).Select(m => m.Value)];

    public void Dispose()
    {
        _activities.Dispose();
        _meters.Dispose();
    }

    private static Dictionary<string, object?> Tags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var result = new Dictionary<string, object?>();
        foreach (var tag in tags)
        {
            result[tag.Key] = tag.Value;
        }

        return result;
    }

    internal sealed record Measurement(string Instrument, double Value, Dictionary<string, object?> Tags);
}
