namespace Parley.Server.Instances;

/// <summary>StartListening / StopListening (walkie-talkie mode): whose listening, and the client's sequence number.</summary>
[GenerateSerializer]
[Immutable]
public sealed class ListenCommand
{
    /// <summary>The user (null: the instance's user).</summary>
    [Id(0)] public string? UserId { get; init; }

    /// <summary>The client's Sequence (increases per user, alternating Start/Stop); null: processed in arrival order.</summary>
    [Id(1)] public long? Sequence { get; init; }
}
