using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Server.Callbacks;
using Parley.Server.Zego;
using Xunit;

namespace Parley.Server.Tests.Zego;

/// <summary>LLMMetaInfo to the client: room Cmd 102 (Data = the MetaInfo) and callback AgentInstanceMetaInfo (no flag needed).</summary>
public sealed class MetaInfoMappingTests
{
    [Fact]
    public void MetaInfo_IsCmd102_WithTheMetaInfoAsData()
    {
        var meta = new JsonObject { ["action"] = "wave" };
        var message = Assert.Single(RoomMessageMapperTests.Map(new RoomMessageMapper("user_1", "agent_user_1"), new AgentMetaInfoEvent(12, meta)));

        Assert.Equal(102, message.Cmd);
        Assert.Equal(12, message.Round);
        Assert.Equal("""{"action":"wave"}""", message.Data.ToJsonString());
    }

    [Fact]
    public void MetaInfo_IsTheAgentInstanceMetaInfoCallback_WithRoundAndMetaInfo()
    {
        var meta = new JsonObject { ["action"] = "wave" };
        var e = new AgentMetaInfoEvent(12, meta);

        // Both lanes map the same event: each gets its own copy (a JSON node has one parent).
        _ = RoomMessageMapperTests.Map(new RoomMessageMapper("user_1", "agent_user_1"), e);
        var mapped = new CallbackMapper(new Dictionary<string, int>(), "user_1").Map(e);

        Assert.Equal(CallbackEvents.AgentInstanceMetaInfo, mapped!.Value.Event);
        Assert.Equal("""{"Round":12,"MetaInfo":{"action":"wave"}}""", mapped.Value.Data.ToJsonString());
    }
}
