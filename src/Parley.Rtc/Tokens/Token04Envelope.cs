using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Parley.Rtc.Tokens;

/// <summary>How a Token04 body is encrypted; the value is the mode byte ZEGO's helpers append (<c>AesEncryptMode</c>).</summary>
public enum Token04Mode : byte
{
    /// <summary>AES-CBC-PKCS7 with a 16-byte IV: the original form (ZEGO's Go, .NET and Java helpers); no mode byte, or 0.</summary>
    Cbc = 0,

    /// <summary>AES-GCM with a 12-byte nonce and a 16-byte tag after the ciphertext, mode byte 1 (ZEGO's Node.js and C++ helpers, which mark CBC deprecated).</summary>
    Gcm = 1,
}

/// <summary>
/// The clear parts of a Token04: "04" + Base64(expire int64 BE ‖ ivLen uint16 BE ‖ iv ‖ cipherLen uint16 BE ‖ cipher
/// [‖ mode uint8]). CBC: ivLen 16, cipher a multiple of 16 bytes, no mode byte (or mode 0). GCM: ivLen 12, cipher =
/// ciphertext ‖ 16-byte tag, mode 1. The form is told by the bytes after the ciphertext, and each form's lengths are
/// checked, so a token of one form never gets decrypted as the other.
/// </summary>
internal readonly record struct Token04Envelope(long Expire, Token04Mode Mode, byte[] Iv, byte[] Cipher)
{
    internal const int CbcIvLength = 16;
    internal const int GcmNonceLength = 12;
    internal const int GcmTagLength = 16;

    // 8 + 2 + iv (≤ 65535) + 2 + cipher (≤ 65535) + 1, as Base64 after "04": nothing longer can be a Token04.
    private const int MaxPackedLength = 8 + 2 + ushort.MaxValue + 2 + ushort.MaxValue + 1;
    internal const int MaxTokenLength = 2 + (MaxPackedLength + 2) / 3 * 4;

    /// <summary>Splits a token into its clear parts; false with a reason when it is not a well-formed Token04 of either form.</summary>
    internal static bool TryUnpack(string token, out Token04Envelope envelope, out string? error)
    {
        envelope = default;
        if (token is null || token.Length < 3 || !token.StartsWith("04", StringComparison.Ordinal))
        {
            error = "Token is not a Token04 (it must start with \"04\")";
            return false;
        }

        if (token.Length > MaxTokenLength)
        {
            error = "Token is too long for a Token04";
            return false;
        }

        var base64 = token.AsSpan(2);
        var packed = new byte[base64.Length / 4 * 3 + 3];
        if (!Convert.TryFromBase64Chars(base64, packed, out var length))
        {
            error = "Token is not valid Base64 after the \"04\" prefix";
            return false;
        }

        var bytes = packed.AsSpan(0, length);
        if (bytes.Length < 8 + 2 + 2)
        {
            error = "Token is too short";
            return false;
        }

        var expire = BinaryPrimitives.ReadInt64BigEndian(bytes);
        int ivLength = BinaryPrimitives.ReadUInt16BigEndian(bytes[8..]);
        if (bytes.Length < 10 + ivLength + 2)
        {
            error = "Token is truncated (its IV length runs past the end)";
            return false;
        }

        int cipherLength = BinaryPrimitives.ReadUInt16BigEndian(bytes[(10 + ivLength)..]);
        var end = 12 + ivLength + cipherLength;
        if (bytes.Length < end)
        {
            error = "Token is truncated (its ciphertext length runs past the end)";
            return false;
        }

        Token04Mode mode;
        switch (bytes.Length - end)
        {
            case 0:
                mode = Token04Mode.Cbc;
                break;
            case 1 when bytes[end] is (byte)Token04Mode.Cbc or (byte)Token04Mode.Gcm:
                mode = (Token04Mode)bytes[end];
                break;
            case 1:
                error = $"Token has an unknown encryption mode byte {bytes[end]} (0 = CBC, 1 = GCM)";
                return false;
            default:
                error = "Token has a bad ciphertext length (bytes left after the ciphertext)";
                return false;
        }

        if (mode == Token04Mode.Cbc && (ivLength != CbcIvLength || cipherLength == 0 || cipherLength % 16 != 0))
        {
            error = ivLength != CbcIvLength ? "Token has a bad IV length for the CBC form (16)" : "Token has a bad ciphertext length for the CBC form";
            return false;
        }

        if (mode == Token04Mode.Gcm && (ivLength != GcmNonceLength || cipherLength <= GcmTagLength))
        {
            error = ivLength != GcmNonceLength ? "Token has a bad nonce length for the GCM form (12)" : "Token has a bad ciphertext length for the GCM form (no room for its 16-byte tag)";
            return false;
        }

        envelope = new Token04Envelope(expire, mode, bytes.Slice(10, ivLength).ToArray(), bytes.Slice(12 + ivLength, cipherLength).ToArray());
        error = null;
        return true;
    }

    /// <summary>
    /// Decrypts (CBC) or authenticates and decrypts (GCM) the body with <paramref name="serverSecret"/>, and parses it;
    /// null when it does not decrypt to a Token04 body. One key schedule per call, disposed with it, in both forms.
    /// </summary>
    internal Token04Claims? TryDecrypt(string serverSecret)
    {
        if (!Token04.TryKeyOf(serverSecret, out var key))
        {
            return null;
        }

        byte[] plain;
        try
        {
            if (Mode == Token04Mode.Gcm)
            {
                var textLength = Cipher.Length - GcmTagLength;
                plain = new byte[textLength];
                using var gcm = new AesGcm(key, GcmTagLength);
                gcm.Decrypt(Iv, Cipher.AsSpan(0, textLength), Cipher.AsSpan(textLength), plain);
            }
            else
            {
                using var aes = Aes.Create();
                aes.Key = key;
                plain = aes.DecryptCbc(Cipher, Iv, PaddingMode.PKCS7);
            }
        }
        catch (CryptographicException)
        {
            // Wrong key, tampered ciphertext, IV or tag (AuthenticationTagMismatchException is one), bad padding.
            return null;
        }

        return ParseBody(plain, Mode);
    }

    private static Token04Claims? ParseBody(byte[] plain, Token04Mode mode)
    {
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
            return new Token04Claims(app, userId.GetString()!, ctime, expireValue, nonce, payload) { Mode = mode };
        }
        catch (Exception ex) when (ex is JsonException or DecoderFallbackException or InvalidOperationException)
        {
            return null;
        }
    }
}
