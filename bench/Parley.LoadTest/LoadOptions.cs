using System.Globalization;

namespace Parley.LoadTest;

/// <summary>What one load run does. Defaults are the documented command's.</summary>
public sealed record LoadOptions
{
    /// <summary>Concurrent simulated users, each with its own agent instance and room.</summary>
    public int Sessions { get; init; } = 1;

    /// <summary>Questions each user asks.</summary>
    public int Turns { get; init; } = 3;

    /// <summary>Share of turns (0..1) on which the user talks over the agent's answer.</summary>
    public double BargeInShare { get; init; } = 0.3;

    /// <summary>The fake LLM's fixed time to first token.</summary>
    public TimeSpan LlmFirstToken { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The fake LLM's time between later tokens.</summary>
    public TimeSpan LlmTokenInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Speech vendors: fake DashScope ones of fixed latency (default), or the real local engines.</summary>
    public VendorMode Vendors { get; init; } = VendorMode.Fake;

    /// <summary>
    /// Which fake vendors (<see cref="VendorMode.Fake"/>): <c>dashscope</c> (CosyVoice + Paraformer, the default),
    /// or a family of <see cref="CloudVendorFamilies.Names"/>; <c>local</c> with the local engines.
    /// </summary>
    public string VendorFamily { get; init; } = "dashscope";

    /// <summary>The fake ASR's delay from the end of an utterance (finish-task) to its final result.</summary>
    public TimeSpan AsrFinalDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The fake TTS's delay from a sentence's text to its first audio.</summary>
    public TimeSpan TtsFirstAudio { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Users start talking at random moments within this window after everyone joined.</summary>
    public TimeSpan TalkStartSpread { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>ASR.VADSilenceSegmentation given to the agent (the VAD's hang-over before a turn ends).</summary>
    public int VadSilenceMs { get; init; } = 500;

    /// <summary>A running server to target instead of starting one (then <see cref="AppId"/>/<see cref="ServerSecret"/> must be its app's).</summary>
    public Uri? ServerUrl { get; init; }

    /// <summary>The targeted server's process id, for CPU and memory (only with <see cref="ServerUrl"/>).</summary>
    public int? ServerPid { get; init; }

    public uint AppId { get; init; } = 4100001;

    public string ServerSecret { get; init; } = "10ad10ad10ad10ad10ad10ad10ad10ad";

    /// <summary>Where the started server's Parley.Server.dll is (defaults to next to this assembly).</summary>
    public string? ServerDll { get; init; }

    /// <summary>Environment variables set for the started server only (e.g. a GC setting tried on the server without changing the generator's).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ServerEnvironment { get; init; } = [];

    /// <summary>How long the server is sampled idle (no sessions, then N joined sessions) for CPU.</summary>
    public TimeSpan IdleSample { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Wait after every session joined before the idle sample (engines load lazily when an instance starts).</summary>
    public TimeSpan IdleSettle { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Seed for when users join (staggered over 0.5 s).</summary>
    public int Seed { get; init; } = 1;

    public string? OutFile { get; init; }

    /// <summary>Ask one untimed question before measuring (a running server has paid its one-time costs).</summary>
    public bool WarmUp { get; init; } = true;

    /// <summary>The started server's log level (default Warning); when set, its output is printed after the run.</summary>
    public string? ServerLogLevel { get; init; }

    /// <summary>Only join the sessions and sample the server while they stay connected and silent (the <c>idle</c> mode).</summary>
    public bool IdleOnly { get; init; }

    public const string Usage = """
        Parley load generator: N simulated users talk to agents over /rtc/ws. Silero VAD is always real; the LLM is a
        fake OpenAI-compatible server of fixed latency; ASR and TTS are fake DashScope vendors of fixed latency speaking
        their real WebSocket protocol (default), or the real local engines (pocketsphinx + flite) with --vendors local.

          --sessions N             concurrent users (default 1)
          --turns N                questions per user (default 3)
          --barge-in F             share of turns the user talks over the answer, 0..1 (default 0.3)
          --llm-first-token-ms MS  fake LLM time to first token (default 200)
          --llm-token-ms MS        fake LLM time between tokens (default 20)
          --vad-silence-ms MS      ASR.VADSilenceSegmentation (default 500)
          --vendors fake|local|volcengine|flowing|minimax|aliyun
                                   fake DashScope ASR/TTS of fixed latency (default, also "dashscope"), the real
                                   local engines, or another vendor family's fakes over its own protocol:
                                   volcengine = ByteDanceV3 + VolcSeedASR, flowing = ByteDanceFlowing (text streamed
                                   in) + VolcSeedASR, minimax = MiniMax + Tencent ASR, aliyun = Aliyun NLS + Azure ASR
          --asr-final-ms MS        fake ASR: end of utterance → final result (default 100)
          --tts-first-audio-ms MS  fake TTS: text → first audio (default 100)
          --talk-spread-ms MS      users start talking at random within this window (default 3000)
          --server URL             target a running server instead of starting one (with --app-id, --secret)
          --server-pid PID         that server's process id, for CPU/RSS
          --app-id ID --secret S   the app's credentials (a started server is configured with the defaults)
          --seed N                 random seed (default 1)
          --out FILE               write the JSON report to FILE
          --no-warmup              measure the server's very first conversation too (default: one untimed question first)
          --server-dll PATH        start this Parley.Server.dll (e.g. a ReadyToRun publish) instead of the one built beside the generator
          --server-env NAME=VALUE  set an environment variable for the started server only (repeatable; e.g. DOTNET_GCgen0size=0x4000000)
          --server-log LEVEL       the started server's log level (e.g. Information: one line per turn); printed after the run
          --idle-seconds S         how long the idle server is sampled, with no session and with N silent ones (default 3)

        Idle sessions (`idle` first): joins N sessions that stay connected and silent, and reports the server's CPU and
        RSS per idle session over its baseline (no warm-up question, no talking).
          idle --sessions 100 --idle-seconds 30 [--vendors fake|local]

        Capacity search (`capacity` first): runs the load at rising N, each on a fresh server, then bisects.
          capacity --steps 10,25,50,100,150,200 --resolution 10 --target-p95-ms 60 --measure after-vad|total [load options]
            --measure after-vad (default) judges Parley's own share after the VAD's end-of-speech decision; total judges
            the whole pipeline overhead, which also holds the VAD model's end-of-speech lag (~80–120 ms on flite speech)
        """;

    /// <summary>Parses command-line arguments; throws <see cref="ArgumentException"/> naming the bad option.</summary>
    public static LoadOptions Parse(IReadOnlyList<string> args)
    {
        var options = new LoadOptions();
        var reader = new ArgumentReader(args);
        while (reader.MoveNext())
        {
            var name = reader.Name;
            options = name switch
            {
                "--sessions" => options with { Sessions = reader.Int(1, 10000) },
                "--turns" => options with { Turns = reader.Int(1, 10000) },
                "--barge-in" => options with { BargeInShare = ParseShare(name, reader.Value()) },
                "--llm-first-token-ms" => options with { LlmFirstToken = TimeSpan.FromMilliseconds(reader.Int(0, 60000)) },
                "--llm-token-ms" => options with { LlmTokenInterval = TimeSpan.FromMilliseconds(reader.Int(0, 10000)) },
                "--vad-silence-ms" => options with { VadSilenceMs = reader.Int(200, 2000) },
                "--vendors" => reader.Value() switch
                {
                    "fake" or "dashscope" => options with { Vendors = VendorMode.Fake, VendorFamily = "dashscope" },
                    "local" => options with { Vendors = VendorMode.Local, VendorFamily = "local" },
                    var family when CloudVendorFamilies.Names.Contains(family) => options with { Vendors = VendorMode.Fake, VendorFamily = family },
                    var other => throw new ArgumentException($"--vendors must be fake (= dashscope), local or one of {string.Join(", ", CloudVendorFamilies.Names)}; got '{other}'"),
                },
                "--asr-final-ms" => options with { AsrFinalDelay = TimeSpan.FromMilliseconds(reader.Int(0, 60000)) },
                "--tts-first-audio-ms" => options with { TtsFirstAudio = TimeSpan.FromMilliseconds(reader.Int(0, 60000)) },
                "--talk-spread-ms" => options with { TalkStartSpread = TimeSpan.FromMilliseconds(reader.Int(0, 600000)) },
                "--server" => options with { ServerUrl = reader.AbsoluteUri() },
                "--server-pid" => options with { ServerPid = reader.Int(1, int.MaxValue) },
                "--app-id" => options with { AppId = reader.UInt() },
                "--secret" => options with { ServerSecret = reader.Value() },
                "--seed" => options with { Seed = reader.Int(int.MinValue, int.MaxValue) },
                "--out" => options with { OutFile = reader.Value() },
                "--no-warmup" => options with { WarmUp = false },
                "--server-log" => options with { ServerLogLevel = reader.Value() },
                "--server-dll" => options with { ServerDll = reader.Value() },
                "--server-env" => options with { ServerEnvironment = [.. options.ServerEnvironment, ParseEnvironment(name, reader.Value())] },
                "--idle-seconds" => options with { IdleSample = TimeSpan.FromSeconds(reader.Int(1, 3600)) },
                _ => throw new ArgumentException($"unknown option '{name}'"),
            };
        }

        return options;
    }

    private static KeyValuePair<string, string> ParseEnvironment(string name, string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        return equals > 0
            ? new(text[..equals], text[(equals + 1)..])
            : throw new ArgumentException($"{name} must be NAME=VALUE; got '{text}'");
    }

    private static double ParseShare(string name, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v is >= 0 and <= 1
            ? v
            : throw new ArgumentException($"{name} must be a number from 0 to 1, got '{text}'");
}
