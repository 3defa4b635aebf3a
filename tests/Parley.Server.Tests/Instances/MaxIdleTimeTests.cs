using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Parley.Rtc.Rooms;
using Parley.Server.Api;
using Parley.Server.Instances;
using Parley.Server.Rooms;
using Parley.Testing;

namespace Parley.Server.Tests.Instances;

/// <summary>
/// <c>AdvancedConfig.MaxIdleTime</c> (shared-components.yaml, 2.6.6): the instance ends with 1202 once its own user
/// (the instance's <c>UserId</c>) has been absent from the room that long; other users in the room do not count.
/// The room connection is driven on a fake clock; the API part checks the field's range.
/// </summary>
public sealed class MaxIdleTimeTests(InstanceServerFixture fixture) : IClassFixture<InstanceServerFixture>
{
    private static readonly TestApp App = new(4500011, "c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5");

    private static async Task<(ParleyTestServer Server, IRoomManager Rooms, RoomAgentBinding Binding, FakeTimeProvider Time)> StartAsync()
    {
        var server = await ParleyTestServer.StartAsync([App]);
        var rooms = server.Services.GetRequiredService<IRoomManager>();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var binding = new RoomAgentBinding(rooms, Options.Create(new AgentRoomOptions()), time, NullLoggerFactory.Instance, server.Services);
        return (server, rooms, binding, time);
    }

    private static AgentRoomJoin Join(string room, string user, int? maxIdleSeconds) =>
        new(App.AppId, "inst_" + room, room, "agent_" + room, "agent_stream_" + room, "user_stream", user, maxIdleSeconds is { } s ? TimeSpan.FromSeconds(s) : null);

    [Fact]
    public async Task TheUserNeverJoins_TheRoomIsLostWith1202_AfterMaxIdleTime_NotBefore()
    {
        var (server, _, binding, time) = await StartAsync();
        await using var _ = server;
        await using var agent = await binding.JoinAsync(Join("absent", "owner", 10), CancellationToken.None);

        time.Advance(TimeSpan.FromSeconds(9.9));
        await Task.Delay(50);
        Assert.False(agent.Lost.IsCompleted, "lost before MaxIdleTime");
        time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.Equal(InstanceCodes.RoomIdle, await agent.Lost.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task OnlyTheInstancesOwnUserCounts_AndItsLeavingStartsTheClock()
    {
        var (server, rooms, binding, time) = await StartAsync();
        await using var _ = server;
        var room = RoomIds.Scoped(App.AppId, "present");
        await using var owner = await rooms.JoinAsync(room, "owner", isAgent: false, CancellationToken.None);
        await using var agent = await binding.JoinAsync(Join("present", "owner", 10), CancellationToken.None);

        // The owner is in the room: no idle clock at all.
        time.Advance(TimeSpan.FromSeconds(60));
        await Task.Delay(50);
        Assert.False(agent.Lost.IsCompleted, "lost while its user was in the room");

        // Another user stays, the owner leaves: 10 s later the room is lost.
        await using var other = await rooms.JoinAsync(room, "someone_else", isAgent: false, CancellationToken.None);
        await owner.DisposeAsync();
        await WaitUntilAsync(() => rooms.GetUsers(room).All(u => u.UserId != "owner"));
        await Task.Delay(100); // the agent's room-event watch sees the leave
        time.Advance(TimeSpan.FromSeconds(10.1));
        Assert.Equal(InstanceCodes.RoomIdle, await agent.Lost.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task WithoutMaxIdleTime_TheDeploymentsIdleTimeoutApplies()
    {
        var (server, _, binding, time) = await StartAsync();
        await using var _ = server;
        await using var agent = await binding.JoinAsync(Join("default", "owner", null), CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(119));
        await Task.Delay(50);
        Assert.False(agent.Lost.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(InstanceCodes.RoomIdle, await agent.Lost.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Theory]
    [InlineData("9")]
    [InlineData("1801")]
    [InlineData("\"60\"")]
    [InlineData("60.5")]
    public async Task OutOfRange_Is410000003NamingTheField(string value)
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["AdvancedConfig"] = JsonNode.Parse($$"""{"MaxIdleTime":{{value}}}""");
        var reply = await fixture.Api().CallAsync("CreateAgentInstance", body);
        Assert.True(reply.Code() == ReturnCodes.InvalidParameter, reply.ToString());
        Assert.Contains("AdvancedConfig.MaxIdleTime", reply.Message());

        body["AdvancedConfig"] = JsonNode.Parse("""{"MaxIdleTime":1800}""");
        var id = await fixture.CreateInstanceAsync(body);
        Assert.Equal(0, (await fixture.Api().CallAsync("DeleteAgentInstance", new { AgentInstanceId = id })).Code());
    }

    [Fact]
    public async Task AddAsrInfo_IsABoolean()
    {
        var body = fixture.CreateBody(await fixture.RegisterAgentAsync());
        body["AdvancedConfig"] = JsonNode.Parse("""{"AddASRInfo":"yes"}""");
        var reply = await fixture.Api().CallAsync("CreateAgentInstance", body);
        Assert.True(reply.Code() == ReturnCodes.InvalidParameter, reply.ToString());
        Assert.Contains("AdvancedConfig.AddASRInfo", reply.Message());
        body["AdvancedConfig"] = JsonNode.Parse("""{"AddASRInfo":true}""");
        var id = await fixture.CreateInstanceAsync(body);
        Assert.Equal(0, (await fixture.Api().CallAsync("DeleteAgentInstance", new { AgentInstanceId = id })).Code());
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }
}
