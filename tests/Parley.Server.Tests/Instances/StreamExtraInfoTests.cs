using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Testing;

namespace Parley.Server.Tests.Instances;

/// <summary>CreateAgentInstance <c>RTC.StreamExtraInfo</c>: a string of at most 1024 bytes of UTF-8.</summary>
public sealed class StreamExtraInfoTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    [Fact]
    public async Task StreamExtraInfo_Over1024Bytes_OrNotAString_Is410000003NamingTheField()
    {
        var api = fixture.Api();
        var agent = await fixture.RegisterAgentAsync();

        // 342 three-byte characters: 1026 bytes, though only 342 characters.
        foreach (JsonNode bad in new JsonNode[] { JsonValue.Create(new string('你', 342)), JsonValue.Create(5) })
        {
            var body = fixture.CreateBody(agent);
            body["RTC"]!["StreamExtraInfo"] = bad;
            var reply = await api.CallAsync("CreateAgentInstance", body);
            AssertCode(ReturnCodes.InvalidParameter, reply);
            Assert.Contains("RTC.StreamExtraInfo", reply.Message());
        }

        var good = fixture.CreateBody(agent);
        good["RTC"]!["StreamExtraInfo"] = new string('x', 1024);
        var id = await fixture.CreateInstanceAsync(good);
        AssertCode(0, await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }
}
