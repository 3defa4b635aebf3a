using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Server.Callbacks;
using Parley.Server.Zego;
using Xunit;

namespace Parley.Server.Tests.Zego;

public sealed class CallbackMapperTests
{
    private static CallbackMapper Mapper(params string[] on) => new(on.ToDictionary(f => f, _ => 1), "user_1");

    private static void AssertData(string expected, JsonObject actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), actual.ToJsonString());

    [Theory]
    [InlineData(LlmErrorKind.General, 2301)]
    [InlineData(LlmErrorKind.InvalidParameter, 2302)]
    [InlineData(LlmErrorKind.Authentication, 2303)]
    [InlineData(LlmErrorKind.RateLimited, 2304)]
    [InlineData(LlmErrorKind.Arrears, 2305)]
    public void SpeechErrors_MapToTheContractsTtsCodes(LlmErrorKind kind, int code)
    {
        var error = new SessionErrorEvent(3, SessionErrorSource.Speech, kind, "Speech output failed: the vendor said no");
        Assert.Equal(code, CallbackMapper.ExceptionCode(error));
        Assert.Equal(code, Mapper().Map(error)!.Value.Data["Code"]!.GetValue<int>());
    }

    [Fact]
    public void Interrupted_CarriesPlayedText()
    {
        var mapped = Mapper("Interrupted").Map(new InterruptedEvent(7, InterruptReason.UserSpeech) { PlayedText = "The weather is great today" });

        Assert.Equal(CallbackEvents.Interrupted, mapped!.Value.Event);
        AssertData("""{"Round":7,"Reason":1,"PlayedText":"The weather is great today"}""", mapped.Value.Data);
    }

    [Fact]
    public void Interrupted_BeforeAnythingPlayed_HasEmptyPlayedText()
    {
        var mapped = Mapper("Interrupted").Map(new InterruptedEvent(7, InterruptReason.Manual));

        Assert.Equal("", mapped!.Value.Data["PlayedText"]!.GetValue<string>());
    }

    [Fact]
    public void UserSpeakAction_CarriesRound()
    {
        var mapped = Mapper("UserSpeakAction").Map(new UserSpeakingChangedEvent(12, true));

        AssertData("""{"UserId":"user_1","Action":"SPEAK_BEGIN","Round":12}""", mapped!.Value.Data);
    }

    [Fact]
    public void Exceptions_CarryTheirRound()
    {
        var mapper = Mapper();

        Assert.Equal(5, mapper.Map(new UserUtteranceEmptyEvent(5))!.Value.Data["Round"]!.GetValue<long>());
        Assert.Equal(6, mapper.Map(new SessionErrorEvent(6, SessionErrorSource.Llm, LlmErrorKind.RateLimited, "slow down"))!.Value.Data["Round"]!.GetValue<long>());
    }

    [Fact]
    public void AgentInstanceStatus_OnEachChange_WhenOn()
    {
        var mapper = Mapper("AgentInstanceStatus");

        var listening = mapper.Map(new StatusChangedEvent(3, AgentStatus.Listening));
        var repeated = mapper.Map(new StatusChangedEvent(3, AgentStatus.Listening));
        var thinking = mapper.Map(new StatusChangedEvent(3, AgentStatus.Thinking));
        var speaking = mapper.Map(new StatusChangedEvent(3, AgentStatus.Speaking));
        var idle = mapper.Map(new StatusChangedEvent(3, AgentStatus.Idle));

        Assert.Equal(CallbackEvents.AgentInstanceStatus, listening!.Value.Event);
        AssertData("""{"Status":"LISTENING","Round":3}""", listening.Value.Data);
        Assert.Null(repeated);
        Assert.Equal("THINKING", thinking!.Value.Data["Status"]!.GetValue<string>());
        Assert.Equal("SPEAKING", speaking!.Value.Data["Status"]!.GetValue<string>());
        Assert.Equal("IDLE", idle!.Value.Data["Status"]!.GetValue<string>());
    }

    [Fact]
    public void AgentInstanceStatus_Off_SendsNothing_AndAgentSpeakActionIsStillHonoured()
    {
        var mapper = Mapper("AgentSpeakAction");

        Assert.Null(mapper.Map(new StatusChangedEvent(3, AgentStatus.Speaking)));
        var speak = mapper.Map(new AgentSpeakingChangedEvent(3, true));
        Assert.Equal(CallbackEvents.AgentSpeakAction, speak!.Value.Event);
        AssertData("""{"Action":"SPEAK_BEGIN"}""", speak.Value.Data);
    }
}
