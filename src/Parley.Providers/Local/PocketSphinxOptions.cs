namespace Parley.Providers.Local;

/// <summary>Settings of the local pocketsphinx recogniser (an immutable snapshot; the server binds <c>Parley:Local:PocketSphinx</c>).</summary>
public sealed record PocketSphinxOptions
{
    /// <summary>Where Debian's <c>pocketsphinx-en-us</c> installs the US English models.</summary>
    public const string DebianModelDirectory = "/usr/share/pocketsphinx/model/en-us";

    /// <summary>Directory holding <c>en-us/</c> (acoustic model), <c>en-us.lm.bin</c> and <c>cmudict-en-us.dict</c>.</summary>
    public string ModelDirectory { get; init; } = DebianModelDirectory;

    /// <summary>
    /// Loaded decoders kept for reuse when no utterance holds them (each holds the acoustic and language model, ~60–90
    /// MB): the peak of users speaking at once that is served without loading one (~0.3–1 s); more are freed when returned.
    /// </summary>
    public int MaxIdleDecoders { get; init; } = 4;

    /// <summary>
    /// Capacity, in pushed pieces, of the queue between <c>PushAsync</c> and the decoding worker. Audio is never
    /// dropped: when the queue is full <c>PushAsync</c> waits. At 20 ms pieces the default holds about 80 s of audio,
    /// far more than a decoder that runs faster than real time ever falls behind, so in practice pushes never wait.
    /// </summary>
    public int InputQueueCapacity { get; init; } = 4096;

    /// <summary>How often (in audio time) the partial hypothesis is checked; a partial is emitted only when it changed.</summary>
    public TimeSpan PartialInterval { get; init; } = TimeSpan.FromMilliseconds(200);
}
