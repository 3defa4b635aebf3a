using System.Text.Json.Nodes;
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

    /// <summary>Parley's clause-aware end of turn: an unfinished clause waits this long (PauseInterval when set), chosen on the evaluation set.</summary>
    public static readonly TimeSpan UnfinishedClauseWait = TimeSpan.FromMilliseconds(1200);

    /// <summary>
    /// Parley's own debounce before the VAD reports speech (ZEGO's <c>MinSpeechDur</c> 0); <c>MinSpeechDur</c> adds to it.
    /// 96 ms (three Silero windows, with a 96 ms dip tolerated inside the onset): a false start no longer interrupts the
    /// agent by itself (the interruption policy judges it), so the start can be reported sooner (was 150 ms).
    /// </summary>
    public static readonly TimeSpan BaseMinSpeech = TimeSpan.FromMilliseconds(96);

    /// <summary>Silero speech probability at <c>EnergyThreshold</c> 0: the activation threshold is this plus the energy threshold (medium 0.2 → 0.5, today's default).</summary>
    public const float ActivationOffset = 0.3f;

    /// <summary>The deactivation threshold sits this far below the activation threshold (0.5 → 0.35).</summary>
    public const float DeactivationGap = 0.15f;

    /// <summary>
    /// The turn and voice-detection settings of an instance: the <c>VAD</c> object of CreateAgentInstance (ZEGO 2.12+)
    /// over the deprecated ASR fields (<c>VADSilenceSegmentation</c>, <c>PauseInterval</c>, <c>VADSensitiveLevel</c>,
    /// <c>VADMinSpeechDur</c>, <c>VADEnergyThreshold</c>), field by field: a field the VAD object gives wins.
    /// Values were validated at the API (AgentConfigValidator); absent ones are null.
    /// </summary>
    public static UserInputOptions ToTurnOptions(JsonObject? asr, JsonObject? vad)
    {
        var turn = vad?["TurnDetectConfig"] as JsonObject;
        var sensitive = (vad?["VoiceDetectConfig"] as JsonObject)?["SensitiveConfig"] as JsonObject;
        var silence = Int(turn, "SilenceSegmentation") ?? Int(asr, "VADSilenceSegmentation");
        var pause = Int(turn, "PauseInterval") ?? Int(asr, "PauseInterval");
        var level = Int(sensitive, "Level") ?? Int(asr, "VADSensitiveLevel") ?? 0;
        var minSpeech = Int(sensitive, "MinSpeechDur") ?? Int(asr, "VADMinSpeechDur");
        var energy = Number(sensitive, "EnergyThreshold") ?? Number(asr, "VADEnergyThreshold");
        var options = ToUserInputOptions(silence, pause);
        var (threshold, minSpeechMs) = Sensitivity(level, minSpeech, energy);
        return options with { Vad = WithSensitivity(options.Vad, threshold, minSpeechMs), UnfinishedClauseWait = options.Vad.SilenceDuration > UnfinishedClauseWait ? options.Vad.SilenceDuration : UnfinishedClauseWait };
    }

    /// <summary>
    /// <c>SensitiveConfig</c>: the (EnergyThreshold, MinSpeechDur) of a level — 0 medium (0.2, 0 ms, the default),
    /// 1 low (0.4, 100 ms), 2 high (0.1, 0 ms); 3 custom takes the given values (each defaulting to medium's).
    /// </summary>
    public static (double EnergyThreshold, int MinSpeechDurMs) Sensitivity(int level, int? minSpeechDurMs, double? energyThreshold) => level switch
    {
        1 => (0.4, 100),
        2 => (0.1, 0),
        3 => (energyThreshold ?? 0.2, minSpeechDurMs ?? 0),
        _ => (0.2, 0),
    };

    /// <summary>
    /// The Silero VAD's thresholds and minimum speech for an (EnergyThreshold, MinSpeechDur): speech starts when the
    /// speech probability reaches <see cref="ActivationOffset"/> + EnergyThreshold (clamped to [0.05, 0.95]) for
    /// <see cref="BaseMinSpeech"/> + MinSpeechDur; it ends below the activation minus <see cref="DeactivationGap"/>.
    /// Medium is Parley's default (0.5 / 0.35 / 96 ms); low 0.7 / 0.55 / 196 ms; high 0.4 / 0.25 / 96 ms.
    /// </summary>
    public static VadSegmenterOptions WithSensitivity(VadSegmenterOptions vad, double energyThreshold, int minSpeechDurMs)
    {
        var activation = (float)Math.Clamp(ActivationOffset + energyThreshold, 0.05, 0.95);
        return vad with
        {
            ActivationThreshold = activation,
            DeactivationThreshold = Math.Max(0.01f, activation - DeactivationGap),
            MinSpeechDuration = BaseMinSpeech + TimeSpan.FromMilliseconds(minSpeechDurMs),
        };
    }

    private static int? Int(JsonObject? o, string name) => o?[name] is JsonValue value && value.TryGetValue<int>(out var i) ? i
        : o?[name] is JsonValue d && d.TryGetValue<double>(out var x) && x == Math.Floor(x) ? (int)x : null;

    private static double? Number(JsonObject? o, string name) => o?[name] is JsonValue value && value.TryGetValue<double>(out var d) ? d : null;

    /// <summary>
    /// The interruption policy for <c>AdvancedConfig.InterruptMode</c> and the VAD sensitivity level: 1 → the agent
    /// finishes its reply and speech heard meanwhile is ignored; 0 (default) → barge-in, judged by
    /// <see cref="InterruptionPolicy.Parley"/> scaled by the level (<c>VAD.VoiceDetectConfig.SensitiveConfig.Level</c>
    /// over the ASR's <c>VADSensitiveLevel</c>): medium (0, default) and custom (3) 300 ms of speech, one word that is
    /// not a backchannel, a 1 s echo guard needing 600 ms; low (1, less sensitive) 400 ms, two words, 1.5 s guard needing
    /// 800 ms; high (2) 200 ms, one word, 0.6 s guard needing 400 ms. Priority "High" replies are uninterruptible on
    /// their own (the request's InterruptibleByUser).
    /// </summary>
    public static InterruptionPolicy ToInterruptionPolicy(int interruptMode, JsonObject? asr = null, JsonObject? vad = null)
    {
        if (interruptMode == 1)
        {
            return InterruptionPolicy.NoBargeIn;
        }

        var sensitive = (vad?["VoiceDetectConfig"] as JsonObject)?["SensitiveConfig"] as JsonObject;
        var level = Int(sensitive, "Level") ?? Int(asr, "VADSensitiveLevel") ?? 0;
        var parley = InterruptionPolicy.Parley;
        return level switch
        {
            1 => new InterruptionPolicy(true, TimeSpan.FromMilliseconds(400), 2)
            {
                Backchannels = parley.Backchannels,
                EchoGuard = TimeSpan.FromMilliseconds(1500),
                EchoGuardMinSpeech = TimeSpan.FromMilliseconds(800),
            },
            2 => new InterruptionPolicy(true, TimeSpan.FromMilliseconds(200), 1)
            {
                Backchannels = parley.Backchannels,
                EchoGuard = TimeSpan.FromMilliseconds(600),
                EchoGuardMinSpeech = TimeSpan.FromMilliseconds(400),
            },
            _ => parley,
        };
    }
}
