using System.Text.Json.Nodes;

namespace Parley.Abstractions.Audio;

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

/// <summary>A text-to-speech engine picked by the TTS <c>Vendor</c> string (case-insensitive).</summary>
public interface ITextToSpeechProvider
{
    /// <summary>The Vendor value that selects this provider, e.g. "Local".</summary>
    string Name { get; }

    /// <summary>
    /// Checks the vendor-specific <c>Params</c> before speaking; returns an error naming the field, or null when this
    /// provider can speak with them. The server speaks with its fallback engine instead when this fails for a vendor
    /// other than the fallback (e.g. a cloud vendor given ZEGO's trial placeholder credentials).
    /// </summary>
    string? Validate(JsonObject? parameters);

    /// <summary>
    /// Checks the vendor-specific <c>Params</c> when an agent or instance is configured (RegisterAgent, UpdateAgent,
    /// CreateAgentInstance, UpdateAgentInstance), where an error refuses the configuration with the message as given:
    /// a value this provider could never speak with (an unknown voice, a speed out of range, a field of the wrong type).
    /// Missing or placeholder credentials are not an error here (the server falls back, see <see cref="Validate"/>),
    /// nor is an engine that failed to start (the server's fault, reported when speaking).
    /// </summary>
    string? ValidateConfiguration(JsonObject? parameters);

    /// <summary>Streams the synthesised audio of <paramref name="text"/> as it is produced.</summary>
    IAsyncEnumerable<AudioChunk> SynthesizeAsync(string text, JsonObject? parameters, CancellationToken cancellationToken);
}

/// <summary>A speech recogniser picked by the ASR <c>Vendor</c> string (case-insensitive).</summary>
public interface ISpeechRecognizerProvider
{
    string Name { get; }

    string? Validate(JsonObject? parameters);

    /// <summary>Opens a recognition stream for one utterance or a whole session (16 kHz mono PCM16 in).</summary>
    ISpeechRecognitionStream Open(SpeechRecognitionOptions options);
}

public sealed record SpeechRecognitionOptions(JsonObject? Parameters, string? HotWords);

/// <summary>A streaming recognition: push audio, read partial and final results.</summary>
public interface ISpeechRecognitionStream : IAsyncDisposable
{
    /// <summary>Feeds 16 kHz mono PCM16; never blocks on recognition work.</summary>
    ValueTask PushAsync(ReadOnlyMemory<short> samples, CancellationToken cancellationToken);

    /// <summary>Marks the end of the current utterance: a final result for it follows on <see cref="Results"/>.</summary>
    ValueTask EndUtteranceAsync(CancellationToken cancellationToken);

    /// <summary>Partial results (IsFinal false, full text so far) then one final result per utterance.</summary>
    IAsyncEnumerable<SpeechRecognitionResult> Results(CancellationToken cancellationToken);
}

public readonly record struct SpeechRecognitionResult(string Text, bool IsFinal);
