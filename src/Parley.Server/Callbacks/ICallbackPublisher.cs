using System.Text.Json.Nodes;

namespace Parley.Server.Callbacks;

/// <summary>
/// One callback event of the contract (spec 6.3/6.4) before delivery. The publisher adds AppId, Nonce, Timestamp (ms),
/// Sequence and Signature when it sends. <paramref name="AgentId"/> and <paramref name="Name"/> are the registered
/// agent's id and name (2.8.0: on every callback). <paramref name="HostTag"/> is the instance's
/// <c>CallbackConfig.HostTag</c>: which of the app's named callback URLs it goes to ("" = the app's CallbackUrl).
/// </summary>
public sealed record CallbackEvent(
    uint AppId,
    string Event,
    string AgentInstanceId,
    string AgentUserId,
    string RoomId,
    JsonObject Data,
    string AgentId = "",
    string Name = "",
    string HostTag = "");

/// <summary>Accepts callback events durably (outbox) for signed delivery to the app's CallbackUrl.</summary>
public interface ICallbackPublisher
{
    /// <summary>Returns once the event is durably stored; delivery happens in the background with retries.</summary>
    ValueTask PublishAsync(CallbackEvent callbackEvent, CancellationToken cancellationToken);
}

/// <summary>Callback event names (spec 6.4).</summary>
public static class CallbackEvents
{
    public const string AsrResult = "ASRResult";
    public const string LlmResult = "LLMResult";
    public const string Exception = "Exception";
    public const string Interrupted = "Interrupted";
    public const string UserSpeakAction = "UserSpeakAction";
    public const string AgentSpeakAction = "AgentSpeakAction";
    public const string AgentInstanceStatus = "AgentInstanceStatus";
    public const string UserAudioData = "UserAudioData";
    public const string AgentInstanceCreated = "AgentInstanceCreated";
    public const string AgentInstanceDeleted = "AgentInstanceDeleted";

    /// <summary>LLMMetaInfo: a sentence carrying metadata started playing (Data <c>{Round, MetaInfo}</c>).</summary>
    public const string AgentInstanceMetaInfo = "AgentInstanceMetaInfo";
}
