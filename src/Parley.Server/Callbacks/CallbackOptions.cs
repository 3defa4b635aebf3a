namespace Parley.Server.Callbacks;

/// <summary>Configuration section <c>Parley:Callbacks</c>.</summary>
public sealed class CallbackOptions
{
    public const string SectionName = "Parley:Callbacks";

    /// <summary>Spec 6.1: five retries, 2, 4, 8, 16 and 32 s after the previous attempt.</summary>
    public static IReadOnlyList<TimeSpan> DefaultRetryDelays { get; } =
    [
        TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8), TimeSpan.FromSeconds(16), TimeSpan.FromSeconds(32),
    ];

    /// <summary>Delay before each retry, counted from the end of the failed attempt. Empty or absent: <see cref="DefaultRetryDelays"/>.
    /// After the last retry fails the event is marked dead.</summary>
    public TimeSpan[]? RetryDelays { get; set; }

    /// <summary>An attempt with no response within this time is a failure.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Deliveries in flight at once, all apps together.</summary>
    public int MaxConcurrentDeliveries { get; set; } = 16;

    /// <summary>Deliveries in flight at once for one app, so a slow receiver cannot take every slot.</summary>
    public int MaxConcurrentDeliveriesPerApp { get; set; } = 4;

    /// <summary>Delivered and skipped rows are removed after this long; dead rows are kept.</summary>
    public TimeSpan DeliveredRetention { get; set; } = TimeSpan.FromDays(1);

    internal IReadOnlyList<TimeSpan> EffectiveRetryDelays => RetryDelays is { Length: > 0 } delays ? delays : DefaultRetryDelays;

    internal IEnumerable<string> Validate()
    {
        if (RetryDelays is not null && RetryDelays.Any(d => d < TimeSpan.Zero))
        {
            yield return "Parley:Callbacks:RetryDelays must not contain negative delays.";
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            yield return "Parley:Callbacks:RequestTimeout must be positive.";
        }

        if (MaxConcurrentDeliveries < 1)
        {
            yield return "Parley:Callbacks:MaxConcurrentDeliveries must be at least 1.";
        }

        if (MaxConcurrentDeliveriesPerApp < 1)
        {
            yield return "Parley:Callbacks:MaxConcurrentDeliveriesPerApp must be at least 1.";
        }

        if (DeliveredRetention < TimeSpan.Zero)
        {
            yield return "Parley:Callbacks:DeliveredRetention must not be negative.";
        }
    }
}
