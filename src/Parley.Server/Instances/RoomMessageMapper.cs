using System.Text.Json.Nodes;
using Parley.Core.Sessions;

namespace Parley.Server.Instances;

/// <summary>
/// Turns session events into the in-room messages ZEGO's clients parse (spec 8.3): Cmd 4 agent text (deltas per
/// reply, <c>MessageId</c> per reply, an empty <c>EndFlag</c> message at the end), Cmd 6 agent status (0–3), and the
/// older Cmd 2 agent speak status (<c>SpeakStatus</c> 1 begin, 2 end) that ZEGO's quick-start web client reads.
/// Not thread-safe: one mapper per instance's event pump.
/// </summary>
internal sealed class RoomMessageMapper
{
    public const int AgentSpeakStatus = 2;
    public const int AgentText = 4;
    public const int AgentStatusCmd = 6;

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
                var wasSpeaking = _status == AgentStatus.Speaking;
                _status = change.Status;
                yield return (AgentStatusCmd, change.RoundId, new JsonObject { ["Status"] = (int)change.Status });
                if (wasSpeaking != (change.Status == AgentStatus.Speaking))
                {
                    yield return (AgentSpeakStatus, change.RoundId, new JsonObject { ["SpeakStatus"] = change.Status == AgentStatus.Speaking ? 1 : 2 });
                }

                break;
        }
    }

    /// <summary>SPEAK_BEGIN / SPEAK_END when the agent starts or stops speaking (AgentSpeakAction callback), else null.</summary>
    public string? SpeakingChanged(StatusChangedEvent change)
    {
        var speaking = change.Status == AgentStatus.Speaking;
        if (speaking == _speaking)
        {
            return null;
        }

        _speaking = speaking;
        return speaking ? "SPEAK_BEGIN" : "SPEAK_END";
    }

    private static JsonObject Text(long round, string text, bool end) => new()
    {
        ["Text"] = text,
        ["MessageId"] = round.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["EndFlag"] = end,
    };
}
