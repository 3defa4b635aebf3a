namespace Parley.Abstractions.Speech;

/// <summary>Voice activity detector over fixed windows of 16 kHz mono PCM16.</summary>
public interface IVoiceActivityDetector : IDisposable
{
    /// <summary>Samples per window that <see cref="Score"/> expects (512 for Silero at 16 kHz).</summary>
    int WindowSamples { get; }

    /// <summary>Speech probability in [0, 1] for one window; keeps recurrent state between calls.</summary>
    float Score(ReadOnlySpan<short> window);

    /// <summary>
    /// Speech probability for one window, like <see cref="Score"/>, for detectors that score many streams' windows
    /// together (one model call for a batch, on a shared worker). The window is read before this returns, so the
    /// caller may reuse it at once. One window at a time per detector: await each result before the next call, and
    /// before <see cref="Reset"/>. A detector disposed before its window was scored fails the result with
    /// <see cref="ObjectDisposedException"/>; a token cancelled before the window reached the model fails it with
    /// <see cref="OperationCanceledException"/>. The default scores synchronously with <see cref="Score"/> (the token
    /// is not needed for work that is done when this returns).
    /// </summary>
    ValueTask<float> ScoreAsync(ReadOnlySpan<short> window, CancellationToken cancellationToken) => new(Score(window));

    void Reset();
}

/// <summary>
/// Creates voice activity detectors (one per session: detectors hold recurrent state). A factory may give detectors
/// that share a batched model worker (<see cref="IVoiceActivityDetector.ScoreAsync"/>).
/// </summary>
public interface IVoiceActivityDetectorFactory
{
    string Name { get; }

    IVoiceActivityDetector Create();
}
