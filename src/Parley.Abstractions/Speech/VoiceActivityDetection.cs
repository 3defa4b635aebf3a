namespace Parley.Abstractions.Speech;

/// <summary>Voice activity detector over fixed windows of 16 kHz mono PCM16.</summary>
public interface IVoiceActivityDetector : IDisposable
{
    /// <summary>Samples per window that <see cref="Score"/> expects (512 for Silero at 16 kHz).</summary>
    int WindowSamples { get; }

    /// <summary>Speech probability in [0, 1] for one window; keeps recurrent state between calls.</summary>
    float Score(ReadOnlySpan<short> window);

    void Reset();
}

/// <summary>Creates voice activity detectors (one per session: detectors hold recurrent state).</summary>
public interface IVoiceActivityDetectorFactory
{
    string Name { get; }

    IVoiceActivityDetector Create();
}
