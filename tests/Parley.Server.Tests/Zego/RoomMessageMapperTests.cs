using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Server.Zego;
using Xunit;

namespace Parley.Server.Tests.Zego;

public sealed class RoomMessageMapperTests
{
    private readonly RoomMessageMapper _mapper = new("user_1", "agent_user_1");

    private List<(int Cmd, long Round, JsonObject Data)> Map(params SessionEvent[] events) => [.. events.SelectMany(_mapper.Map)];

    private static void AssertData(string expected, JsonObject actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), actual.ToJsonString());

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
