using System.Net.WebSockets;
using Parley.Rtc.WebSockets;

namespace Parley.Rtc.Tests.WebSockets;

/// <summary>
/// Control messages with strings that cannot be read as text (unpaired surrogate escapes) or fields given twice: each
/// is answered with <c>Error</c> naming the field, and the connection stays usable (docs/protocol.md §6).
/// </summary>
public sealed class RtcInputTextTests
{
    public static TheoryData<string, string> BadMessages => new()
    {
        { """{"Type":"Login","Token":"04\ud800","RoomId":"room1","UserId":"u1"}""", "Token contains an unpaired surrogate escape" },
        { """{"Type":"Login","Token":"x","RoomId":"r\udc00","UserId":"u1"}""", "RoomId contains an unpaired surrogate escape" },
        { """{"Type":"\ud800"}""", "Type contains an unpaired surrogate escape" },
        { """{"Type":"Ping","Extra":["ok","\udfff"]}""", "Extra[1] contains an unpaired surrogate escape" },
        { """{"Type":"Login","Type":"Ping"}""", "Type is given twice" },
        { """{"Type":"Ping","\ud83d":1}""", "a field name in the message contains an unpaired surrogate escape" },
    };

    [Theory]
    [MemberData(nameof(BadMessages))]
    public async Task BeforeLogin_AStringThatIsNotText_GetsErrorNamingTheField_AndTheConnectionStays(string message, string expected)
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var client = await server.ConnectAsync();

        await client.SendTextAsync(message);

        var error = await client.ExpectAsync("Error");
        Assert.Equal(RtcCodes.BadMessage, error.GetProperty("Code").GetInt32());
        Assert.StartsWith(expected, error.GetProperty("Message").GetString(), StringComparison.Ordinal);
        await client.SendJsonAsync(new { Type = "Login", Token = RtcTestServer.TokenFor("u1", "room1"), RoomId = "room1", UserId = "u1" });
        Assert.Equal(0, (await client.ExpectAsync("LoginResult")).GetProperty("Code").GetInt32());
        Assert.Equal(WebSocketState.Open, client.Socket.State);
    }

    public static TheoryData<string, string> BadMessagesAfterLogin => new()
    {
        { """{"Type":"Publish","StreamId":"s\ud800","Codec":"pcm16","SampleRate":16000}""", "StreamId" },
        { """{"Type":"Play","StreamId":"\udc00s","Codec":"pcm16"}""", "StreamId" },
        { """{"Type":"Publish","StreamId":"s1","Codec":"pcm\ud800"}""", "Codec" },
        { """{"Type":"RoomMessage","ToUserIds":["u2","\ud800"],"Message":{"a":1}}""", "ToUserIds[1]" },
        { """{"Type":"RoomMessage","Message":{"Text":"hi \udc00"}}""", "Message.Text" },
        { """{"Type":"RoomMessage","Message":{"a":1,"a":2}}""", "Message.a" },
    };

    [Theory]
    [MemberData(nameof(BadMessagesAfterLogin))]
    public async Task AfterLogin_AStringThatIsNotText_GetsErrorNamingTheField_AndTheConnectionStays(string message, string field)
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var client = await server.LoginAsync("room1", "u1");
        await using var other = await server.LoginAsync("room1", "u2");

        await client.SendTextAsync(message);

        var error = await client.ExpectAsync("Error");
        Assert.Equal(RtcCodes.BadMessage, error.GetProperty("Code").GetInt32());
        Assert.StartsWith(field + " ", error.GetProperty("Message").GetString(), StringComparison.Ordinal);
        await client.SendJsonAsync(new { Type = "Ping" });
        await client.ExpectAsync("Pong");
        await client.SendJsonAsync(new { Type = "Publish", StreamId = "s1", Codec = "pcm16", SampleRate = 16000 });
        Assert.Equal(0, (await client.ExpectAsync("PublishResult")).GetProperty("Code").GetInt32());
        Assert.Equal(WebSocketState.Open, client.Socket.State);
        Assert.Equal(2, server.Rooms.GetRealUserCount(Parley.Rtc.Rooms.RoomIds.Scoped(RtcTestServer.AppId, "room1")));
    }

    [Fact]
    public async Task SurrogatePairEscapes_InARoomMessage_AreForwarded()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var client = await server.LoginAsync("room1", "u1");
        await using var other = await server.LoginAsync("room1", "u2");

        await client.SendTextAsync("""{"Type":"RoomMessage","Message":{"Text":"smile \ud83d\ude00"}}""");

        var forwarded = await other.ExpectAsync("RoomMessage");
        Assert.Equal("smile 😀", forwarded.GetProperty("Message").GetProperty("Text").GetString());
    }
}
