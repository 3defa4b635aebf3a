using System.Text.Json.Nodes;
using Parley.Abstractions.Audio;

namespace Parley.Abstractions.Speech;

/// <summary>The per-sentence TTS call, being replaced by <see cref="ITextToSpeech"/> (vendors move to it next).</summary>
public interface ITextToSpeechProvider
{
    string Name { get; }

    string? Validate(JsonObject? parameters);

    string? ValidateConfiguration(JsonObject? parameters);

    /// <summary>Streams the synthesised audio of <paramref name="text"/> as it is produced.</summary>
    IAsyncEnumerable<AudioChunk> SynthesizeAsync(string text, JsonObject? parameters, CancellationToken cancellationToken);
}
