using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Server.Callbacks;

namespace Parley.Server.Zego;

/// <summary>
/// Turns session events into the contract's callbacks (event name and Data), honouring the instance's
/// <c>CallbackConfig</c> flags: AgentSpeakAction, UserSpeakAction, ASRResult, Interrupted and LLMResult are opt-in;
/// Exception (1004, LLM 2201–2206, TTS 2301) is always sent.
/// </summary>
internal sealed class CallbackMapper(IReadOnlyDictionary<string, int> flags, string userId)
{
    private bool On(string flag) => flags.TryGetValue(flag, out var v) && v == 1;

    public (string Event, JsonObject Data)? Map(SessionEvent e) => e switch
    {
        AgentSpeakingChangedEvent agent when On("AgentSpeakAction") =>
            (CallbackEvents.AgentSpeakAction, new JsonObject { ["Action"] = agent.Speaking ? "SPEAK_BEGIN" : "SPEAK_END" }),
        UserSpeakingChangedEvent user when On("UserSpeakAction") =>
            (CallbackEvents.UserSpeakAction, new JsonObject { ["UserId"] = userId, ["Action"] = user.Speaking ? "SPEAK_BEGIN" : "SPEAK_END" }),
        UserTranscriptEvent { IsFinal: true } transcript when On("ASRResult") =>
            (CallbackEvents.AsrResult, new JsonObject { ["UserId"] = userId, ["Round"] = transcript.RoundId, ["Text"] = transcript.Text }),
        UserUtteranceEmptyEvent empty =>
            (CallbackEvents.Exception, new JsonObject { ["Code"] = 1004, ["Message"] = "speech was heard but recognition produced no text", ["Round"] = empty.RoundId }),
        InterruptedEvent interrupted when On("Interrupted") =>
            (CallbackEvents.Interrupted, new JsonObject { ["Round"] = interrupted.RoundId, ["Reason"] = (int)interrupted.Reason }),
        ReplySentenceEvent sentence when On("LLMResult") =>
            (CallbackEvents.LlmResult, new JsonObject { ["Round"] = sentence.RoundId, ["Text"] = sentence.Text }),
        SessionErrorEvent error =>
            (CallbackEvents.Exception, new JsonObject { ["Code"] = ExceptionCode(error), ["Message"] = error.Message, ["Round"] = error.RoundId }),
        _ => null,
    };

    /// <summary>The contract's Exception code of a session error.</summary>
    public static int ExceptionCode(SessionErrorEvent error) => error.Source switch
    {
        SessionErrorSource.Speech => 2301,
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
