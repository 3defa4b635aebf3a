using Microsoft.Extensions.Time.Testing;
using Parley.Rtc.Tokens;

namespace Parley.Rtc.Tests.Tokens;

public sealed class Token04Tests
{
    private const string Secret = "fa94dd0f974cf2e293728a526b028271";

    // CBC form. Produced by an independent Node.js implementation of ZEGO's token04 helper (zego_server_assistant, token/go/src/token04):
    // app 1, user "demo", ctime 1700000000, expire 1700003600, nonce 12345, payload "", iv "0123456789abcdef".
    private const string VectorBasic =
        "04AAAAAGVT/xAAEDAxMjM0NTY3ODlhYmNkZWYAYPDOWcZeMCPxbh1dpHzCTRH0tbs1JDwaSloPPpfrCE29tUW/QA7cBUDbJW7EPsVPsGpO/KyXwgxISYw5q52prPMSDPSd273V+GccmQjr86yJoXltDCWhCc+RSKS2RxPL0w==";

    // app 1234567, user "user_1", nonce -5, iv "abcdefghijklmnop",
    // payload {"room_id":"room1","privilege":{"1":1,"2":0},"stream_id_list":null}.
    private const string VectorPrivilege =
        "04AAAAAGVT/xAAEGFiY2RlZmdoaWprbG1ub3AAwC7/sygoeB+K4A1E02Jut1taDO0Nac2XtGhUCH4H0nedmyq7C/diT9wR4f55+kZXAZPkT/6zB3n/oH0Kcp7A6Hpfgy/Td47/XVWa/h809T2eNDKjMUaifFJVUqP/6K3y6GblnaxNqWlZNNtpd9nqFnWi86wx2c5ZcEpBctTlfndBBaab0iv4g3P9RmOrsY79wzEPUFr7cLipTPAKGxuPPTHFh/pTycGfePlyfXqLTkTgsrBEOD4FTlMztn5x7hBNdw==";

    private static FakeTimeProvider ClockAt(long unixSeconds) => new(DateTimeOffset.FromUnixTimeSeconds(unixSeconds));

    private static Token04Verifier Verifier(FakeTimeProvider clock, params (uint AppId, string Secret)[] apps) =>
        new(new StaticRoomAppDirectory(apps.ToDictionary(a => a.AppId, a => a.Secret)), clock);

    [Fact]
    public void Mint_WithFixedInputs_MatchesReferenceVectorsByteForByte()
    {
        Assert.Equal(VectorBasic, Token04.MintCbc(1, "demo", Secret, 1700000000, 1700003600, 12345, "", "0123456789abcdef"));
        var payload = Token04.BuildPayload("room1", canLogin: true, canPublish: false);
        Assert.Equal("{\"room_id\":\"room1\",\"privilege\":{\"1\":1,\"2\":0},\"stream_id_list\":null}", payload);
        Assert.Equal(VectorPrivilege, Token04.MintCbc(1234567, "user_1", Secret, 1700000000, 1700003600, -5, payload, "abcdefghijklmnop"));
    }

    [Fact]
    public void Verify_ReferenceVector_DecodesClaimsAndGrants()
    {
        var check = Verifier(ClockAt(1700000100), (1234567, Secret)).VerifyLogin(VectorPrivilege, 1234567, "user_1", "room1");
        Assert.True(check.IsValid, check.Message);
        Assert.Equal(1234567u, check.Claims!.AppId);
        Assert.Equal(-5, check.Claims.Nonce);
        Assert.Equal(1700003600, check.Claims.ExpiresAt);
        Assert.Equal("room1", check.Grants!.RoomId);
        Assert.True(check.Grants.CanLogin);
        Assert.Equal(Token04Error.NoPublishPrivilege, check.Grants.CheckPublish("s1").Error);
    }

    [Theory]
    [InlineData(Token04Mode.Gcm)]
    [InlineData(Token04Mode.Cbc)]
    public void MintThenVerify_RoundTrips_WithAndWithoutAppId(Token04Mode mode)
    {
        var clock = ClockAt(1750000000);
        var token = Token04.Mint(42, "alice", Secret, TimeSpan.FromHours(1), Token04.BuildPayload("r1", true, true, ["s1"]), clock, mode);
        var verifier = Verifier(clock, (7, "0123456789abcdef0123456789abcdef"), (42, Secret));

        var withAppId = verifier.VerifyLogin(token, 42, "alice", "r1");
        Assert.True(withAppId.IsValid, withAppId.Message);
        Assert.Equal(mode, withAppId.Claims!.Mode);
        var byTrial = verifier.VerifyLogin(token, null, "alice", "r1");
        Assert.True(byTrial.IsValid, byTrial.Message);
        Assert.Equal(42u, byTrial.Claims!.AppId);
        Assert.True(byTrial.Grants!.CheckPublish("s1").IsValid);
        Assert.Equal(Token04Error.StreamNotAllowed, byTrial.Grants.CheckPublish("s2").Error);
    }

    [Fact]
    public void Verify_AfterExpiry_IsRefusedAsExpired()
    {
        var clock = ClockAt(1750000000);
        var token = Token04.Mint(42, "alice", Secret, TimeSpan.FromSeconds(60), "", clock);
        var verifier = Verifier(clock, (42, Secret));
        Assert.True(verifier.VerifyLogin(token, 42, "alice", "r1").IsValid);
        clock.Advance(TimeSpan.FromSeconds(60));
        var check = verifier.VerifyLogin(token, 42, "alice", "r1");
        Assert.Equal(Token04Error.Expired, check.Error);
        Assert.Contains("expired", check.Message);
    }

    [Fact]
    public void Verify_TokenMintedWithAnotherSecret_IsRefusedAsForged()
    {
        var clock = ClockAt(1750000000);
        var token = Token04.Mint(42, "alice", "ffffffffffffffffffffffffffffffff", TimeSpan.FromHours(1), "", clock);
        var verifier = Verifier(clock, (42, Secret));
        Assert.Equal(Token04Error.Forged, verifier.VerifyLogin(token, 42, "alice", "r1").Error);
        Assert.Equal(Token04Error.Forged, verifier.VerifyLogin(token, null, "alice", "r1").Error);
    }

    [Fact]
    public void Verify_WrongUserRoomOrApp_IsRefusedWithThatReason()
    {
        var clock = ClockAt(1750000000);
        var token = Token04.Mint(42, "alice", Secret, TimeSpan.FromHours(1), Token04.BuildPayload("r1", true, true), clock);
        var verifier = Verifier(clock, (42, Secret), (43, Secret));
        Assert.Equal(Token04Error.WrongUser, verifier.VerifyLogin(token, 42, "bob", "r1").Error);
        Assert.Equal(Token04Error.WrongRoom, verifier.VerifyLogin(token, 42, "alice", "r2").Error);
        Assert.Equal(Token04Error.WrongApp, verifier.VerifyLogin(token, 43, "alice", "r1").Error);
        Assert.Equal(Token04Error.UnknownApp, verifier.VerifyLogin(token, 44, "alice", "r1").Error);
    }

    [Fact]
    public void Verify_NoLoginPrivilege_IsRefused()
    {
        var clock = ClockAt(1750000000);
        var token = Token04.Mint(42, "alice", Secret, TimeSpan.FromHours(1), Token04.BuildPayload("r1", canLogin: false, canPublish: true), clock);
        Assert.Equal(Token04Error.NoLoginPrivilege, Verifier(clock, (42, Secret)).VerifyLogin(token, 42, "alice", "r1").Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("03AAAA")]
    [InlineData("04!!!notbase64")]
    [InlineData("04AAAA")]
    public void Verify_MalformedToken_IsRefusedWithoutThrowing(string token)
    {
        var check = Verifier(ClockAt(1750000000), (42, Secret)).VerifyLogin(token, 42, "alice", "r1");
        Assert.False(check.IsValid);
        Assert.Contains(check.Error, new[] { Token04Error.Missing, Token04Error.Malformed });
    }

    [Theory]
    [InlineData(Token04Mode.Gcm)]
    [InlineData(Token04Mode.Cbc)]
    public void Verify_TamperedClearExpiry_IsRefusedAsForged(Token04Mode mode)
    {
        var clock = ClockAt(1750000000);
        var token = Token04.Mint(42, "alice", Secret, TimeSpan.FromHours(1), "", clock, mode);
        var packed = Convert.FromBase64String(token[2..]);
        packed[7] ^= 1;
        var tampered = "04" + Convert.ToBase64String(packed);
        Assert.Equal(Token04Error.Forged, Verifier(clock, (42, Secret)).VerifyLogin(tampered, 42, "alice", "r1").Error);
    }

    [Fact]
    public void Verify_WithoutAppIdAndNoEnumerableApps_AsksForAppId()
    {
        var clock = ClockAt(1750000000);
        var token = Token04.Mint(42, "alice", Secret, TimeSpan.FromHours(1), "", clock);
        var check = new Token04Verifier(new LookupOnlyDirectory(), clock).VerifyLogin(token, null, "alice", "r1");
        Assert.Equal(Token04Error.UnknownApp, check.Error);
        Assert.Contains("AppId", check.Message);
        Assert.True(new Token04Verifier(new LookupOnlyDirectory(), clock).VerifyLogin(token, 42, "alice", "r1").IsValid);
    }

    private sealed class LookupOnlyDirectory : IRoomAppDirectory
    {
        public bool TryGetServerSecret(uint appId, out string secret)
        {
            secret = Secret;
            return appId == 42;
        }
    }
}
