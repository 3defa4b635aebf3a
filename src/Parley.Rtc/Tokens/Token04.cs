using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Parley.Rtc.Tokens;

/// <summary>
/// ZEGO Token04, the room login token of ZEGO's server assistants, in both of its forms (see <see cref="Token04Envelope"/>
/// for the layout): AES-GCM (<see cref="Token04Mode.Gcm"/>, what ZEGO's Node.js and C++ helpers mint today and Parley
/// mints by default) and AES-CBC (<see cref="Token04Mode.Cbc"/>, the older form of the Go, .NET and Java helpers). The
/// key is the ServerSecret's bytes; the encrypted body is the JSON <c>{"app_id","user_id","nonce","ctime","expire","payload"}</c>.
/// </summary>
public static class Token04
{
    /// <summary>Privilege key "log into the room".</summary>
    public const int PrivilegeLogin = 1;

    /// <summary>Privilege key "publish a stream".</summary>
    public const int PrivilegePublish = 2;

    /// <summary>The form <see cref="Mint(uint, string, string, TimeSpan, string?, TimeProvider, Token04Mode)"/> uses when none is given: GCM, as ZEGO's current helpers.</summary>
    public const Token04Mode DefaultMode = Token04Mode.Gcm;

    private const string IvAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Mints a token valid for <paramref name="validity"/> from now (<paramref name="timeProvider"/>).</summary>
    /// <param name="payload">Empty for a basic token, or privilege JSON from <see cref="BuildPayload"/>.</param>
    /// <param name="mode">The form: <see cref="Token04Mode.Gcm"/> (default) or the older <see cref="Token04Mode.Cbc"/>. Parley verifies both.</param>
    public static string Mint(uint appId, string userId, string serverSecret, TimeSpan validity, string? payload, TimeProvider timeProvider, Token04Mode mode = DefaultMode)
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
        var expire = ctime + (long)validity.TotalSeconds;
        var nonce = RandomNumberGenerator.GetInt32(int.MaxValue);
        switch (mode)
        {
            case Token04Mode.Gcm:
                return MintGcm(appId, userId, serverSecret, ctime, expire, nonce, payload ?? "", RandomNumberGenerator.GetBytes(Token04Envelope.GcmNonceLength));
            case Token04Mode.Cbc:
                Span<char> iv = stackalloc char[Token04Envelope.CbcIvLength];
                for (var i = 0; i < iv.Length; i++)
                {
                    iv[i] = IvAlphabet[RandomNumberGenerator.GetInt32(IvAlphabet.Length)];
                }

                return MintCbc(appId, userId, serverSecret, ctime, expire, nonce, payload ?? "", new string(iv));
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "mode must be Gcm or Cbc");
        }
    }

    /// <summary>Deterministic CBC minting (fixed times, nonce and IV) for test vectors; the body in the Go helper's key order.</summary>
    internal static string MintCbc(uint appId, string userId, string serverSecret, long ctime, long expire, int nonce, string payload, string iv)
    {
        var key = KeyOf(serverSecret);
        var ivBytes = Encoding.ASCII.GetBytes(iv);
        if (ivBytes.Length != Token04Envelope.CbcIvLength)
        {
            throw new ArgumentException("iv must be 16 characters", nameof(iv));
        }

        var body = Body(appId, userId, ctime, expire, nonce, payload, nonceFirst: false);
        using var aes = Aes.Create();
        aes.Key = key;
        return Pack(expire, ivBytes, aes.EncryptCbc(body, ivBytes, PaddingMode.PKCS7), modeByte: null);
    }

    /// <summary>Deterministic GCM minting (fixed times, nonce and GCM nonce) for test vectors; the body in the Node.js helper's key order.</summary>
    internal static string MintGcm(uint appId, string userId, string serverSecret, long ctime, long expire, int nonce, string payload, ReadOnlySpan<byte> gcmNonce)
    {
        var key = KeyOf(serverSecret);
        if (gcmNonce.Length != Token04Envelope.GcmNonceLength)
        {
            throw new ArgumentException("the GCM nonce must be 12 bytes", nameof(gcmNonce));
        }

        var body = Body(appId, userId, ctime, expire, nonce, payload, nonceFirst: true);
        var sealedBody = new byte[body.Length + Token04Envelope.GcmTagLength];
        using (var gcm = new AesGcm(key, Token04Envelope.GcmTagLength))
        {
            gcm.Encrypt(gcmNonce, body, sealedBody.AsSpan(0, body.Length), sealedBody.AsSpan(body.Length));
        }

        return Pack(expire, gcmNonce, sealedBody, (byte)Token04Mode.Gcm);
    }

    private static byte[] Body(uint appId, string userId, long ctime, long expire, int nonce, string payload, bool nonceFirst)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteNumber("app_id", appId);
            writer.WriteString("user_id", userId);
            if (nonceFirst)
            {
                writer.WriteNumber("nonce", nonce);
            }

            writer.WriteNumber("ctime", ctime);
            writer.WriteNumber("expire", expire);
            if (!nonceFirst)
            {
                writer.WriteNumber("nonce", nonce);
            }

            writer.WriteString("payload", payload);
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static string Pack(long expire, ReadOnlySpan<byte> iv, byte[] cipher, byte? modeByte)
    {
        if (cipher.Length > ushort.MaxValue)
        {
            throw new ArgumentException("the payload is too large for a Token04");
        }

        var packed = new byte[8 + 2 + iv.Length + 2 + cipher.Length + (modeByte is null ? 0 : 1)];
        BinaryPrimitives.WriteInt64BigEndian(packed, expire);
        BinaryPrimitives.WriteUInt16BigEndian(packed.AsSpan(8), (ushort)iv.Length);
        iv.CopyTo(packed.AsSpan(10));
        BinaryPrimitives.WriteUInt16BigEndian(packed.AsSpan(10 + iv.Length), (ushort)cipher.Length);
        cipher.CopyTo(packed, 12 + iv.Length);
        if (modeByte is { } mode)
        {
            packed[^1] = mode;
        }

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

    internal static bool TryKeyOf(string? serverSecret, out byte[] key)
    {
        key = serverSecret is null ? [] : Encoding.UTF8.GetBytes(serverSecret);
        return key.Length is 16 or 24 or 32;
    }

    private static byte[] KeyOf(string serverSecret)
    {
        ArgumentNullException.ThrowIfNull(serverSecret);
        if (!TryKeyOf(serverSecret, out var key))
        {
            throw new ArgumentException("serverSecret must be 16, 24 or 32 bytes (ZEGO secrets are 32 characters)", nameof(serverSecret));
        }

        return key;
    }
}

/// <summary>The decrypted body of a Token04.</summary>
public sealed record Token04Claims(uint AppId, string UserId, long CreatedAt, long ExpiresAt, int Nonce, string Payload)
{
    /// <summary>The form the token came in.</summary>
    public Token04Mode Mode { get; init; }
}
