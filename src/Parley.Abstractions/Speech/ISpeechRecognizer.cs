using System.Text.Json.Nodes;

namespace Parley.Abstractions.Speech;

/// <summary>A speech recogniser picked by the ASR <c>Vendor</c> string (case-insensitive).</summary>
public interface ISpeechRecognizer
{
    /// <summary>The Vendor value that selects this recogniser, e.g. "Local".</summary>
    string Name { get; }

    /// <summary>
    /// Checks the vendor-specific <c>Params</c> before listening; returns an error naming the field, or null. The
    /// server listens with its default engine instead when this fails for a vendor other than the default.
    /// </summary>
    string? Validate(JsonObject? parameters);

    /// <summary>Opens a recognition stream for one utterance or a whole session (16 kHz mono PCM16 in).</summary>
    ISpeechRecognitionStream Open(SpeechRecognitionOptions options);
}

public sealed record SpeechRecognitionOptions(JsonObject? Parameters, string? HotWords);
