using Parley.Server.Api;

namespace Parley.Server.Instances;

/// <summary>Walkie-talkie listening control (StartListening / StopListening).</summary>
internal sealed partial class AgentInstanceGrain
{
    // The newest honoured Sequence per user (StartListening and StopListening share one sequence).
    private readonly Dictionary<string, long> _listenSequences = new(StringComparer.Ordinal);

    public Task<InstanceReply> StartListeningAsync(ListenCommand command) => Task.FromResult(Listen(command, start: true));

    public Task<InstanceReply> StopListeningAsync(ListenCommand command) => Task.FromResult(Listen(command, start: false));

    private InstanceReply Listen(ListenCommand command, bool start)
    {
        if (!Live)
        {
            return NotLive();
        }

        var spec = _spec!;
        if (spec.CommunicationMode != ListeningActions.WalkieTalkieMode)
        {
            return InstanceReply.Error(ReturnCodes.NotWalkieTalkieMode,
                "the agent instance is not in walkie-talkie mode (AdvancedConfig.CommunicationMode 2): StartListening/StopListening are not allowed");
        }

        var userId = command.UserId ?? spec.UserId;
        if (!string.Equals(userId, spec.UserId, StringComparison.Ordinal))
        {
            return InstanceReply.Error(ReturnCodes.UserNotInRoom, $"UserId '{userId}' is not the user of this agent instance's room");
        }

        if (command.Sequence is { } sequence)
        {
            if (_listenSequences.TryGetValue(userId, out var newest) && sequence <= newest)
            {
                return InstanceReply.Error(ReturnCodes.StaleSequence,
                    $"Sequence {sequence} is not newer than the last one honoured for this user ({newest}): the request is ignored");
            }
        }

        try
        {
            if (start && !_host!.Agent.StartListening())
            {
                return InstanceReply.Error(ReturnCodes.UserNotPublishing, "the user has not started publishing audio yet: cannot start listening");
            }

            if (!start && !_host!.Agent.StopListening())
            {
                return InstanceReply.Error(ReturnCodes.StopListeningFailed, "stop listening failed");
            }
        }
        catch (ObjectDisposedException)
        {
            return InstanceReply.Error(start ? ReturnCodes.StartListeningFailed : ReturnCodes.StopListeningFailed,
                start ? "start listening failed: the agent is stopping" : "stop listening failed: the agent is stopping");
        }

        if (command.Sequence is { } honoured)
        {
            _listenSequences[userId] = honoured;
        }

        return new InstanceReply { Code = 0, Message = "success", Round = Session.LastRound };
    }
}
