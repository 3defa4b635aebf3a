using System.Text.Json;
using Parley.Server.Api;
using Parley.Testing;

namespace Parley.Server.Tests.Api;

public sealed class GatewayTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public void Signature_MatchesTheContractsVerifiedVector()
    {
        Assert.Equal("43e5cfcca828314675f91b001390566a", RequestSignature.Compute(12345, "4fd24687296dd9f3", "9193cc662a4c0ec135ec71fb57194b38", "1615186943"));
        Assert.True(RequestSignature.Verify(12345, "4fd24687296dd9f3", "9193cc662a4c0ec135ec71fb57194b38", "1615186943", "43E5CFCCA828314675F91B001390566A"));
        Assert.False(RequestSignature.Verify(12345, "4fd24687296dd9f3", "9193cc662a4c0ec135ec71fb57194b38", "1615186944", "43e5cfcca828314675f91b001390566a"));
    }

    [Fact]
    public async Task ValidRequest_ReturnsEnvelopeWithCodeZeroAndRequestId()
    {
        var reply = await fixture.Api().CallAsync("ListAgents");
        Assert.Equal(0, reply.Code());
        var requestId = reply.GetProperty("RequestId").GetString()!;
        Assert.Equal(19, requestId.Length);
        Assert.All(requestId, c => Assert.True(char.IsAsciiDigit(c)));
        Assert.True(reply.TryGetProperty("Message", out _));
        Assert.Equal(JsonValueKind.Object, reply.Data().ValueKind);
    }

    [Fact]
    public async Task Base36Nonce_LikeZegosSampleServer_IsAccepted()
    {
        var api = fixture.Api();
        // Like "k3j5x9q2m1ab", but fresh: the replay guard refuses a nonce the app already used.
        var nonce = string.Concat(Enumerable.Range(0, 12).Select(_ => "0123456789abcdefghijklmnopqrstuvwxyz"[Random.Shared.Next(36)]));
        var reply = await api.SendAsync(api.Query("ListAgents", nonce: nonce), "{}");
        Assert.Equal(0, reply.Code());
    }

    [Theory]
    [InlineData("Action", ReturnCodes.ActionMissing)]
    [InlineData("AppId", ReturnCodes.AppIdMalformed)]
    [InlineData("SignatureNonce", ReturnCodes.NonceMissing)]
    [InlineData("Timestamp", ReturnCodes.TimestampMissing)]
    [InlineData("Signature", ReturnCodes.SignatureMissing)]
    [InlineData("SignatureVersion", ReturnCodes.SignatureVersionMissing)]
    public async Task MissingCommonParameter_ReturnsItsCode(string parameter, int code)
    {
        var api = fixture.Api();
        var query = api.Query("ListAgents");
        query[parameter] = null;
        var reply = await api.SendAsync(query, "{}");
        Assert.Equal(code, reply.Code());
        Assert.Contains(parameter, reply.Message());
    }

    [Theory]
    [InlineData("AppId", "12ab", ReturnCodes.AppIdMalformed)]
    [InlineData("AppId", "99999999999", ReturnCodes.AppIdMalformed)]
    [InlineData("Timestamp", "yesterday", ReturnCodes.TimestampMalformed)]
    [InlineData("SignatureVersion", "1.0", ReturnCodes.SignatureVersionUnsupported)]
    [InlineData("Action", "DropAllTables", ReturnCodes.ActionNotSupported)]
    [InlineData("Action", "listagents", ReturnCodes.ActionNotSupported)]
    [InlineData("Signature", "00000000000000000000000000000000", ReturnCodes.SignatureWrong)]
    [InlineData("Signature", "not-hex", ReturnCodes.SignatureWrong)]
    public async Task MalformedCommonParameter_ReturnsItsCode(string parameter, string value, int code)
    {
        var api = fixture.Api();
        var query = api.Query("ListAgents");
        query[parameter] = value;
        var reply = await api.SendAsync(query, "{}");
        Assert.Equal(code, reply.Code());
    }

    [Fact]
    public async Task UnknownApp_IsRefused()
    {
        var api = new RawApi(fixture.Server.CreateHttpClient(), new TestApp(4242, "ffffffffffffffffffffffffffffffff"));
        Assert.Equal(ReturnCodes.ServerSecretUnavailable, (await api.CallAsync("ListAgents")).Code());
    }

    [Fact]
    public async Task WrongSecret_IsRefusedWithSignatureWrong()
    {
        var api = new RawApi(fixture.Server.CreateHttpClient(), ServerFixture.AppA with { ServerSecret = "ffffffffffffffffffffffffffffffff" });
        Assert.Equal(ReturnCodes.SignatureWrong, (await api.CallAsync("ListAgents")).Code());
    }

    [Theory]
    [InlineData(-601, ReturnCodes.SignatureExpired)]
    [InlineData(601, ReturnCodes.SignatureExpired)]
    [InlineData(-599, 0)]
    [InlineData(599, 0)]
    public async Task TimestampWindow_IsTenMinutesEitherWay(int offsetSeconds, int code)
    {
        var api = fixture.Api();
        var reply = await api.SendAsync(api.Query("ListAgents", timestamp: DateTimeOffset.UtcNow.ToUnixTimeSeconds() + offsetSeconds), "{}");
        Assert.Equal(code, reply.Code());
    }

    [Theory]
    [InlineData("{not json", ReturnCodes.JsonParseFailure)]
    [InlineData("[1,2,3]", ReturnCodes.JsonParseFailure)]
    [InlineData("\"text\"", ReturnCodes.JsonParseFailure)]
    [InlineData("{\"Limit\": \"five\"}", ReturnCodes.InvalidParameter)]
    [InlineData("{\"Limit\": 1.5}", ReturnCodes.InvalidParameter)]
    public async Task BadBody_ReturnsContractCode_NotHttpError(string body, int code)
    {
        var api = fixture.Api();
        var reply = await api.SendAsync(api.Query("ListAgents"), body);
        Assert.Equal(code, reply.Code());
    }

    [Fact]
    public async Task EmptyBody_IsReadAsEmptyObject()
    {
        var api = fixture.Api();
        Assert.Equal(0, (await api.SendAsync(api.Query("ListAgents"), null)).Code());
    }

    [Fact]
    public async Task OversizedBody_IsRefusedWithBodyCode()
    {
        var api = fixture.Api();
        var body = "{\"Cursor\":\"" + new string('x', ControlApiEndpoint.MaxBodyBytes) + "\"}";
        Assert.Equal(ReturnCodes.BodyUnreadable, (await api.SendAsync(api.Query("ListAgents"), body)).Code());
    }

    [Fact]
    public async Task LargeBody_IsReadToTheEnd()
    {
        // Larger than the pooled read buffer's first size: the field after the padding must still be parsed.
        var api = fixture.Api();
        var body = "{\"Pad\":\"" + new string('x', 40_000) + "\",\"Limit\":\"five\"}";
        Assert.Equal(ReturnCodes.InvalidParameter, (await api.SendAsync(api.Query("ListAgents"), body)).Code());
    }

    [Fact]
    public async Task ChunkedBody_WithoutContentLength_IsReadToTheEnd()
    {
        var api = fixture.Api();
        var query = api.Query("ListAgents");
        using var http = fixture.Server.CreateHttpClient();
        var bytes = System.Text.Encoding.UTF8.GetBytes("{\"Pad\":\"" + new string('y', 20_000) + "\",\"Limit\":\"five\"}");
        using var content = new StreamContent(new MemoryStream(bytes));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/?" + string.Join("&", query.Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value!)}"))) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await http.SendAsync(request);
        using var reply = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(ReturnCodes.InvalidParameter, reply.RootElement.GetProperty("Code").GetInt32());
    }

    [Fact]
    public async Task GetRequest_WithParametersInQuery_IsServed()
    {
        var api = fixture.Api();
        var query = api.Query("ListAgents");
        using var http = fixture.Server.CreateHttpClient();
        var text = await http.GetStringAsync("/?" + string.Join("&", query.Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value!)}")));
        using var reply = JsonDocument.Parse(text);
        Assert.Equal(0, reply.RootElement.GetProperty("Code").GetInt32());
    }
}

public sealed class RateLimitTests
{
    [Fact]
    public async Task RequestsBeyondTheLimit_AreRefusedPerAppAndAction_UntilTheBucketRefills()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var app = ServerFixture.AppA;
        var other = ServerFixture.AppB;
        await using var server = await ParleyTestServer.StartAsync(
            [app, other],
            new Dictionary<string, string?> { ["Parley:RateLimitPerSecond"] = "3" },
            TestServerConfiguration.WithTime(time));
        var api = new RawApi(server.CreateHttpClient(), app, time);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(0, (await api.CallAsync("ListAgents")).Code());
        }

        var refused = await api.CallAsync("ListAgents");
        Assert.Equal(ReturnCodes.RateLimited, refused.Code());
        Assert.Contains("rate limit", refused.Message());

        // Another action of the same app, and the same action of another app, have their own budgets.
        Assert.Equal(0, (await api.CallAsync("QueryAgents", new { AgentIds = new[] { "x" } })).Code());
        Assert.Equal(0, (await new RawApi(server.CreateHttpClient(), other, time).CallAsync("ListAgents")).Code());

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, (await api.CallAsync("ListAgents")).Code());
    }
}
