using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Parley.Rtc.Tokens;

namespace Parley.Rtc.Tests.Tokens;

/// <summary>The AES-GCM Token04 form, checked against ZEGO's helper algorithms (<see cref="ZegoTokenHelpers"/>).</summary>
public sealed class Token04GcmTests
{
    private const string Secret = "fa94dd0f974cf2e293728a526b028271";
    private const string PrivilegePayload = "{\"room_id\":\"room1\",\"privilege\":{\"1\":1,\"2\":0},\"stream_id_list\":null}";
    private static readonly byte[] NonceBytes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    private static readonly byte[] NonceAlphanumeric = Encoding.ASCII.GetBytes("abcdefghijkl");

    // Produced with Node.js's own crypto (createCipheriv('aes-256-gcm'), JSON.stringify, Buffer packing) following
    // zegoim/zego_server_assistant token/nodejs/token04 generateToken04 with its clock and random values fixed:
    // app 1, user "demo", ctime 1700000000, 3600 s, nonce 12345, payload "", GCM nonce bytes 00..0b.
    private const string NodeVectorBasic =
        "04AAAAAGVT/xAADAABAgMEBQYHCAkKCwBvlo4HRoGUdkuLbKIoOhbZY6YpcMaBTLWHRtiSNdXNuWkV2JYrMFwLwjjq87Q0iYsgNxPm5ZgErGa8Vck+JDoGDtf3J0qWOFqGNFZfeMqNCNmU/0pkeR91TGFj+EcvonxOJL2x/t0B0viQxnvluGAUAQ==";

    // app 1234567, user "user_1", nonce -5 (the Node.js helper's nonce spans the whole int32 range), GCM nonce "abcdefghijkl"
    // (the C++ helper's alphanumeric nonce), payload PrivilegePayload.
    private const string NodeVectorPrivilege =
        "04AAAAAGVT/xAADGFiY2RlZmdoaWprbADDPyKEWiWtizuQcfD+L7VVmKNzgtDuMaGDjYymiAA098805DYG3fmXAja1oUmwPRohAfEZ9BX2cwg5KnTxFgRSdrUFI6oaZcgfEGWRzNbPojD05gjUoHppPm+uqXe0g8XDSnhIh74BiMn2oVGdnqZMcFEDFTApnXStBmcfuGjdelUwhN6oDAeUIsvKx/OEpA5FtQIxZnj/9IxzdUJcFa84P3C2lafaswbI17PENSV9L+ngG9+T5rG5MEuGXqT69RbU05I7AQ==";

    private static FakeTimeProvider ClockAt(long unixSeconds) => new(DateTimeOffset.FromUnixTimeSeconds(unixSeconds));

    private static Token04Verifier Verifier(FakeTimeProvider clock, params (uint AppId, string Secret)[] apps) =>
        new(new StaticRoomAppDirectory(apps.ToDictionary(a => a.AppId, a => a.Secret)), clock);

    [Fact]
    public void HelperPort_WithFixedInputs_ReproducesTheNodeVectors()
    {
        Assert.Equal(NodeVectorBasic, ZegoTokenHelpers.GenerateGcm(1, "demo", Secret, 1700000000, 3600, 12345, "", NonceBytes));
        Assert.Equal(NodeVectorPrivilege, ZegoTokenHelpers.GenerateGcm(1234567, "user_1", Secret, 1700000000, 3600, -5, PrivilegePayload, NonceAlphanumeric));
    }

    [Fact]
    public void MintGcm_WithFixedInputs_MatchesTheNodeVectorsByteForByte()
    {
        Assert.Equal(NodeVectorBasic, Token04.MintGcm(1, "demo", Secret, 1700000000, 1700003600, 12345, "", NonceBytes));
        Assert.Equal(NodeVectorPrivilege, Token04.MintGcm(1234567, "user_1", Secret, 1700000000, 1700003600, -5, PrivilegePayload, NonceAlphanumeric));
    }

    [Fact]
    public void Verify_NodeVector_DecodesClaimsAndGrants()
    {
        var check = Verifier(ClockAt(1700000100), (1234567, Secret)).VerifyLogin(NodeVectorPrivilege, 1234567, "user_1", "room1");
        Assert.True(check.IsValid, check.Message);
        Assert.Equal(Token04Mode.Gcm, check.Claims!.Mode);
        Assert.Equal(1234567u, check.Claims.AppId);
        Assert.Equal(-5, check.Claims.Nonce);
        Assert.Equal(1700000000, check.Claims.CreatedAt);
        Assert.Equal(1700003600, check.Claims.ExpiresAt);
        Assert.Equal("room1", check.Grants!.RoomId);
        Assert.Equal(Token04Error.NoPublishPrivilege, check.Grants.CheckPublish("s1").Error);

        var basic = Verifier(ClockAt(1700000100), (1, Secret)).VerifyLogin(NodeVectorBasic, null, "demo", "any_room");
        Assert.True(basic.IsValid, basic.Message);
        Assert.Same(Token04Grants.All, basic.Grants);
    }

    [Theory]
    [InlineData("nodejs")]
    [InlineData("c++")]
    [InlineData("go-cbc")]
    public void Verify_TokensOfEachZegoHelper_AreAccepted(string helper)
    {
        var clock = ClockAt(1750000000);
        var verifier = Verifier(clock, (7, "0123456789abcdef0123456789abcdef"), (42, Secret));
        for (var i = 0; i < 20; i++)
        {
            var user = "user_" + i;
            var nonce = RandomNumberGenerator.GetInt32(int.MinValue, int.MaxValue);
            var payload = i % 2 == 0 ? "" : Token04.BuildPayload("r1", true, true, ["s" + i]);
            var token = helper switch
            {
                "nodejs" => ZegoTokenHelpers.GenerateGcm(42, user, Secret, 1750000000, 3600, nonce, payload, RandomNumberGenerator.GetBytes(12)),
                "c++" => ZegoTokenHelpers.GenerateGcm(42, user, Secret, 1750000000, 3600, nonce, payload, Encoding.ASCII.GetBytes(RandomNumberGenerator.GetString("0123456789abcdefghijklmnopqrstuvwxyz", 12))),
                _ => ZegoTokenHelpers.GenerateCbc(42, user, Secret, 1750000000, 3600, nonce, payload, RandomNumberGenerator.GetString("0123456789abcdefghijklmnopqrstuvwxyz", 16)),
            };

            var withAppId = verifier.VerifyLogin(token, 42, user, "r1");
            Assert.True(withAppId.IsValid, withAppId.Message);
            Assert.Equal(helper == "go-cbc" ? Token04Mode.Cbc : Token04Mode.Gcm, withAppId.Claims!.Mode);
            Assert.Equal(nonce, withAppId.Claims.Nonce);
            var byTrial = verifier.VerifyLogin(token, null, user, "r1");
            Assert.True(byTrial.IsValid, byTrial.Message);
            Assert.Equal(42u, byTrial.Claims!.AppId);
        }
    }

    [Theory]
    [InlineData(Token04Mode.Gcm, (byte)1)]
    [InlineData(Token04Mode.Cbc, null)]
    public void Mint_DecodesWithTheHelperLayout(Token04Mode mode, byte? modeByte)
    {
        var clock = ClockAt(1750000000);
        var payload = Token04.BuildPayload("r1", true, false, ["s1"]);
        var token = Token04.Mint(42, "alice", Secret, TimeSpan.FromMinutes(10), payload, clock, mode);

        var (expire, readMode, body) = ZegoTokenHelpers.Decode(token, Secret);
        Assert.Equal(modeByte, readMode);
        Assert.Equal(1750000600, expire);
        Assert.Equal(42u, body.GetProperty("app_id").GetUInt32());
        Assert.Equal("alice", body.GetProperty("user_id").GetString());
        Assert.Equal(1750000000, body.GetProperty("ctime").GetInt64());
        Assert.Equal(1750000600, body.GetProperty("expire").GetInt64());
        body.GetProperty("nonce").GetInt32();
        Assert.Equal(payload, body.GetProperty("payload").GetString());
        Assert.True(Verifier(clock, (42, Secret)).VerifyLogin(token, 42, "alice", "r1").IsValid);
    }

    [Fact]
    public void Mint_WithoutAMode_MintsGcm_AndEachCallANewNonce()
    {
        Assert.Equal(Token04Mode.Gcm, Token04.DefaultMode);
        var clock = ClockAt(1750000000);
        var first = Token04.Mint(42, "alice", Secret, TimeSpan.FromHours(1), "", clock);
        var second = Token04.Mint(42, "alice", Secret, TimeSpan.FromHours(1), "", clock);
        Assert.Equal((byte?)1, ZegoTokenHelpers.Decode(first, Secret).Mode);
        Assert.NotEqual(Convert.FromBase64String(first[2..]).AsSpan(10, 12).ToArray(), Convert.FromBase64String(second[2..]).AsSpan(10, 12).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => Token04.Mint(42, "alice", Secret, TimeSpan.FromHours(1), "", clock, (Token04Mode)7));
    }

    [Theory]
    [InlineData("tag flipped", Token04Error.Forged)]
    [InlineData("ciphertext flipped", Token04Error.Forged)]
    [InlineData("nonce flipped", Token04Error.Forged)]
    [InlineData("clear expire changed", Token04Error.Forged)]
    [InlineData("mode byte 0", Token04Error.Malformed)]
    [InlineData("mode byte 2", Token04Error.Malformed)]
    [InlineData("mode byte 255", Token04Error.Malformed)]
    [InlineData("mode byte dropped", Token04Error.Malformed)]
    [InlineData("tag cut short", Token04Error.Malformed)]
    [InlineData("cut in the nonce", Token04Error.Malformed)]
    [InlineData("cut in the header", Token04Error.Malformed)]
    [InlineData("nonce length 0xFFFF", Token04Error.Malformed)]
    [InlineData("nonce length 16", Token04Error.Malformed)]
    [InlineData("ciphertext length 0xFFFF", Token04Error.Malformed)]
    [InlineData("ciphertext length one short", Token04Error.Malformed)]
    [InlineData("tag only", Token04Error.Malformed)]
    [InlineData("byte after the mode byte", Token04Error.Malformed)]
    [InlineData("CBC token with mode byte 1", Token04Error.Malformed)]
    [InlineData("longer than any Token04", Token04Error.Malformed)]
    public void Verify_BadGcmToken_IsRefusedWithItsKind(string damage, Token04Error expected)
    {
        var clock = ClockAt(1700000100);
        var packed = Convert.FromBase64String(NodeVectorPrivilege[2..]);
        var cipherLength = BinaryPrimitives.ReadUInt16BigEndian(packed.AsSpan(22));
        byte[] bad = damage switch
        {
            "tag flipped" => Flip(packed, packed.Length - 2),
            "ciphertext flipped" => Flip(packed, 24),
            "nonce flipped" => Flip(packed, 10),
            "clear expire changed" => Flip(packed, 7),
            "mode byte 0" => WithLast(packed, 0),
            "mode byte 2" => WithLast(packed, 2),
            "mode byte 255" => WithLast(packed, 255),
            "mode byte dropped" => packed[..^1],
            "tag cut short" => [.. packed[..^5], 1],
            "cut in the nonce" => packed[..15],
            "cut in the header" => packed[..9],
            "nonce length 0xFFFF" => WithUInt16(packed, 8, 0xFFFF),
            "nonce length 16" => WithUInt16(packed, 8, 16),
            "ciphertext length 0xFFFF" => WithUInt16(packed, 22, 0xFFFF),
            "ciphertext length one short" => WithUInt16(packed, 22, cipherLength - 1),
            "tag only" => [.. WithUInt16(packed, 22, 16)[..(24 + 16)], 1],
            "byte after the mode byte" => [.. packed, 1],
            "CBC token with mode byte 1" => [.. Convert.FromBase64String(Token04.MintCbc(1234567, "user_1", Secret, 1700000000, 1700003600, -5, PrivilegePayload, "abcdefghijklmnop")[2..]), 1],
            "longer than any Token04" => new byte[140000],
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        };

        var token = "04" + Convert.ToBase64String(bad);
        var verifier = Verifier(clock, (1234567, Secret));
        var check = verifier.VerifyLogin(token, 1234567, "user_1", "room1");
        Assert.Equal(expected, check.Error);
        Assert.False(string.IsNullOrEmpty(check.Message));
        Assert.Equal(expected, verifier.VerifyLogin(token, null, "user_1", "room1").Error);
    }

    [Fact]
    public void Verify_GcmTokenWithAnotherSecret_IsRefusedAsForged()
    {
        var clock = ClockAt(1750000000);
        var token = ZegoTokenHelpers.GenerateGcm(42, "alice", "ffffffffffffffffffffffffffffffff", 1750000000, 3600, 1, "", NonceBytes);
        var verifier = Verifier(clock, (42, Secret), (43, "0123456789abcdef0123456789abcdef"));
        Assert.Equal(Token04Error.Forged, verifier.VerifyLogin(token, 42, "alice", "r1").Error);
        Assert.Equal(Token04Error.Forged, verifier.VerifyLogin(token, null, "alice", "r1").Error);
    }

    [Fact]
    public void Verify_GcmTokenAfterExpiry_IsRefusedAsExpired()
    {
        var clock = ClockAt(1750000000);
        var token = ZegoTokenHelpers.GenerateGcm(42, "alice", Secret, 1750000000, 60, 1, "", NonceBytes);
        var verifier = Verifier(clock, (42, Secret));
        Assert.True(verifier.VerifyLogin(token, 42, "alice", "r1").IsValid);
        clock.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(Token04Error.Expired, verifier.VerifyLogin(token, 42, "alice", "r1").Error);
    }

    [Fact]
    public void Verify_GcmBodyThatIsNotAToken04Body_IsRefusedAsForged()
    {
        var plain = Encoding.UTF8.GetBytes("{\"hello\":1}");
        var sealedBody = new byte[plain.Length + 16];
        using (var gcm = new AesGcm(Encoding.UTF8.GetBytes(Secret), 16))
        {
            gcm.Encrypt(NonceBytes, plain, sealedBody.AsSpan(0, plain.Length), sealedBody.AsSpan(plain.Length));
        }

        var packed = new byte[8 + 2 + 12 + 2 + sealedBody.Length + 1];
        BinaryPrimitives.WriteInt64BigEndian(packed, 1750003600);
        BinaryPrimitives.WriteUInt16BigEndian(packed.AsSpan(8), 12);
        NonceBytes.CopyTo(packed, 10);
        BinaryPrimitives.WriteUInt16BigEndian(packed.AsSpan(22), (ushort)sealedBody.Length);
        sealedBody.CopyTo(packed, 24);
        packed[^1] = 1;
        var check = Verifier(ClockAt(1750000000), (42, Secret)).VerifyLogin("04" + Convert.ToBase64String(packed), 42, "alice", "r1");
        Assert.Equal(Token04Error.Forged, check.Error);
    }

    [Fact]
    public void Verify_RandomDamageToEitherForm_NeverThrowsAndNeverPasses()
    {
        var clock = ClockAt(1700000100);
        var verifier = Verifier(clock, (1234567, Secret));
        var random = new Random(2026);
        var cbc = Token04.MintCbc(1234567, "user_1", Secret, 1700000000, 1700003600, -5, PrivilegePayload, "abcdefghijklmnop");
        foreach (var original in new[] { Convert.FromBase64String(NodeVectorPrivilege[2..]), Convert.FromBase64String(cbc[2..]) })
        {
            for (var i = 0; i < 400; i++)
            {
                var bad = (byte[])original.Clone();
                switch (random.Next(3))
                {
                    case 0:
                        bad[random.Next(bad.Length)] ^= (byte)random.Next(1, 256);
                        break;
                    case 1:
                        bad = bad[..random.Next(bad.Length)];
                        break;
                    default:
                        bad = [.. bad, .. RandomNumberGenerator.GetBytes(random.Next(2, 20))];
                        break;
                }

                var check = verifier.VerifyLogin("04" + Convert.ToBase64String(bad), i % 2 == 0 ? 1234567 : null, "user_1", "room1");
                Assert.False(check.IsValid);
            }
        }
    }

    [Fact]
    public void Verify_CbcTokenWithModeByteZero_IsReadAsCbc()
    {
        // ZEGO's AesEncryptMode numbers CBC 0: a CBC token carrying that mode byte is the CBC form.
        var cbc = Token04.MintCbc(1234567, "user_1", Secret, 1700000000, 1700003600, -5, PrivilegePayload, "abcdefghijklmnop");
        var token = "04" + Convert.ToBase64String([.. Convert.FromBase64String(cbc[2..]), 0]);
        var check = Verifier(ClockAt(1700000100), (1234567, Secret)).VerifyLogin(token, 1234567, "user_1", "room1");
        Assert.True(check.IsValid, check.Message);
        Assert.Equal(Token04Mode.Cbc, check.Claims!.Mode);
    }

    private static byte[] Flip(byte[] packed, int index)
    {
        var copy = (byte[])packed.Clone();
        copy[index] ^= 0x01;
        return copy;
    }

    private static byte[] WithLast(byte[] packed, byte value)
    {
        var copy = (byte[])packed.Clone();
        copy[^1] = value;
        return copy;
    }

    private static byte[] WithUInt16(byte[] packed, int offset, int value)
    {
        var copy = (byte[])packed.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(offset), (ushort)value);
        return copy;
    }
}
