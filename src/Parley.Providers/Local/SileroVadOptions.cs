namespace Parley.Providers.Local;

/// <summary>
/// How the Silero VAD runs (configuration section <c>Parley:Vad</c>). With <see cref="BatchWorkers"/> &gt; 0 the
/// windows of all sessions go to the model as batches on that many dedicated worker threads: a free worker takes
/// every window pending (at most <see cref="MaxBatch"/>) at once, so a lone session waits for nothing but its own
/// inference, and many sessions share one model call per batch. 0 scores each window on the caller's thread, one
/// model call per window per session (the behaviour before batching).
/// </summary>
public sealed record SileroVadOptions
{
    /// <summary>Configuration section.</summary>
    public const string SectionName = "Parley:Vad";

    /// <summary>Dedicated batch worker threads (0 = unbatched, per-session inference). Default 1.</summary>
    public int BatchWorkers { get; init; } = 1;

    /// <summary>Largest batch one model call takes (windows beyond wait for the next call). Default 256.</summary>
    public int MaxBatch { get; init; } = 256;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the field when a setting is out of range.</summary>
    public void Validate()
    {
        if (BatchWorkers is < 0 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchWorkers), BatchWorkers, $"{SectionName}:{nameof(BatchWorkers)} must be 0–16.");
        }

        if (MaxBatch is < 1 or > 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatch), MaxBatch, $"{SectionName}:{nameof(MaxBatch)} must be 1–4096.");
        }
    }
}
