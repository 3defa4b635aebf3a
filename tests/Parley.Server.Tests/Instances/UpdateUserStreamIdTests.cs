using System.Text.Json;
using Parley.Server.Api;
using Parley.Testing;

namespace Parley.Server.Tests.Instances;

/// <summary>UpdateAgentInstance <c>RTC.UserStreamId</c> is checked like at create: ≤128 bytes, digits, letters, <c>_</c>, <c>-</c>, <c>.</c>.</summary>
public sealed class UpdateUserStreamIdTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    [Fact]
    public async Task BadUserStreamId_Is410000003NamingTheField_AGoodOneIsAccepted()
    {
        var api = fixture.Api();
        var id = await fixture.CreateInstanceAsync(fixture.CreateBody(await fixture.RegisterAgentAsync()));
        foreach (object bad in new object[] { "bad id!", new string('s', 129), 5 })
        {
            var reply = await api.CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, RTC = new { UserStreamId = bad } });
            AssertCode(ReturnCodes.InvalidParameter, reply);
            Assert.Contains("RTC.UserStreamId", reply.Message());
        }

        AssertCode(0, await api.CallAsync("UpdateAgentInstance", new { AgentInstanceId = id, RTC = new { UserStreamId = "user_stream_2" } }));
        AssertCode(0, await api.CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }
}
