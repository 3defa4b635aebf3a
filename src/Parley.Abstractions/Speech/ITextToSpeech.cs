using System.Text.Json.Nodes;

namespace Parley.Abstractions.Speech;

/// <summary>
/// A text-to-speech engine picked by the TTS <c>Vendor</c> string (case-insensitive). One <see cref="Open"/> per reply
/// (or per sentence): the caller pushes the reply's text as it comes and reads the audio as it is produced.
/// </summary>
public interface ITextToSpeech
{
    /// <summary>The Vendor value that selects this engine, e.g. "Local".</summary>
    string Name { get; }

    TtsCapabilities Capabilities { get; }

    /// <summary>
    /// Checks the vendor-specific <c>Params</c> before speaking; returns an error naming the field, or null when this
    /// engine can speak with them. The server speaks with its fallback engine instead when this fails for a vendor
    /// other than the fallback (e.g. a cloud vendor given ZEGO's trial placeholder credentials).
    /// </summary>
    string? Validate(JsonObject? parameters);

    /// <summary>
    /// Checks the vendor-specific <c>Params</c> when an agent or instance is configured (RegisterAgent, UpdateAgent,
    /// CreateAgentInstance, UpdateAgentInstance), where an error refuses the configuration with the message as given:
    /// a value this engine could never speak with (an unknown voice, a speed out of range, a field of the wrong type).
    /// Missing or placeholder credentials are not an error here (the server falls back, see <see cref="Validate"/>),
    /// nor is an engine that failed to start (the server's fault, reported when speaking).
    /// </summary>
    string? ValidateConfiguration(JsonObject? parameters);

    /// <summary>
    /// Opens a synthesis stream with the given <c>Params</c>. Throws <see cref="ArgumentException"/> when
    /// <see cref="Validate"/> refuses them. Opening is cheap: vendors connect at the first text or the first read.
    /// </summary>
    ITtsStream Open(TtsRequest request);
}

/// <summary>What a synthesis stream speaks with: the vendor's <c>Params</c> (whole, including <c>app</c> credentials).</summary>
public sealed record TtsRequest(JsonObject? Parameters)
{
    /// <summary>
    /// <c>TTS.Url</c>: the vendor endpoint for this synthesis instead of the engine's configured one (null = the
    /// configured one). Engines that connect somewhere take it; it has passed the outbound URL policy's configuration
    /// check, and the engine's connection still applies the policy.
    /// </summary>
    public Uri? Endpoint { get; init; }

    /// <summary>Values set in the Params for this synthesis only (per-sentence effects, <c>AdvancedConfig.TTSParamPaths</c>).</summary>
    public IReadOnlyList<TtsParameterOverride>? Overrides { get; init; }

    /// <summary>
    /// The Params with <see cref="Overrides"/> applied: a copy (the shared Params are never changed), or
    /// <see cref="Parameters"/> itself without overrides. Objects on the path are created as needed.
    /// </summary>
    public JsonObject? ResolveParameters()
    {
        if (Overrides is not { Count: > 0 } overrides)
        {
            return Parameters;
        }

        var copy = Parameters?.DeepClone() as JsonObject ?? [];
        foreach (var o in overrides)
        {
            var parts = o.Path.Split('.', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0)
            {
                continue;
            }

            var target = copy;
            for (var i = 0; i < parts.Length - 1; i++)
            {
                if (target[parts[i]] is not JsonObject next)
                {
                    next = [];
                    target[parts[i]] = next;
                }

                target = next;
            }

            target[parts[^1]] = o.Value?.DeepClone();
        }

        return copy;
    }
}

/// <summary>A value to set at a dotted <paramref name="Path"/> of the Params (e.g. <c>payload.parameters.instruction</c>).</summary>
public sealed record TtsParameterOverride(string Path, JsonNode? Value);

/// <param name="StreamingText">
/// The vendor's protocol takes text in pieces (token deltas) within one synthesis; without it the engine speaks
/// each pushed text as a whole, so callers push whole sentences.
/// </param>
/// <param name="WordTimings">The stream reports <see cref="WordTiming"/>s with its audio.</param>
/// <param name="NativeSampleRate">
/// The rate the engine usually produces (0 = depends on the voice or Params); each <see cref="TtsAudio.Audio"/>
/// chunk carries its actual rate.
/// </param>
public sealed record TtsCapabilities(bool StreamingText, bool WordTimings, int NativeSampleRate);
