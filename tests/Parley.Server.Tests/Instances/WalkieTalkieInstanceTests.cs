using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Server.Api;
using Parley.Server.Callbacks;
using Parley.Testing;

namespace Parley.Server.Tests.Instances;

/// <summary>
/// Walkie-talkie mode through the API: <c>AdvancedConfig.CommunicationMode</c> on create, and StartListening /
/// StopListening with their codes (410001042 full duplex, 410001043 stale Sequence, 410001016 another user,
/// 410000003 bad fields, 410001002 unknown instance) and <c>Data.Round</c>.
/// </summary>
public sealed class WalkieTalkieInstanceTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private static void AssertCode(int expected, JsonElement reply) => Assert.True(reply.Code() == expected, $"expected {expected}: {reply}");

    private async Task<string> CreateAsync(int? mode)
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        if (mode is { } m)
        {
            body["AdvancedConfig"] = new JsonObject { ["CommunicationMode"] = m };
        }

        var id = await fixture.CreateInstanceAsync(body);
        await fixture.Callbacks.WaitForAsync(id, CallbackEvents.AgentInstanceCreated);
        return id;
    }

    private Task<JsonElement> CallAsync(string action, object body) => fixture.Api().CallAsync(action, body);

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(-1)]
    public async Task CommunicationMode_OtherThan0Or2_IsInvalid_NamingTheField(int mode)
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["AdvancedConfig"] = new JsonObject { ["CommunicationMode"] = mode };
        var reply = await CallAsync("CreateAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("AdvancedConfig.CommunicationMode", reply.Message());
    }

    [Fact]
    public async Task CommunicationMode_NotAnInteger_IsInvalid()
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["AdvancedConfig"] = new JsonObject { ["CommunicationMode"] = "2" };
        var reply = await CallAsync("CreateAgentInstance", body);
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("AdvancedConfig.CommunicationMode", reply.Message());
    }

    [Theory]
    [InlineData(null)]
    [InlineData(0)]
    public async Task FullDuplex_RefusesListeningControl_With410001042(int? mode)
    {
        var id = await CreateAsync(mode);
        AssertCode(ReturnCodes.NotWalkieTalkieMode, await CallAsync("StartListening", new { AgentInstanceId = id }));
        AssertCode(ReturnCodes.NotWalkieTalkieMode, await CallAsync("StopListening", new { AgentInstanceId = id, Sequence = 2 }));
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task WalkieTalkie_StartThenStop_Succeed_WithARound()
    {
        var id = await CreateAsync(2);
        var start = await CallAsync("StartListening", new { AgentInstanceId = id, Sequence = 1 });
        AssertCode(0, start);
        Assert.True(start.Data().GetProperty("Round").GetInt64() > 0, start.ToString());
        await fixture.WaitForStatusAsync(id, "IDLE");

        var stop = await CallAsync("StopListening", new { AgentInstanceId = id, UserId = "user_1", Sequence = 2 });
        AssertCode(0, stop);
        Assert.Equal(JsonValueKind.Number, stop.Data().GetProperty("Round").ValueKind);

        // Without a Sequence: processed in arrival order.
        AssertCode(0, await CallAsync("StartListening", new { AgentInstanceId = id }));
        AssertCode(0, await CallAsync("StopListening", new { AgentInstanceId = id }));
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task StaleOrDuplicateSequence_Is410001043_AndANewerOneIsHonoured()
    {
        var id = await CreateAsync(2);
        AssertCode(0, await CallAsync("StartListening", new { AgentInstanceId = id, Sequence = 5 }));
        AssertCode(ReturnCodes.StaleSequence, await CallAsync("StartListening", new { AgentInstanceId = id, Sequence = 5 }));
        AssertCode(ReturnCodes.StaleSequence, await CallAsync("StopListening", new { AgentInstanceId = id, Sequence = 4 }));

        // Start after Start with a higher Sequence (the Stop in between was lost): honoured, still listening.
        AssertCode(0, await CallAsync("StartListening", new { AgentInstanceId = id, Sequence = 7 }));
        AssertCode(0, await CallAsync("StopListening", new { AgentInstanceId = id, Sequence = 8 }));
        AssertCode(ReturnCodes.StaleSequence, await CallAsync("StopListening", new { AgentInstanceId = id, Sequence = 8 }));
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Fact]
    public async Task AnotherUser_Is410001016()
    {
        var id = await CreateAsync(2);
        var reply = await CallAsync("StartListening", new { AgentInstanceId = id, UserId = "someone_else" });
        AssertCode(ReturnCodes.UserNotInRoom, reply);
        Assert.Contains("someone_else", reply.Message());
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Theory]
    [InlineData("StartListening")]
    [InlineData("StopListening")]
    public async Task MissingOrInvalidFields_Are410000003_NamingTheField(string action)
    {
        var id = await CreateAsync(2);
        var reply = await CallAsync(action, new { Sequence = 1 });
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("AgentInstanceId", reply.Message());

        reply = await CallAsync(action, new { AgentInstanceId = id, Sequence = "1" });
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("Sequence", reply.Message());

        reply = await CallAsync(action, new { AgentInstanceId = id, Sequence = 1.5 });
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("Sequence", reply.Message());

        reply = await CallAsync(action, new { AgentInstanceId = id, UserId = 7 });
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("UserId", reply.Message());

        reply = await CallAsync(action, new { AgentInstanceId = id, UserId = "" });
        AssertCode(ReturnCodes.InvalidParameter, reply);
        Assert.Contains("UserId", reply.Message());
        AssertCode(0, await CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }

    [Theory]
    [InlineData("StartListening")]
    [InlineData("StopListening")]
    public async Task UnknownInstance_IsNotFound(string action)
    {
        AssertCode(ReturnCodes.InstanceNotFound, await CallAsync(action, new { AgentInstanceId = "no_such_instance", Sequence = 1 }));
    }
}
