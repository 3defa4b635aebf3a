using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Server.Callbacks;

namespace Parley.Server.Zego;

/// <summary>
/// Turns session events into the contract's callbacks (event name and Data), honouring the instance's
/// <c>CallbackConfig</c> flags: AgentInstanceStatus, AgentSpeakAction (deprecated, still honoured), UserSpeakAction,
/// ASRResult, Interrupted and LLMResult are opt-in; AgentInstanceMetaInfo (LLMMetaInfo's SendMetaKeys, no flag) and Exception (1004, LLM 2201–2206, TTS 2301–2305) is always sent.
/// AgentInstanceStatus is sent once per change of status (a repeated status is no change).
/// Not thread-safe: one mapper per instance's callback lane.
/// </summary>
internal sealed class CallbackMapper(IReadOnlyDictionary<string, int> flags, string userId)
{
    private AgentStatus _status = AgentStatus.Idle;

    private bool On(string flag) => flags.TryGetValue(flag, out var v) && v == 1;

    public (string Event, JsonObject Data)? Map(SessionEvent e) => e switch
    {
        StatusChangedEvent change when change.Status != _status => StatusChanged(change),
        AgentSpeakingChangedEvent agent when On("AgentSpeakAction") =>
            (CallbackEvents.AgentSpeakAction, new JsonObject { ["Action"] = agent.Speaking ? "SPEAK_BEGIN" : "SPEAK_END" }),
        UserSpeakingChangedEvent user when On("UserSpeakAction") =>
            (CallbackEvents.UserSpeakAction, new JsonObject { ["UserId"] = userId, ["Action"] = user.Speaking ? "SPEAK_BEGIN" : "SPEAK_END", ["Round"] = user.RoundId }),
        UserTranscriptEvent { IsFinal: true } transcript when On("ASRResult") =>
            (CallbackEvents.AsrResult, new JsonObject { ["UserId"] = userId, ["Round"] = transcript.RoundId, ["Text"] = transcript.Text }),
        UserUtteranceEmptyEvent empty =>
            (CallbackEvents.Exception, new JsonObject { ["Code"] = 1004, ["Message"] = "speech was heard but recognition produced no text", ["Round"] = empty.RoundId }),
        InterruptedEvent interrupted when On("Interrupted") =>
            (CallbackEvents.Interrupted, new JsonObject { ["Round"] = interrupted.RoundId, ["Reason"] = (int)interrupted.Reason, ["PlayedText"] = interrupted.PlayedText }),
        ReplySentenceEvent sentence when On("LLMResult") =>
            (CallbackEvents.LlmResult, new JsonObject { ["Round"] = sentence.RoundId, ["Text"] = sentence.Text }),
        AgentMetaInfoEvent meta =>
            (CallbackEvents.AgentInstanceMetaInfo, new JsonObject { ["Round"] = meta.RoundId, ["MetaInfo"] = meta.MetaInfo.DeepClone() }),
        SessionErrorEvent error =>
            (CallbackEvents.Exception, new JsonObject { ["Code"] = ExceptionCode(error), ["Message"] = error.Message, ["Round"] = error.RoundId }),
        _ => null,
    };

    private (string Event, JsonObject Data)? StatusChanged(StatusChangedEvent change)
    {
        _status = change.Status;
        return On("AgentInstanceStatus")
            ? (CallbackEvents.AgentInstanceStatus, new JsonObject { ["Status"] = StatusName(change.Status), ["Round"] = change.RoundId })
            : null;
    }

    /// <summary>The contract's Exception code of a session error.</summary>
    public static int ExceptionCode(SessionErrorEvent error) => error.Source switch
    {
        SessionErrorSource.Speech => error.Kind switch
        {
            LlmErrorKind.InvalidParameter => 2302,
            LlmErrorKind.Authentication => 2303,
            LlmErrorKind.RateLimited => 2304,
            LlmErrorKind.Arrears => 2305,
            _ => 2301,
        },
        _ => error.Kind switch
        {
            LlmErrorKind.InvalidParameter => 2202,
            LlmErrorKind.Authentication => 2203,
            LlmErrorKind.RateLimited => 2204,
            LlmErrorKind.Arrears => 2205,
            LlmErrorKind.ContentRejected => 2206,
            _ => 2201,
        },
    };

    /// <summary>The contract's status name (DescribeAgentInstanceStatus).</summary>
    public static string StatusName(AgentStatus status) => status switch
    {
        AgentStatus.Listening => "LISTENING",
        AgentStatus.Thinking => "THINKING",
        AgentStatus.Speaking => "SPEAKING",
        _ => "IDLE",
    };
}
