using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Parley.Rtc.Tokens;

/// <summary>
/// ZEGO Token04 (the room login token of ZEGO's server assistants): "04" + Base64(expire int64 BE ‖ ivLen uint16 BE ‖
/// iv ‖ cipherLen uint16 BE ‖ AES-CBC-PKCS7(key = ServerSecret bytes, iv)( {"app_id","user_id","ctime","expire","nonce","payload"} )).
/// </summary>
public static class Token04
{
    /// <summary>Privilege key "log into the room".</summary>
    public const int PrivilegeLogin = 1;

    /// <summary>Privilege key "publish a stream".</summary>
    public const int PrivilegePublish = 2;

    private const string IvAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Mints a token valid for <paramref name="validity"/> from now (<paramref name="timeProvider"/>).</summary>
    /// <param name="payload">Empty for a basic token, or privilege JSON from <see cref="BuildPayload"/>.</param>
    public static string Mint(uint appId, string userId, string serverSecret, TimeSpan validity, string? payload, TimeProvider timeProvider)
    {
        if (appId == 0)
        {
            throw new ArgumentException("appId must not be 0", nameof(appId));
        }

        ArgumentException.ThrowIfNullOrEmpty(userId);
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (validity <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(validity), "validity must be positive");
        }

        var ctime = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        Span<char> iv = stackalloc char[16];
        for (var i = 0; i < iv.Length; i++)
        {
            iv[i] = IvAlphabet[RandomNumberGenerator.GetInt32(IvAlphabet.Length)];
        }

        return Mint(appId, userId, serverSecret, ctime, ctime + (long)validity.TotalSeconds, RandomNumberGenerator.GetInt32(int.MaxValue), payload ?? "", new string(iv));
    }

    /// <summary>Deterministic minting (fixed times, nonce and IV) for test vectors.</summary>
    internal static string Mint(uint appId, string userId, string serverSecret, long ctime, long expire, int nonce, string payload, string iv)
    {
        var key = KeyOf(serverSecret);
        var ivBytes = Encoding.ASCII.GetBytes(iv);
        if (ivBytes.Length != 16)
        {
            throw new ArgumentException("iv must be 16 characters", nameof(iv));
        }

        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteNumber("app_id", appId);
            writer.WriteString("user_id", userId);
            writer.WriteNumber("ctime", ctime);
            writer.WriteNumber("expire", expire);
            writer.WriteNumber("nonce", nonce);
            writer.WriteString("payload", payload);
            writer.WriteEndObject();
        }

        using var aes = Aes.Create();
        aes.Key = key;
        var cipher = aes.EncryptCbc(stream.ToArray(), ivBytes, PaddingMode.PKCS7);
        if (cipher.Length > ushort.MaxValue)
        {
            throw new ArgumentException("payload is too large for a Token04", nameof(payload));
        }

        var packed = new byte[8 + 2 + ivBytes.Length + 2 + cipher.Length];
        BinaryPrimitives.WriteInt64BigEndian(packed, expire);
        BinaryPrimitives.WriteUInt16BigEndian(packed.AsSpan(8), (ushort)ivBytes.Length);
        ivBytes.CopyTo(packed, 10);
        BinaryPrimitives.WriteUInt16BigEndian(packed.AsSpan(10 + ivBytes.Length), (ushort)cipher.Length);
        cipher.CopyTo(packed, 12 + ivBytes.Length);
        return "04" + Convert.ToBase64String(packed);
    }

    /// <summary>
    /// Builds the privilege payload <c>{"room_id","privilege":{"1":0|1,"2":0|1},"stream_id_list":[…]|null}</c>.
    /// </summary>
    public static string BuildPayload(string roomId, bool canLogin, bool canPublish, IReadOnlyList<string>? streamIds = null)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("room_id", roomId);
            writer.WriteStartObject("privilege");
            writer.WriteNumber("1", canLogin ? 1 : 0);
            writer.WriteNumber("2", canPublish ? 1 : 0);
            writer.WriteEndObject();
            if (streamIds is null)
            {
                writer.WriteNull("stream_id_list");
            }
            else
            {
                writer.WriteStartArray("stream_id_list");
                foreach (var id in streamIds)
                {
                    writer.WriteStringValue(id);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Splits a token into its clear parts; false with a reason when it is not a well-formed Token04.</summary>
    internal static bool TryUnpack(string token, out long expire, out byte[] iv, out byte[] cipher, out string? error)
    {
        expire = 0;
        iv = [];
        cipher = [];
        if (token.Length < 3 || !token.StartsWith("04", StringComparison.Ordinal))
        {
            error = "Token is not a Token04 (it must start with \"04\")";
            return false;
        }

        byte[] packed;
        try
        {
            packed = Convert.FromBase64String(token[2..]);
        }
        catch (FormatException)
        {
            error = "Token is not valid Base64 after the \"04\" prefix";
            return false;
        }

        if (packed.Length < 12)
        {
            error = "Token is too short";
            return false;
        }

        expire = BinaryPrimitives.ReadInt64BigEndian(packed);
        int ivLength = BinaryPrimitives.ReadUInt16BigEndian(packed.AsSpan(8));
        if (ivLength != 16 || packed.Length < 12 + ivLength)
        {
            error = "Token has a bad IV length";
            return false;
        }

        iv = packed.AsSpan(10, ivLength).ToArray();
        int cipherLength = BinaryPrimitives.ReadUInt16BigEndian(packed.AsSpan(10 + ivLength));
        if (cipherLength == 0 || cipherLength % 16 != 0 || packed.Length != 12 + ivLength + cipherLength)
        {
            error = "Token has a bad ciphertext length";
            return false;
        }

        cipher = packed.AsSpan(12 + ivLength, cipherLength).ToArray();
        error = null;
        return true;
    }

    /// <summary>Decrypts and parses the token body with <paramref name="serverSecret"/>; null when it does not decrypt to a Token04 body.</summary>
    internal static Token04Claims? TryDecrypt(byte[] iv, byte[] cipher, string serverSecret)
    {
        byte[] key;
        try
        {
            key = KeyOf(serverSecret);
        }
        catch (ArgumentException)
        {
            return null;
        }

        byte[] plain;
        try
        {
            using var aes = Aes.Create();
            aes.Key = key;
            plain = aes.DecryptCbc(cipher, iv, PaddingMode.PKCS7);
        }
        catch (CryptographicException)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(plain);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("app_id", out var appId) || !appId.TryGetUInt32(out var app)
                || !root.TryGetProperty("user_id", out var userId) || userId.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("expire", out var expire) || !expire.TryGetInt64(out var expireValue))
            {
                return null;
            }

            var ctime = root.TryGetProperty("ctime", out var c) && c.TryGetInt64(out var cv) ? cv : 0;
            var nonce = root.TryGetProperty("nonce", out var n) && n.TryGetInt32(out var nv) ? nv : 0;
            var payload = root.TryGetProperty("payload", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
            return new Token04Claims(app, userId.GetString()!, ctime, expireValue, nonce, payload);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static byte[] KeyOf(string serverSecret)
    {
        ArgumentNullException.ThrowIfNull(serverSecret);
        var key = Encoding.UTF8.GetBytes(serverSecret);
        if (key.Length is not (16 or 24 or 32))
        {
            throw new ArgumentException("serverSecret must be 16, 24 or 32 bytes (ZEGO secrets are 32 characters)", nameof(serverSecret));
        }

        return key;
    }
}

/// <summary>The decrypted body of a Token04.</summary>
public sealed record Token04Claims(uint AppId, string UserId, long CreatedAt, long ExpiresAt, int Nonce, string Payload);
