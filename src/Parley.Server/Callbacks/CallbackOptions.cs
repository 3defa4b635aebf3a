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
    /// After the last of these, retries continue on the slow schedule until <see cref="RetryFor"/> has passed.</summary>
    public TimeSpan[]? RetryDelays { get; set; }

    /// <summary>
    /// How long an event is retried, counted from when it was queued (or redelivered). After <see cref="RetryDelays"/>
    /// it is retried every <see cref="SlowRetryDelay"/>, doubling up to <see cref="MaxRetryDelay"/>, with a last attempt
    /// when the period ends; if that fails the event is dead. Zero: dead after the last of <see cref="RetryDelays"/> (ZEGO's behaviour).
    /// </summary>
    public TimeSpan RetryFor { get; set; } = TimeSpan.FromDays(1);

    /// <summary>The first delay after <see cref="RetryDelays"/> are used up.</summary>
    public TimeSpan SlowRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The slow schedule doubles its delay up to this.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>An attempt with no response within this time is a failure.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Deliveries in flight at once, all apps together.</summary>
    public int MaxConcurrentDeliveries { get; set; } = 16;

    /// <summary>Deliveries in flight at once for one app, so a slow receiver cannot take every slot.</summary>
    public int MaxConcurrentDeliveriesPerApp { get; set; } = 4;

    /// <summary>Delivered and skipped rows are removed after this long; dead rows are kept.</summary>
    public TimeSpan DeliveredRetention { get; set; } = TimeSpan.FromDays(1);

    internal IReadOnlyList<TimeSpan> EffectiveRetryDelays => RetryDelays is { Length: > 0 } delays ? delays : DefaultRetryDelays;

    /// <summary>
    /// The delay before the next attempt after <paramref name="failedAttempts"/> failed ones, the last at
    /// <paramref name="nowMs"/>, for an event whose retry period started at <paramref name="retryFromMs"/>; null = dead.
    /// </summary>
    internal TimeSpan? NextRetryDelay(int failedAttempts, long retryFromMs, long nowMs)
    {
        var fast = EffectiveRetryDelays;
        if (failedAttempts <= fast.Count)
        {
            return fast[failedAttempts - 1];
        }

        var left = TimeSpan.FromMilliseconds(retryFromMs + (long)RetryFor.TotalMilliseconds - nowMs);
        if (left <= TimeSpan.Zero)
        {
            return null;
        }

        var doublings = Math.Min(failedAttempts - fast.Count - 1, 30);
        var delay = TimeSpan.FromTicks((long)Math.Min(SlowRetryDelay.Ticks * Math.Pow(2, doublings), MaxRetryDelay.Ticks));
        return delay < left ? delay : left;
    }

    /// <summary>True when the retry after <paramref name="failedAttempts"/> is on the slow schedule.</summary>
    internal bool IsSlowRetry(int failedAttempts) => failedAttempts > EffectiveRetryDelays.Count;

    internal IEnumerable<string> Validate()
    {
        if (RetryDelays is not null && RetryDelays.Any(d => d < TimeSpan.Zero))
        {
            yield return "Parley:Callbacks:RetryDelays must not contain negative delays.";
        }

        if (RetryFor < TimeSpan.Zero)
        {
            yield return "Parley:Callbacks:RetryFor must not be negative.";
        }

        if (SlowRetryDelay <= TimeSpan.Zero)
        {
            yield return "Parley:Callbacks:SlowRetryDelay must be positive.";
        }

        if (MaxRetryDelay < SlowRetryDelay)
        {
            yield return "Parley:Callbacks:MaxRetryDelay must not be shorter than SlowRetryDelay.";
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
