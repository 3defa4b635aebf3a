namespace Parley.Abstractions.Media;

/// <summary>
/// A stage that cleans the user's audio before voice activity detection and recognition: echo cancellation, noise
/// suppression, gain control. It runs on the input pipeline's audio thread for every piece of 16 kHz mono PCM16, so it
/// must not block nor allocate per call. Implementations that hold native state may implement <see cref="IDisposable"/>:
/// the pipeline then disposes them under the same lock it processes under, never while a piece is being processed.
/// </summary>
public interface IAudioInputProcessor
{
    /// <summary>
    /// Processes one piece of the user's audio in place. <paramref name="farEnd"/> has the same length and holds what the
    /// agent played at the same sample positions (its own voice: the echo reference), zeros where nothing was played.
    /// </summary>
    void Process(Span<short> nearEnd, ReadOnlySpan<short> farEnd);
}
