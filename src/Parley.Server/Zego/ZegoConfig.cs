using Parley.Core.Input;
using Parley.Core.Turns;

namespace Parley.Server.Zego;

/// <summary>
/// Maps the ZEGO contract's values to Parley's typed Core options: the one place that knows the contract's field names,
/// their ranges and their messages (Core takes durations and policies, never the contract's spelling).
/// </summary>
internal static class ZegoConfig
{
    /// <summary>Default of the ASR <c>VADSilenceSegmentation</c> setting, in milliseconds.</summary>
    public const int DefaultVadSilenceSegmentationMs = 500;
    public const int MinVadSilenceSegmentationMs = 200;
    public const int MaxVadSilenceSegmentationMs = 2000;
    public const int MinPauseIntervalMs = 200;
    public const int MaxPauseIntervalMs = 2000;

    /// <summary>Turn options from the ASR settings (milliseconds; null = default / off; each must be in [200, 2000]).</summary>
    public static UserInputOptions ToUserInputOptions(int? vadSilenceSegmentationMs, int? pauseIntervalMs)
    {
        if (pauseIntervalMs is < MinPauseIntervalMs or > MaxPauseIntervalMs)
        {
            throw new ArgumentOutOfRangeException(
                "PauseInterval", pauseIntervalMs, $"PauseInterval must be between {MinPauseIntervalMs} and {MaxPauseIntervalMs} ms.");
        }

        return new UserInputOptions
        {
            Vad = ToVadOptions(vadSilenceSegmentationMs),
            PauseInterval = pauseIntervalMs is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
        };
    }

    /// <summary>VAD options for an ASR <c>VADSilenceSegmentation</c> value in milliseconds (null → 500, valid 200–2000).</summary>
    public static VadSegmenterOptions ToVadOptions(int? vadSilenceSegmentationMs)
    {
        var value = vadSilenceSegmentationMs ?? DefaultVadSilenceSegmentationMs;
        if (value is < MinVadSilenceSegmentationMs or > MaxVadSilenceSegmentationMs)
        {
            throw new ArgumentOutOfRangeException(
                "VADSilenceSegmentation",
                value,
                $"VADSilenceSegmentation must be between {MinVadSilenceSegmentationMs} and {MaxVadSilenceSegmentationMs} ms.");
        }

        return new VadSegmenterOptions { SilenceDuration = TimeSpan.FromMilliseconds(value) };
    }

    /// <summary>
    /// The interruption policy for <c>AdvancedConfig.InterruptMode</c>: 0 (default) the user's speech interrupts a
    /// reply (barge-in); 1 the agent finishes its reply and speech heard meanwhile is ignored. The contract has no
    /// minimum speech or words: those stay at Core's defaults.
    /// </summary>
    public static InterruptionPolicy ToInterruptionPolicy(int interruptMode) =>
        interruptMode == 1 ? InterruptionPolicy.NoBargeIn : InterruptionPolicy.Default;
}
