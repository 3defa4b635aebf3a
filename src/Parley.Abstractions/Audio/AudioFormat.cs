namespace Parley.Abstractions.Audio;

/// <summary>PCM audio format: 16-bit little-endian signed samples, interleaved when Channels &gt; 1.</summary>
public readonly record struct AudioFormat(int SampleRate, int Channels = 1)
{
    /// <summary>The internal format of every pipeline stage: 16 kHz mono PCM16.</summary>
    public static readonly AudioFormat Pipeline = new(16000);

    public int SamplesPerMillisecond => SampleRate / 1000 * Channels;

    public int SamplesFor(TimeSpan duration) => (int)(SampleRate * Channels * duration.TotalSeconds);

    public TimeSpan DurationOf(int samples) => TimeSpan.FromSeconds((double)samples / (SampleRate * Channels));
}
