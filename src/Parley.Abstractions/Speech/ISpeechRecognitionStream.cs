namespace Parley.Abstractions.Speech;

/// <summary>A streaming recognition: push audio, read partial and final results.</summary>
public interface ISpeechRecognitionStream : IAsyncDisposable
{
    /// <summary>
    /// Feeds 16 kHz mono PCM16; never blocks on recognition work. After the stream failed this throws
    /// <see cref="InvalidOperationException"/> (the cause as inner exception; <see cref="Results"/> ends with it).
    /// </summary>
    ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken);

    /// <summary>Marks the end of the current utterance: a final result for it follows on <see cref="Results"/>.</summary>
    ValueTask EndUtteranceAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Partial results (IsFinal false, full text so far) then one final result per utterance. Ends when the stream is
    /// disposed; a vendor failure ends it by throwing the vendor's exception, so the caller can open a new stream.
    /// </summary>
    IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken);
}

public readonly record struct SpeechRecognitionResult(string Text, bool IsFinal);
