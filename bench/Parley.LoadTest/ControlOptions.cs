using System.Globalization;

namespace Parley.LoadTest;

/// <summary>What one control-plane run (<c>control</c> subcommand) does. Defaults are the documented command's.</summary>
public sealed record ControlOptions
{
    /// <summary>Instances created one after another (each measured alone, then deleted).</summary>
    public int Instances { get; init; } = 20;

    /// <summary>Instances created concurrently per burst; <see cref="Instances"/> are also created in bursts of this size (0 = no bursts).</summary>
    public int Burst { get; init; } = 4;

    /// <summary>Measured seconds of the status-query phase (0 = skip it).</summary>
    public int StatusSeconds { get; init; } = 10;

    /// <summary>Unmeasured warm-up seconds before the status phase.</summary>
    public int StatusWarmupSeconds { get; init; } = 2;

    /// <summary>Concurrent client loops querying QueryAgentInstanceStatus.</summary>
    public int Concurrency { get; init; } = 32;

    /// <summary>Live instances the status loops query (round robin).</summary>
    public int StatusInstances { get; init; } = 4;

    /// <summary>Pause between two measured creations (lets the previous instance's engines settle).</summary>
    public TimeSpan Pause { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A running server to target instead of starting one (its rate limit must be off for the status phase).</summary>
    public Uri? ServerUrl { get; init; }

    public int? ServerPid { get; init; }

    public uint AppId { get; init; } = 4100001;

    public string ServerSecret { get; init; } = "10ad10ad10ad10ad10ad10ad10ad10ad";

    public string? OutFile { get; init; }

    /// <summary>Where the started server's Parley.Server.dll is (defaults to next to this assembly).</summary>
    public string? ServerDll { get; init; }

    public const string Usage = """
        Parley control-plane benchmark (subcommand `control`): CreateAgentInstance → agent in the room, and signed
        QueryAgentInstanceStatus throughput, against a server process it starts (rate limit off, fake LLM).

          --instances K            instances created one after another, and again in bursts (default 20)
          --burst B                instances created concurrently per burst (default 4; 0 = no bursts)
          --status-seconds S       measured seconds of status queries (default 10; 0 = skip)
          --status-warmup S        unmeasured warm-up seconds before them (default 2)
          --concurrency C          concurrent status-query loops (default 32)
          --status-instances N     live instances the loops query (default 4)
          --pause-ms MS            pause between two measured creations (default 200)
          --server URL             target a running server (with --app-id, --secret; its rate limit must be off)
          --server-pid PID         that server's process id, for CPU
          --app-id ID --secret S   the app's credentials (a started server is configured with the defaults)
          --out FILE               write the JSON report to FILE
          --server-dll PATH        start this Parley.Server.dll (e.g. a ReadyToRun publish) instead of the one built beside the generator
        """;

    /// <summary>Parses the arguments after <c>control</c>; throws <see cref="ArgumentException"/> naming the bad option.</summary>
    public static ControlOptions Parse(IReadOnlyList<string> args)
    {
        var options = new ControlOptions();
        var reader = new ArgumentReader(args);
        while (reader.MoveNext())
        {
            var name = reader.Name;
            options = name switch
            {
                "--instances" => options with { Instances = reader.Int(1, 10000) },
                "--burst" => options with { Burst = reader.Int(0, 1000) },
                "--status-seconds" => options with { StatusSeconds = reader.Int(0, 3600) },
                "--status-warmup" => options with { StatusWarmupSeconds = reader.Int(0, 600) },
                "--concurrency" => options with { Concurrency = reader.Int(1, 4096) },
                "--status-instances" => options with { StatusInstances = reader.Int(1, 1000) },
                "--pause-ms" => options with { Pause = TimeSpan.FromMilliseconds(reader.Int(0, 60000)) },
                "--server" => options with { ServerUrl = reader.AbsoluteUri() },
                "--server-pid" => options with { ServerPid = reader.Int(1, int.MaxValue) },
                "--app-id" => options with { AppId = reader.UInt() },
                "--secret" => options with { ServerSecret = reader.Value() },
                "--out" => options with { OutFile = reader.Value() },
                "--server-dll" => options with { ServerDll = reader.Value() },
                _ => throw new ArgumentException($"unknown option '{name}'"),
            };
        }

        return options;
    }
}
