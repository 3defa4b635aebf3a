using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Speech;
using Parley.Core.Agents;
using Parley.Core.Providers;
using Parley.Server.Zego;

namespace Parley.Server.Rooms;

/// <summary>
/// The listening half of an instance: Silero VAD and the ASR engine picked by <c>ASR.Vendor</c> (case-insensitive;
/// absent = the server's default; a vendor this server has no engine for, such as a ZEGO cloud one, falls back to the
/// default with a warning), with the instance's turn settings and the deployment's echo cancellation
/// (<c>Parley:Turns:EchoCancellation</c>), as the <see cref="ListeningSetup"/> a voice agent builds its input pipeline from.
/// </summary>
internal sealed partial class SpeechRecognizers(
    IVoiceActivityDetectorFactory vad,
    IEnumerable<ISpeechRecognizer> engines,
    IOptions<AgentRoomOptions> options,
    ILogger<SpeechRecognizers> logger,
    EndOfTurnModels? turnModels = null,
    EchoCancellers? echo = null)
{
    /// <summary>The ASR engines by Vendor. Configuration accepts any ASR vendor: those without an engine listen with the default.</summary>
    public VendorRegistry<ISpeechRecognizer> Vendors { get; } = new(engines, e => e.Name, (e, p) => e.Validate(p));

    /// <summary>
    /// What an instance with this (merged) ASR object and its <c>VAD</c> object listens with: a fresh VAD and
    /// recognition stream each call; the turn and sensitivity settings from both (the VAD object wins).
    /// </summary>
    /// <param name="userAudio">When given (CallbackConfig.UserAudioData), gets the base64 PCM of each utterance's first 1–1.5 s and its sample count.</param>
    public ListeningSetup CreateListening(JsonObject asr, JsonObject? vadConfig = null, Action<string, int>? userAudio = null)
    {
        var fallback = options.Value.DefaultAsrVendor;
        var selection = Vendors.Select(asr["Vendor"]?.GetValue<string>(), asr["Params"] as JsonObject, fallback);
        if (selection.Fallback == VendorFallback.NoEngine)
        {
            LogFallback(logger, selection.Requested, fallback);
        }
        else if (selection.Fallback == VendorFallback.Refused)
        {
            // e.g. ZEGO clients send ASR.Vendor "AliyunParaformer" without credentials (ZEGO supplies its own).
            LogInvalid(logger, selection.Requested, selection.Reason!, fallback);
        }

        var turn = ZegoConfig.ToTurnOptions(asr, vadConfig);
        if (turnModels?.Options is { } model)
        {
            turn = turn with { EndOfTurnModel = model };
        }

        var recognition = new SpeechRecognitionOptions(selection.Parameters, asr["HotWord"]?.GetValue<string>());
        var engine = selection.Engine;
        var processors = echo?.CreateProcessors;
        return userAudio is null
            ? new ListeningSetup(turn, vad.Create, () => engine.Open(recognition), processors)
            : new ListeningSetup(turn, vad.Create, () => new UserAudioCapture(engine.Open(recognition), userAudio), processors);
    }

    /// <summary>The Exception (2101) an instance reports when its ASR object listens with the default engine instead of the vendor it names, or null.</summary>
    public VendorNotice? FallbackNotice(JsonObject asr)
    {
        var fallback = options.Value.DefaultAsrVendor;
        var selection = Vendors.Select(asr["Vendor"] is JsonValue v && v.TryGetValue<string>(out var name) ? name : null, asr["Params"] as JsonObject, fallback);
        return selection.Fallback switch
        {
            VendorFallback.NoEngine => new VendorNotice(2101, $"ASR vendor {selection.Requested} is not available on this server; the agent listens with the {fallback} engine instead"),
            VendorFallback.Refused => new VendorNotice(2101, $"ASR vendor {selection.Requested} cannot be used ({selection.Reason}); the agent listens with the {fallback} engine instead"),
            _ => null,
        };
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "ASR vendor {Vendor} cannot be used ({Reason}); listening with {Fallback}")]
    private static partial void LogInvalid(ILogger logger, string vendor, string reason, string fallback);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ASR vendor {Vendor} has no engine on this server; listening with {Fallback}")]
    private static partial void LogFallback(ILogger logger, string vendor, string fallback);
}
