using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Rtc.Tokens;
using Parley.Server.Api;
using Parley.Testing;
using Parley.Testing.Rooms;

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

    [Fact]
    public async Task TheAgentStreamsExtraInfo_IsVisibleToRoomClients_InStreamAddedAndLoginResult()
    {
        var app = InstanceServerFixture.AppA;
        var room = fixture.Unique("xroom");
        var info = """{"avatar":"fox","lang":"en-US","note":"你好"}""";
        await using var early = await RoomTestClient.ConnectAsync(fixture.Server.BaseAddress);
        var token = Token04.Mint(app.AppId, "user_1", app.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System);
        Assert.Equal(0, (await early.LoginAsync(token, room, "user_1")).GetProperty("Code").GetInt32());

        var body = fixture.CreateBody(await fixture.RegisterAgentAsync(), streamId: fixture.Unique("xstream"));
        body["RTC"]!["RoomId"] = room;
        body["RTC"]!["StreamExtraInfo"] = info;
        var id = await fixture.CreateInstanceAsync(body);
        var streamId = body["RTC"]!["AgentStreamId"]!.GetValue<string>();

        // A client in the room sees it when the agent publishes…
        var added = await early.WaitForAsync(m => m.GetProperty("Type").GetString() == "StreamAdded" && m.GetProperty("StreamId").GetString() == streamId, TimeSpan.FromSeconds(10));
        Assert.Equal(info, added.GetProperty("ExtraInfo").GetString());

        // …and one that logs in later, in LoginResult's Streams.
        await using var late = await RoomTestClient.ConnectAsync(fixture.Server.BaseAddress);
        var login = await late.LoginAsync(Token04.Mint(app.AppId, "user_2", app.ServerSecret, TimeSpan.FromHours(1), "", TimeProvider.System), room, "user_2");
        var stream = login.GetProperty("Streams").EnumerateArray().Single(s => s.GetProperty("StreamId").GetString() == streamId);
        Assert.Equal(info, stream.GetProperty("ExtraInfo").GetString());
        AssertCode(0, await fixture.Api().CallAsync("DeleteAgentInstance", new { AgentInstanceId = id }));
    }
}
