using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Parley.Rtc.Tests.Tokens;

/// <summary>
/// ZEGO's Token04 helpers (<c>zegoim/zego_server_assistant</c>) re-expressed as a test fixture, with the clock and the
/// random values passed in, and written without Parley's code so that a Parley bug cannot hide in both:
/// <list type="bullet">
/// <item><see cref="GenerateGcm"/>: token/nodejs/token04/server/zegoServerAssistant.ts <c>generateToken04</c> (also the
/// inline copy in <c>ZEGOCLOUD/blog-aiagent-server-and-web</c> app/api/zego/utils.ts, and token/c++/token04 which packs the
/// same bytes with a 12-character alphanumeric nonce): JSON.stringify of {app_id, user_id, nonce, ctime, expire, payload},
/// aes-256-gcm with the secret as key and a 12-byte nonce, the tag appended, then expire (int64 BE) ‖ nonce length
/// (uint16 BE) ‖ nonce ‖ length (uint16 BE) ‖ ciphertext+tag ‖ mode byte 1, "04" + Base64.</item>
/// <item><see cref="GenerateCbc"/>: token/go/src/token04/token04.go <c>GenerateToken04</c>: json.Marshal of {app_id,
/// user_id, ctime, expire, nonce, payload}, AES-CBC-PKCS5 with a 16-character IV, then PackInt64(expire),
/// PackString(iv), PackString(cipher), "04" + Base64; no mode byte.</item>
/// <item><see cref="Decode"/>: the inverse of those layouts, as a ZEGO backend would read a token.</item>
/// </list>
/// </summary>
internal static class ZegoTokenHelpers
{
    private static readonly JsonSerializerOptions Stringify = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string GenerateGcm(uint appId, string userId, string secret, long createTime, long effectiveTimeInSeconds, int nonce, string? payload, byte[] gcmNonce)
    {
        var tokenInfo = new { app_id = appId, user_id = userId, nonce, ctime = createTime, expire = createTime + effectiveTimeInSeconds, payload = payload ?? "" };
        var plain = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(tokenInfo, Stringify));
        var encryptBuf = new byte[plain.Length + 16];
        using (var cipher = new AesGcm(Encoding.UTF8.GetBytes(secret), 16))
        {
            cipher.Encrypt(gcmNonce, plain, encryptBuf.AsSpan(0, plain.Length), encryptBuf.AsSpan(plain.Length));
        }

        var buffer = new List<byte>();
        buffer.AddRange(BigEndian64(tokenInfo.expire));
        buffer.AddRange(BigEndian16(gcmNonce.Length));
        buffer.AddRange(gcmNonce);
        buffer.AddRange(BigEndian16(encryptBuf.Length));
        buffer.AddRange(encryptBuf);
        buffer.Add(1);
        return "04" + Convert.ToBase64String(buffer.ToArray());
    }

    public static string GenerateCbc(uint appId, string userId, string secret, long createTime, long effectiveTimeInSeconds, int nonce, string payload, string iv)
    {
        var tokenInfo = new { app_id = appId, user_id = userId, ctime = createTime, expire = createTime + effectiveTimeInSeconds, nonce, payload };
        var plain = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(tokenInfo));
        using var aes = Aes.Create();
        aes.Key = Encoding.UTF8.GetBytes(secret);
        var crypted = aes.EncryptCbc(plain, Encoding.ASCII.GetBytes(iv), PaddingMode.PKCS7);

        var buffer = new List<byte>();
        buffer.AddRange(BigEndian64(tokenInfo.expire));
        buffer.AddRange(BigEndian16(iv.Length));
        buffer.AddRange(Encoding.ASCII.GetBytes(iv));
        buffer.AddRange(BigEndian16(crypted.Length));
        buffer.AddRange(crypted);
        return "04" + Convert.ToBase64String(buffer.ToArray());
    }

    /// <summary>Reads a token the way the helpers write it: (clear expire, mode byte or null, decrypted JSON body).</summary>
    public static (long Expire, byte? Mode, JsonElement Body) Decode(string token, string secret)
    {
        Assert.StartsWith("04", token, StringComparison.Ordinal);
        var bytes = Convert.FromBase64String(token[2..]);
        var expire = BinaryPrimitives.ReadInt64BigEndian(bytes);
        int ivLength = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(8));
        var iv = bytes.AsSpan(10, ivLength).ToArray();
        int cipherLength = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(10 + ivLength));
        var cipher = bytes.AsSpan(12 + ivLength, cipherLength).ToArray();
        byte? mode = bytes.Length == 12 + ivLength + cipherLength + 1 ? bytes[^1] : null;
        Assert.True(mode is not null || bytes.Length == 12 + ivLength + cipherLength, "bytes after the ciphertext other than one mode byte");

        var key = Encoding.UTF8.GetBytes(secret);
        byte[] plain;
        if (mode == 1)
        {
            plain = new byte[cipherLength - 16];
            using var gcm = new AesGcm(key, 16);
            gcm.Decrypt(iv, cipher.AsSpan(0, cipherLength - 16), cipher.AsSpan(cipherLength - 16), plain);
        }
        else
        {
            using var aes = Aes.Create();
            aes.Key = key;
            plain = aes.DecryptCbc(cipher, iv, PaddingMode.PKCS7);
        }

        using var document = JsonDocument.Parse(plain);
        return (expire, mode, document.RootElement.Clone());
    }

    private static byte[] BigEndian64(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] BigEndian16(int value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, checked((ushort)value));
        return bytes;
    }
}
