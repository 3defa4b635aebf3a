using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Audio;
using Parley.Core.Input;
using Parley.Server.Zego;

namespace Parley.Server.Rooms;

/// <summary>
/// The listening half of an instance: Silero VAD and the ASR engine picked by <c>ASR.Vendor</c> (case-insensitive;
/// absent = the server's default; a vendor this server has no engine for, such as a ZEGO cloud one, falls back to the
/// default with a warning), wired into a <see cref="UserInputPipeline"/> with the instance's turn settings.
/// </summary>
internal sealed partial class SpeechRecognizers(
    IVoiceActivityDetectorFactory vad,
    IEnumerable<ISpeechRecognizerProvider> providers,
    IOptions<AgentRoomOptions> options,
    TimeProvider time,
    ILogger<SpeechRecognizers> logger)
{
    private readonly Dictionary<string, ISpeechRecognizerProvider> _byName = providers.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    public UserInputPipeline CreateDetector(JsonObject asr)
    {
        var vendor = asr["Vendor"]?.GetValue<string>() is { Length: > 0 } v ? v : options.Value.DefaultAsrVendor;
        var parameters = asr["Params"] as JsonObject;
        if (!_byName.TryGetValue(vendor, out var provider))
        {
            LogFallback(logger, vendor, options.Value.DefaultAsrVendor);
            provider = _byName[options.Value.DefaultAsrVendor];
            parameters = null;
        }
        else if (!string.Equals(provider.Name, options.Value.DefaultAsrVendor, StringComparison.OrdinalIgnoreCase) && provider.Validate(parameters) is { } invalid)
        {
            // e.g. ZEGO clients send ASR.Vendor "AliyunParaformer" without credentials (ZEGO supplies its own).
            LogInvalid(logger, vendor, invalid, options.Value.DefaultAsrVendor);
            provider = _byName[options.Value.DefaultAsrVendor];
            parameters = null;
        }

        var turn = ZegoConfig.ToUserInputOptions(Int(asr, "VADSilenceSegmentation"), Int(asr, "PauseInterval"));
        var recognition = new SpeechRecognitionOptions(parameters, asr["HotWord"]?.GetValue<string>());
        return new UserInputPipeline(turn, vad.Create(), () => provider.Open(recognition), time);
    }

    private static int? Int(JsonObject o, string name) => o[name] is JsonValue value && value.TryGetValue<int>(out var i) ? i : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "ASR vendor {Vendor} cannot be used ({Reason}); listening with {Fallback}")]
    private static partial void LogInvalid(ILogger logger, string vendor, string reason, string fallback);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ASR vendor {Vendor} has no engine on this server; listening with {Fallback}")]
    private static partial void LogFallback(ILogger logger, string vendor, string fallback);
}
