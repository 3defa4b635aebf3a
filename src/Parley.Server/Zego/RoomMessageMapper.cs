using System.Text.Json.Nodes;
using Parley.Core.Sessions;

namespace Parley.Server.Zego;

/// <summary>
/// Turns session events into the in-room messages ZEGO's clients parse (spec 8.3): Cmd 4 agent text (deltas per
/// reply, <c>MessageId</c> per reply, <c>UserId</c> the agent's user, <c>StartFlag</c> on the first, an empty
/// <c>EndFlag</c> message at the end), Cmd 6 agent status (0–3, with <c>OldStatus</c> and a <c>Reason</c> string), and the
/// older Cmd 2 agent speak status (<c>SpeakStatus</c> 1 begin, 2 end) that ZEGO's quick-start web client reads, Cmd 1 user
/// speak status (<c>SpeakStatus</c>, <c>UserId</c>) and Cmd 3 the user's transcript (full text each time, <c>UserId</c>,
/// <c>StartFlag</c> on the first of a MessageId, <c>EndFlag</c> on the final). <c>SeqId</c> is the room participant's
/// (one counter per sender, across all Cmds).
/// Not thread-safe: one mapper per instance's event pump.
/// </summary>
internal sealed class RoomMessageMapper(string userId, string agentUserId = "")
{
    /// <summary>Cmd 6 <c>Reason</c> values. ZEGO documents <c>llm_begin</c> and <c>tts_all_played</c>; the others are Parley's.</summary>
    public static class Reasons
    {
        public const string LlmBegin = "llm_begin";
        public const string TtsBegin = "tts_begin";
        public const string TtsAllPlayed = "tts_all_played";
        public const string Interrupted = "interrupted";
        public const string Error = "error";
        public const string Listening = "listening";
        public const string Idle = "idle";
    }

    public const int UserSpeakStatus = 1;
    public const int AgentSpeakStatus = 2;
    public const int UserAsrText = 3;
    public const int AgentText = 4;
    public const int AgentStatusCmd = 6;

    /// <summary>Cmd 102: LLMMetaInfo metadata (the SendMetaKeys part) as the sentence carrying it starts playing.</summary>
    public const int MetaInfoCmd = 102;

    private readonly string _userId = userId;
    private readonly string _agentUserId = agentUserId;

    private readonly HashSet<long> _openReplies = [];
    private readonly HashSet<string> _openTranscripts = [];
    private AgentStatus _status = AgentStatus.Idle;
    private string? _endedBy;
    private bool _speaking;

    /// <summary>The in-room message an event makes (at most one); false when it makes none.</summary>
    public bool TryMap(SessionEvent e, out (int Cmd, long Round, RoomMessageData Data) message)
    {
        switch (e)
        {
            case ReplyTextDeltaEvent delta:
                var start = _openReplies.Add(delta.RoundId);
                message = (AgentText, delta.RoundId, RoomMessageData.AgentText(delta.Delta, delta.RoundId, _agentUserId, start, end: false));
                return true;
            case ReplyFinishedEvent or InterruptedEvent or SessionErrorEvent:
                _endedBy = e switch
                {
                    InterruptedEvent => Reasons.Interrupted,
                    SessionErrorEvent => Reasons.Error,
                    _ => null,
                };
                if (_openReplies.Remove(e.RoundId))
                {
                    message = (AgentText, e.RoundId, RoomMessageData.AgentText("", e.RoundId, _agentUserId, start: false, end: true));
                    return true;
                }

                break;
            case StatusChangedEvent change when change.Status != _status:
                var old = _status;
                _status = change.Status;
                message = (AgentStatusCmd, change.RoundId, RoomMessageData.Status((int)change.Status, (int)old, Reason(old, change.Status)));
                return true;
            case AgentSpeakingChangedEvent agent when agent.Speaking != _speaking:
                _speaking = agent.Speaking;
                message = (AgentSpeakStatus, agent.RoundId, RoomMessageData.SpeakStatus(agent.Speaking ? 1 : 2));
                return true;
            case AgentMetaInfoEvent meta:
                message = (MetaInfoCmd, meta.RoundId, RoomMessageData.Object((JsonObject)meta.MetaInfo.DeepClone()));
                return true;
            case UserSpeakingChangedEvent user:
                message = (UserSpeakStatus, user.RoundId, RoomMessageData.UserSpeakStatus(user.Speaking ? 1 : 2, _userId));
                return true;
            case UserTranscriptEvent transcript:
                var first = _openTranscripts.Add(transcript.MessageId);
                if (transcript.IsFinal)
                {
                    _openTranscripts.Remove(transcript.MessageId);
                }

                message = (UserAsrText, transcript.RoundId, RoomMessageData.Transcript(transcript.Text, transcript.MessageId, _userId, first, transcript.IsFinal));
                return true;
        }

        message = default;
        return false;
    }

    /// <summary>Why the status changed: the documented reasons where they apply, else the new status.</summary>
    private string Reason(AgentStatus old, AgentStatus status)
    {
        var endedBy = _endedBy;
        _endedBy = null;
        return status switch
        {
            AgentStatus.Thinking => Reasons.LlmBegin,
            AgentStatus.Speaking => Reasons.TtsBegin,
            _ when old is AgentStatus.Thinking or AgentStatus.Speaking && endedBy is not null => endedBy,
            _ when old is AgentStatus.Speaking => Reasons.TtsAllPlayed,
            AgentStatus.Listening => Reasons.Listening,
            _ => Reasons.Idle,
        };
    }
}
