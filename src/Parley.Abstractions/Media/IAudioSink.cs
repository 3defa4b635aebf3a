using Parley.Abstractions.Audio;

namespace Parley.Abstractions.Media;

/// <summary>
/// Where an agent's speech goes (a room stream, a telephony leg, a test recorder): 16 kHz mono PCM16, paced by the
/// sink in real time. The interruption lane needs three things of it: <see cref="Clear"/> at once, the position
/// actually played (<see cref="PlayedSamples"/>), and a wait for the end of playout.
/// </summary>
public interface IAudioSink
{
    /// <summary>Queues audio; ownership of <paramref name="chunk"/> moves to the sink (also when this throws). May wait while full.</summary>
    ValueTask WriteAsync(AudioChunk chunk, CancellationToken cancellationToken);

    /// <summary>Drops everything not yet played, now, without blocking (the caller may hold a lock); ends a <see cref="Pause"/>.</summary>
    void Clear();

    /// <summary>
    /// Stops emitting at once, keeping everything queued (a provisional barge-in: the user may have started talking).
    /// Writes are still accepted. Without blocking (the caller may hold a lock); idempotent.
    /// </summary>
    void Pause();

    /// <summary>Emits again from where <see cref="Pause"/> stopped (a released false start). Idempotent; nothing when not paused.</summary>
    void Resume();

    /// <summary>Whether the sink is paused.</summary>
    bool Paused { get; }

    /// <summary>Audio queued and not yet played.</summary>
    TimeSpan Buffered { get; }

    /// <summary>Samples that have left the sink towards the listener since it was created (monotonic; cleared audio never counts).</summary>
    long PlayedSamples { get; }

    /// <summary>Completes when everything written so far has been played, or was cleared.</summary>
    ValueTask<Playout> WaitForPlayoutAsync(CancellationToken cancellationToken);
}

/// <summary>The end of a playout: the sink's played position, and whether a <see cref="IAudioSink.Clear"/> cut it short.</summary>
public readonly record struct Playout(long PlayedSamples, bool Interrupted)
{
    public TimeSpan Position => TimeSpan.FromSeconds(PlayedSamples / (double)AudioFormat.Pipeline.SampleRate);
}
