using System.Net.WebSockets;
using Parley.Rtc.Rooms;
using Parley.Rtc.WebSockets;

namespace Parley.Rtc.Tests.WebSockets;

/// <summary>A Token04 without room_id opens any room; one user may be in at most Parley:Rtc:MaxRoomsPerUser at once.</summary>
public sealed class RtcRoomLimitTests
{
    private static async Task<(TestClient Client, int Code, string Message)> LoginAnyRoomAsync(RtcTestServer server, string roomId, string userId)
    {
        var client = await server.ConnectAsync();
        await client.SendJsonAsync(new { Type = "Login", Token = RtcTestServer.TokenFor(userId), RoomId = roomId, UserId = userId, AppId = RtcTestServer.AppId });
        var result = await client.ExpectAsync("LoginResult");
        return (client, result.GetProperty("Code").GetInt32(), result.GetProperty("Message").GetString()!);
    }

    [Fact]
    public async Task OneToken_OpensAtMostMaxRoomsPerUser_ThenLoginsAreRefused_UntilOneIsLeft()
    {
        await using var server = await RtcTestServer.StartAsync(o => o.MaxRoomsPerUser = 3);
        var clients = new List<TestClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var (client, code, _) = await LoginAnyRoomAsync(server, $"room{i}", "u1");
                clients.Add(client);
                Assert.Equal(0, code);
            }

            var (refused, refusedCode, message) = await LoginAnyRoomAsync(server, "room3", "u1");
            clients.Add(refused);
            Assert.Equal(RtcCodes.TooManyRooms, refusedCode);
            Assert.Contains("Parley:Rtc:MaxRoomsPerUser", message);
            Assert.Equal(3, server.Rooms.RoomCount);

            // Another user is not affected; the refused connection stays open and may log in elsewhere.
            var (other, otherCode, _) = await LoginAnyRoomAsync(server, "room3", "u2");
            clients.Add(other);
            Assert.Equal(0, otherCode);
            Assert.Equal(WebSocketState.Open, refused.Socket.State);

            // Logging in again to a room the user is in replaces that session: allowed at the limit.
            var (again, againCode, _) = await LoginAnyRoomAsync(server, "room1", "u1");
            clients.Add(again);
            Assert.Equal(0, againCode);
            await clients[1].ExpectAsync("Kicked");

            // Leaving a room frees a place (the observer sees u1 leave room0 once the server has removed it).
            var observer = await server.LoginAsync("room0", "watcher");
            clients.Add(observer);
            await clients[0].DisposeAsync();
            var left = await observer.ExpectAsync("UserLeft");
            Assert.Equal("u1", left.GetProperty("UserId").GetString());
            await refused.SendJsonAsync(new { Type = "Login", Token = RtcTestServer.TokenFor("u1"), RoomId = "room3", UserId = "u1", AppId = RtcTestServer.AppId });
            Assert.Equal(0, (await refused.ExpectAsync("LoginResult")).GetProperty("Code").GetInt32());
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task InProcessAgents_AreNotCounted()
    {
        await using var server = await RtcTestServer.StartAsync(o => o.MaxRoomsPerUser = 1);
        await using var a = await server.Rooms.JoinAsync(RoomIds.Scoped(RtcTestServer.AppId, "r1"), "agent", true, CancellationToken.None);
        await using var b = await server.Rooms.JoinAsync(RoomIds.Scoped(RtcTestServer.AppId, "r2"), "agent", true, CancellationToken.None);
        await using var client = await server.LoginAsync("r3", "agent");
        Assert.Equal(3, server.Rooms.RoomCount);
    }
}
