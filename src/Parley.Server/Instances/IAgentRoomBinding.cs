using System.Text.Json.Nodes;
using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Media;
using Parley.Server.Zego;

namespace Parley.Server.Instances;

/// <summary>What an instance joins: the room, the ids it appears under, and the stream it listens to.</summary>
/// <param name="MaxIdle">
/// <c>AdvancedConfig.MaxIdleTime</c>: how long the instance's user (<paramref name="UserId"/>) may be absent from the
/// room before the instance ends with 1202; null = the deployment's <c>Parley:Rooms:IdleTimeout</c>.
/// </param>
/// <param name="StreamExtraInfo"><c>RTC.StreamExtraInfo</c>: the agent stream's extra info, shown to room clients ("" = none).</param>
public sealed record AgentRoomJoin(uint AppId, string InstanceId, string RoomId, string AgentUserId, string AgentStreamId, string UserStreamId, string UserId, TimeSpan? MaxIdle = null, string StreamExtraInfo = "");

/// <summary>The instance's presence in a room; disposing it leaves the room.</summary>
public interface IAgentRoomConnection : IAsyncDisposable
{
    /// <summary>The agent's published stream (<c>AgentStreamId</c>): where its speech is played.</summary>
    IAudioSink AgentAudio { get; }

    /// <summary>The user's stream (<c>UserStreamId</c>) as 20 ms frames of 16 kHz PCM16; each chunk is the reader's to dispose.</summary>
    ChannelReader<AudioChunk> UserAudio { get; }

    /// <summary>Completes with a contract code (1202 idle, 1203 kicked, 1205 disconnected) when the agent loses its room.</summary>
    Task<int> Lost { get; }

    /// <summary>Sends an in-room message (ZEGO <c>msg_content</c>: Timestamp, SeqId, Round, Cmd, Data) to the room's users.</summary>
    /// Returns false when the room refused or could not take it (the caller reports Exception 1208).
    ValueTask<bool> SendRoomMessageAsync(int cmd, long round, RoomMessageData data, CancellationToken cancellationToken);

    /// <summary>
    /// UpdateAgentInstance <c>RTC.UserStreamId</c>: stops playing the current user stream and plays <paramref name="streamId"/>
    /// (waiting for it when not published yet). <see cref="UserAudio"/> continues: the gap reads as silence, so an
    /// utterance in progress ends as on a pause.
    /// </summary>
    ValueTask SwitchUserStreamAsync(string streamId, CancellationToken cancellationToken);
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
