using Parley.Core.Sessions;

namespace Parley.Server.Instances;

/// <summary>What an instance joins: the room, the ids it appears under, and the stream it listens to.</summary>
public sealed record AgentRoomJoin(uint AppId, string InstanceId, string RoomId, string AgentUserId, string AgentStreamId, string UserStreamId, string UserId, string TtsJson);

/// <summary>The instance's presence in a room; disposing it leaves the room.</summary>
public interface IAgentRoomConnection : IAsyncDisposable
{
    /// <summary>Where the session's spoken text goes (TTS and publishing of <c>AgentStreamId</c>).</summary>
    ISpeechOutput SpeechOutput { get; }
}

/// <summary>
/// The seam between instances and the room server: joins the agent to its room (publishing <c>AgentStreamId</c>, playing
/// <c>UserStreamId</c>). Throw <see cref="AgentRoomException"/> with a contract code (1201, 1204, 1206, 1207) on failure.
/// </summary>
public interface IAgentRoomBinding
{
    ValueTask<IAgentRoomConnection> JoinAsync(AgentRoomJoin join, CancellationToken cancellationToken);
}

public sealed class AgentRoomException(int code, string message) : Exception(message)
{
    public int Code { get; } = code;
}

/// <summary>Used until the room server is plugged in: the join completes at once and speech is text only.</summary>
internal sealed class DetachedRoomBinding : IAgentRoomBinding
{
    public ValueTask<IAgentRoomConnection> JoinAsync(AgentRoomJoin join, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult<IAgentRoomConnection>(Connection.Instance);
    }

    private sealed class Connection : IAgentRoomConnection
    {
        public static readonly Connection Instance = new();

        public ISpeechOutput SpeechOutput => TextOnlySpeechOutput.Instance;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
