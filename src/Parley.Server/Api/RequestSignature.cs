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

    private static void Compute(uint appId, string nonce, string serverSecret, string timestamp, Span<byte> hash)
    {
        var text = string.Concat(appId.ToString(System.Globalization.CultureInfo.InvariantCulture), nonce, serverSecret, timestamp);
        var maxBytes = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[]? rented = null;
        var buffer = maxBytes <= 512 ? stackalloc byte[512] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            var length = Encoding.UTF8.GetBytes(text, buffer);
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
