using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Server.Zego;
using Xunit;

namespace Parley.Server.Tests.Zego;

public sealed class RoomMessageMapperTests
{
    private readonly RoomMessageMapper _mapper = new("user_1", "agent_user_1");

    private List<(int Cmd, long Round, RoomMessageData Data)> Map(params SessionEvent[] events) => Map(_mapper, events);

    internal static List<(int Cmd, long Round, RoomMessageData Data)> Map(RoomMessageMapper mapper, params SessionEvent[] events)
    {
        var messages = new List<(int Cmd, long Round, RoomMessageData Data)>();
        foreach (var e in events)
        {
            if (mapper.TryMap(e, out var message))
            {
                messages.Add(message);
            }
        }

        return messages;
    }

    private static void AssertData(string expected, RoomMessageData actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual.ToJsonString())), actual.ToJsonString());

    [Fact]
    public void Data_IsWrittenByteForByteAsTheJsonNodesItReplaced()
    {
        // Written straight to JSON now: the same members, order and escaping as the JsonObject each Cmd was built as.
        const string Tricky = "say \"hé\" <b>&\n\u2028 😀";
        Assert.Equal(
            new JsonObject { ["Text"] = Tricky, ["MessageId"] = "42", ["UserId"] = "agent_user_1", ["StartFlag"] = true, ["EndFlag"] = false }.ToJsonString(),
            RoomMessageData.AgentText(Tricky, 42, "agent_user_1", start: true, end: false).ToJsonString());
        Assert.Equal(
            new JsonObject { ["Text"] = Tricky, ["MessageId"] = "m-1", ["UserId"] = "user_1", ["StartFlag"] = false, ["EndFlag"] = true }.ToJsonString(),
            RoomMessageData.Transcript(Tricky, "m-1", "user_1", start: false, end: true).ToJsonString());
        Assert.Equal(
            new JsonObject { ["Status"] = 3, ["OldStatus"] = 2, ["Reason"] = "tts_begin" }.ToJsonString(),
            RoomMessageData.Status(3, 2, "tts_begin").ToJsonString());
        Assert.Equal(new JsonObject { ["SpeakStatus"] = 2 }.ToJsonString(), RoomMessageData.SpeakStatus(2).ToJsonString());
        Assert.Equal(new JsonObject { ["SpeakStatus"] = 1, ["UserId"] = "user_1" }.ToJsonString(), RoomMessageData.UserSpeakStatus(1, "user_1").ToJsonString());
        Assert.Contains("\"MessageId\":\"-9223372036854775808\"", RoomMessageData.AgentText("", long.MinValue, "a", false, false).ToJsonString()); // the longest round
    }

    [Fact]
    public void Cmd3_CarriesTheUser_AndStartFlagOnTheFirstOfAMessageId()
    {
        var messages = Map(
            new UserTranscriptEvent(4, "m1", "hel", false),
            new UserTranscriptEvent(4, "m1", "hello", false),
            new UserTranscriptEvent(4, "m1", "hello there", true),
            new UserTranscriptEvent(5, "m2", "again", true));

        Assert.All(messages, m => Assert.Equal(RoomMessageMapper.UserAsrText, m.Cmd));
        AssertData("""{"Text":"hel","MessageId":"m1","UserId":"user_1","StartFlag":true,"EndFlag":false}""", messages[0].Data);
        AssertData("""{"Text":"hello","MessageId":"m1","UserId":"user_1","StartFlag":false,"EndFlag":false}""", messages[1].Data);
        AssertData("""{"Text":"hello there","MessageId":"m1","UserId":"user_1","StartFlag":false,"EndFlag":true}""", messages[2].Data);
        AssertData("""{"Text":"again","MessageId":"m2","UserId":"user_1","StartFlag":true,"EndFlag":true}""", messages[3].Data);
    }

    [Fact]
    public void Cmd4_CarriesTheAgentUser_AndStartFlagOnTheFirstDelta()
    {
        var messages = Map(
            new ReplyTextDeltaEvent(9, "Hi"),
            new ReplyTextDeltaEvent(9, " there"),
            new ReplyFinishedEvent(9, "Hi there"));

        Assert.All(messages, m => Assert.Equal(RoomMessageMapper.AgentText, m.Cmd));
        AssertData("""{"Text":"Hi","MessageId":"9","UserId":"agent_user_1","StartFlag":true,"EndFlag":false}""", messages[0].Data);
        AssertData("""{"Text":" there","MessageId":"9","UserId":"agent_user_1","StartFlag":false,"EndFlag":false}""", messages[1].Data);
        AssertData("""{"Text":"","MessageId":"9","UserId":"agent_user_1","StartFlag":false,"EndFlag":true}""", messages[2].Data);
    }

    [Fact]
    public void Cmd6_CarriesOldStatusAndReason()
    {
        var statuses = Map(
            new StatusChangedEvent(1, AgentStatus.Listening),
            new StatusChangedEvent(1, AgentStatus.Thinking),
            new StatusChangedEvent(1, AgentStatus.Speaking),
            new ReplyFinishedEvent(1, "done"),
            new StatusChangedEvent(1, AgentStatus.Idle),
            new StatusChangedEvent(2, AgentStatus.Thinking),
            new InterruptedEvent(2, InterruptReason.Manual),
            new StatusChangedEvent(2, AgentStatus.Listening),
            new StatusChangedEvent(3, AgentStatus.Thinking),
            new SessionErrorEvent(3, SessionErrorSource.Llm, LlmErrorKind.General, "boom"),
            new StatusChangedEvent(3, AgentStatus.Idle))
            .Where(m => m.Cmd == RoomMessageMapper.AgentStatusCmd).Select(m => m.Data).ToList();

        AssertData("""{"Status":1,"OldStatus":0,"Reason":"listening"}""", statuses[0]);
        AssertData("""{"Status":2,"OldStatus":1,"Reason":"llm_begin"}""", statuses[1]);
        AssertData("""{"Status":3,"OldStatus":2,"Reason":"tts_begin"}""", statuses[2]);
        AssertData("""{"Status":0,"OldStatus":3,"Reason":"tts_all_played"}""", statuses[3]);
        AssertData("""{"Status":2,"OldStatus":0,"Reason":"llm_begin"}""", statuses[4]);
        AssertData("""{"Status":1,"OldStatus":2,"Reason":"interrupted"}""", statuses[5]);
        AssertData("""{"Status":2,"OldStatus":1,"Reason":"llm_begin"}""", statuses[6]);
        AssertData("""{"Status":0,"OldStatus":2,"Reason":"error"}""", statuses[7]);
    }
}
