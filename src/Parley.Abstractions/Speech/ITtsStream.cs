using Parley.Abstractions.Audio;

namespace Parley.Abstractions.Speech;

/// <summary>
/// One synthesis: text in (<see cref="PushTextAsync"/>, then <see cref="FlushAsync"/>), audio out
/// (<see cref="ReadAsync"/>, read concurrently with the pushes). Disposing stops the synthesis at once and releases
/// the vendor's connection; audio not yet read is dropped.
/// </summary>
public interface ITtsStream : IAsyncDisposable
{
    /// <summary>
    /// Adds text to speak: a sentence, or a token delta for vendors whose protocol streams text in
    /// (<see cref="TtsCapabilities.StreamingText"/>). Never waits for synthesis. The pushed texts, concatenated as
    /// given, are the text <see cref="WordTiming.TextOffset"/> counts in.
    /// </summary>
    ValueTask PushTextAsync(string text, CancellationToken cancellationToken);

    /// <summary>Ends the reply's text: <see cref="ReadAsync"/> ends once the audio of all pushed text has been read.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The audio in order as it is produced, at the engine's rate (each chunk carries its own; ownership of the chunk
    /// moves to the reader, who disposes it), plus word timings when the vendor offers them. Ends after
    /// <see cref="FlushAsync"/> and the last audio; a vendor failure ends it by throwing. One reader at a time.
    /// </summary>
    IAsyncEnumerable<TtsAudio> ReadAsync(CancellationToken cancellationToken);
}

/// <summary>
/// A piece of a synthesis: audio, a word timing, or both. <see cref="Audio"/> is empty (<c>default</c>) when the piece
/// only reports a word; a word's times are positions in the stream's audio, not in this chunk.
/// </summary>
public readonly record struct TtsAudio(AudioChunk Audio, WordTiming? Word);

/// <summary>
/// When a word is spoken in a synthesis: <paramref name="Start"/> and <paramref name="End"/> are positions from the
/// start of the stream's audio; <paramref name="TextOffset"/> and <paramref name="TextLength"/> locate the word in the
/// pushed text (all pushes concatenated), so a caller can keep exactly the words that were played.
/// </summary>
public readonly record struct WordTiming(string Text, int TextOffset, int TextLength, TimeSpan Start, TimeSpan End);
