using System.Text.Json.Nodes;
using Parley.Core.Sessions;

namespace Parley.Server.Zego;

/// <summary>
/// Turns session events into the in-room messages ZEGO's clients parse (spec 8.3): Cmd 4 agent text (deltas per
/// reply, <c>MessageId</c> per reply, an empty <c>EndFlag</c> message at the end), Cmd 6 agent status (0–3), and the
/// older Cmd 2 agent speak status (<c>SpeakStatus</c> 1 begin, 2 end) that ZEGO's quick-start web client reads, Cmd 1 user
/// speak status (<c>SpeakStatus</c>, <c>UserId</c>) and Cmd 3 the user's transcript (full text each time, <c>EndFlag</c> on the final).
/// Not thread-safe: one mapper per instance's event pump.
/// </summary>
internal sealed class RoomMessageMapper(string userId)
{
    public const int UserSpeakStatus = 1;
    public const int AgentSpeakStatus = 2;
    public const int UserAsrText = 3;
    public const int AgentText = 4;
    public const int AgentStatusCmd = 6;

    private readonly string _userId = userId;

    private readonly HashSet<long> _openReplies = [];
    private AgentStatus _status = AgentStatus.Idle;
    private bool _speaking;

    public IEnumerable<(int Cmd, long Round, JsonObject Data)> Map(SessionEvent e)
    {
        switch (e)
        {
            case ReplyTextDeltaEvent delta:
                _openReplies.Add(delta.RoundId);
                yield return (AgentText, delta.RoundId, Text(delta.RoundId, delta.Delta, end: false));
                break;
            case ReplyFinishedEvent or InterruptedEvent or SessionErrorEvent when _openReplies.Remove(e.RoundId):
                yield return (AgentText, e.RoundId, Text(e.RoundId, "", end: true));
                break;
            case StatusChangedEvent change when change.Status != _status:
                _status = change.Status;
                yield return (AgentStatusCmd, change.RoundId, new JsonObject { ["Status"] = (int)change.Status });
                break;
            case AgentSpeakingChangedEvent agent when agent.Speaking != _speaking:
                _speaking = agent.Speaking;
                yield return (AgentSpeakStatus, agent.RoundId, new JsonObject { ["SpeakStatus"] = agent.Speaking ? 1 : 2 });
                break;
            case UserSpeakingChangedEvent user:
                yield return (UserSpeakStatus, user.RoundId, new JsonObject { ["SpeakStatus"] = user.Speaking ? 1 : 2, ["UserId"] = _userId });
                break;
            case UserTranscriptEvent transcript:
                yield return (UserAsrText, transcript.RoundId, new JsonObject { ["Text"] = transcript.Text, ["MessageId"] = transcript.MessageId, ["EndFlag"] = transcript.IsFinal });
                break;
        }
    }

    private static JsonObject Text(long round, string text, bool end) => new()
    {
        ["Text"] = text,
        ["MessageId"] = round.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["EndFlag"] = end,
    };
}
