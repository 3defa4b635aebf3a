using System.Security.Cryptography;
using System.Text;

namespace Parley.Server.Api;

/// <summary>The contract's request signature (spec 1.4): lowercase hex MD5 of AppId + SignatureNonce + ServerSecret + Timestamp.</summary>
public static class RequestSignature
{
    public static string Compute(uint appId, string nonce, string serverSecret, string timestamp)
    {
        Span<byte> hash = stackalloc byte[16];
        Compute(appId, nonce, serverSecret, timestamp, hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>Checks a signature (hex, case-insensitive) in constant time.</summary>
    public static bool Verify(uint appId, string nonce, string serverSecret, string timestamp, string signature)
    {
        if (signature.Length != 32)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[16];
        Compute(appId, nonce, serverSecret, timestamp, expected);
        Span<byte> given = stackalloc byte[16];
        try
        {
            if (Convert.FromHexString(signature, given, out _, out var written) != System.Buffers.OperationStatus.Done || written != 16)
            {
                return false;
            }
        }
        catch (FormatException)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    /// <summary>Writes AppId, nonce, secret and timestamp as UTF-8 into one buffer (stack or pooled) and hashes it: no allocation.</summary>
    private static void Compute(uint appId, string nonce, string serverSecret, string timestamp, Span<byte> hash)
    {
        var utf8 = Encoding.UTF8;
        var maxBytes = 10 + utf8.GetMaxByteCount(nonce.Length) + utf8.GetMaxByteCount(serverSecret.Length) + utf8.GetMaxByteCount(timestamp.Length);
        byte[]? rented = null;
        var buffer = maxBytes <= 512 ? stackalloc byte[512] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            appId.TryFormat(buffer, out var length, default, System.Globalization.CultureInfo.InvariantCulture);
            length += utf8.GetBytes(nonce, buffer[length..]);
            length += utf8.GetBytes(serverSecret, buffer[length..]);
            length += utf8.GetBytes(timestamp, buffer[length..]);
            MD5.HashData(buffer[..length], hash);
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
