using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Providers.Local;

/// <summary>
/// The <c>TTS.Params</c> of the <c>Local</c> TTS vendor (all optional):
/// <list type="table">
/// <item><term><c>engine</c></term><description><c>"flite"</c> (default) or <c>"espeak-ng"</c>.</description></item>
/// <item><term><c>voice</c></term><description>flite: <c>kal16</c> (default, 16 kHz), <c>kal</c> (8 kHz), <c>slt</c>, <c>rms</c>, <c>awb</c> (16 kHz);
/// espeak-ng: a language or voice name such as <c>en-us</c> (default), <c>en</c>, <c>en-gb</c>, <c>de</c>, <c>fr</c> (22050 Hz).</description></item>
/// <item><term><c>speed</c></term><description>speaking-rate factor in [0.5, 2.0], default 1.0 (flite: duration stretch 1/speed; espeak-ng: 175 × speed words per minute).</description></item>
/// </list>
/// Example: <c>{"engine":"flite","voice":"kal16","speed":1.0}</c>. Audio comes at the engine's native rate
/// (<see cref="Parley.Abstractions.Audio.AudioChunk.SampleRate"/>); the pipeline resamples.
/// </summary>
public sealed record LocalTtsOptions(string Engine, string Voice, double Speed)
{
    public const string FliteEngine = "flite";
    public const string EspeakNgEngine = "espeak-ng";
    public const string DefaultFliteVoice = "kal16";
    public const string DefaultEspeakNgVoice = "en-us";
    public const double MinSpeed = 0.5;
    public const double MaxSpeed = 2.0;

    public static LocalTtsOptions Default { get; } = new(FliteEngine, DefaultFliteVoice, 1.0);

    /// <summary>Reads the Params syntactically (field types, engine name, speed range); voice availability is checked by the engine.</summary>
    public static bool TryParse(JsonObject? parameters, out LocalTtsOptions options, out string? error)
    {
        options = Default;
        error = null;
        if (parameters is null)
        {
            return true;
        }

        string engine = FliteEngine;
        if (parameters.TryGetPropertyValue("engine", out var engineNode) && engineNode is not null)
        {
            if (!TryGetString(engineNode, out var value))
            {
                error = "TTS.Params.engine must be a string (\"flite\" or \"espeak-ng\").";
                return false;
            }

            engine = value.Trim().ToLowerInvariant();
            if (engine is not (FliteEngine or EspeakNgEngine))
            {
                error = $"TTS.Params.engine '{value}' is not a local TTS engine; available: flite, espeak-ng.";
                return false;
            }
        }

        var voice = engine == FliteEngine ? DefaultFliteVoice : DefaultEspeakNgVoice;
        if (parameters.TryGetPropertyValue("voice", out var voiceNode) && voiceNode is not null)
        {
            if (!TryGetString(voiceNode, out var value) || string.IsNullOrWhiteSpace(value))
            {
                error = "TTS.Params.voice must be a non-empty string.";
                return false;
            }

            voice = value.Trim();
        }

        var speed = 1.0;
        if (parameters.TryGetPropertyValue("speed", out var speedNode) && speedNode is not null)
        {
            if (!TryGetNumber(speedNode, out speed))
            {
                error = "TTS.Params.speed must be a number between 0.5 and 2.0.";
                return false;
            }

            if (!(speed >= MinSpeed && speed <= MaxSpeed))
            {
                error = $"TTS.Params.speed {speed.ToString(CultureInfo.InvariantCulture)} is outside [0.5, 2.0].";
                return false;
            }
        }

        options = new LocalTtsOptions(engine, voice, speed);
        return true;
    }

    private static bool TryGetString(JsonNode node, out string value)
    {
        value = string.Empty;
        if (node is JsonValue json && json.GetValueKind() == JsonValueKind.String)
        {
            value = json.GetValue<string>();
            return true;
        }

        return false;
    }

    private static bool TryGetNumber(JsonNode node, out double value)
    {
        value = 0;
        if (node is JsonValue json && json.GetValueKind() == JsonValueKind.Number)
        {
            value = json.GetValue<double>();
            return true;
        }

        return false;
    }
}
