using Parley.Server.Api;

namespace Parley.Server.Instances;

/// <summary>
/// Walkie-talkie mode (ZEGO 2.13, advanced/walkie-talkie-mode.mdx): <c>AdvancedConfig.CommunicationMode</c> on create,
/// and the StartListening / StopListening control actions (body <c>{AgentInstanceId, UserId?, Sequence?}</c>, reply
/// Data <c>{Round}</c>). Registered in <see cref="ControlActions.Map"/>; they work only through the request body and the
/// grain, so the room-channel agent actions can invoke them by name as well.
/// </summary>
public static class ListeningActions
{
    /// <summary>CommunicationMode 0: the user can speak at any time (the default).</summary>
    public const int FullDuplexMode = 0;

    /// <summary>CommunicationMode 2: the agent hears the user only between StartListening and StopListening.</summary>
    public const int WalkieTalkieMode = 2;

    /// <summary>Reads <c>AdvancedConfig.CommunicationMode</c> (0 or 2; absent = 0).</summary>
    public static int ReadCommunicationMode(RequestBody body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var mode = body.OptionalObject("AdvancedConfig")?.OptionalInteger("CommunicationMode", int.MinValue, int.MaxValue);
        return mode switch
        {
            null => FullDuplexMode,
            FullDuplexMode or WalkieTalkieMode => (int)mode.Value,
            _ => throw ApiException.InvalidParameter("AdvancedConfig.CommunicationMode must be 0 (full duplex) or 2 (walkie-talkie)"),
        };
    }

    /// <summary>StartListening.</summary>
    public static async ValueTask<object?> StartAsync(ActionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var instance = InstanceActions.Instance(context);
        var reply = await instance.StartListeningAsync(ReadCommand(context.Body));
        InstanceActions.Check(reply);
        return new { reply.Round };
    }

    /// <summary>StopListening.</summary>
    public static async ValueTask<object?> StopAsync(ActionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var instance = InstanceActions.Instance(context);
        var reply = await instance.StopListeningAsync(ReadCommand(context.Body));
        InstanceActions.Check(reply);
        return new { reply.Round };
    }

    private static ListenCommand ReadCommand(RequestBody body)
    {
        var userId = body.OptionalString("UserId", 32);
        if (userId is { Length: 0 })
        {
            throw ApiException.InvalidParameter("UserId must not be empty");
        }

        return new ListenCommand { UserId = userId, Sequence = body.OptionalInteger("Sequence") };
    }
}
