using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Parley.Server.Callbacks;

/// <summary>
/// The callback signature of spec 6.2: the strings Nonce, Timestamp (decimal text, milliseconds for AI-Agent callbacks)
/// and CallbackSecret sorted in ordinal (byte) order, concatenated without separator, SHA-1, lowercase hex.
/// </summary>
public static class CallbackSignature
{
    public static string Compute(string nonce, string timestamp, string secret)
    {
        ArgumentNullException.ThrowIfNull(nonce);
        ArgumentNullException.ThrowIfNull(timestamp);
        ArgumentNullException.ThrowIfNull(secret);

        string[] parts = [nonce, timestamp, secret];
        Array.Sort(parts, StringComparer.Ordinal);
        var joined = string.Concat(parts[0], parts[1], parts[2]);
        var byteCount = Encoding.UTF8.GetByteCount(joined);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        if (byteCount <= 512)
        {
            Span<byte> utf8 = stackalloc byte[byteCount];
            Encoding.UTF8.GetBytes(joined, utf8);
            SHA1.HashData(utf8, hash);
        }
        else
        {
            SHA1.HashData(Encoding.UTF8.GetBytes(joined), hash);
        }

        return Convert.ToHexStringLower(hash);
    }

    public static string Compute(string nonce, long timestamp, string secret) =>
        Compute(nonce, timestamp.ToString(CultureInfo.InvariantCulture), secret);

    /// <summary>True when <paramref name="signature"/> (hex, any case) matches; compared in constant time.</summary>
    public static bool Verify(string nonce, string timestamp, string secret, string? signature)
    {
        if (string.IsNullOrEmpty(signature) || signature.Length != SHA1.HashSizeInBytes * 2)
        {
            return false;
        }

        var expected = Compute(nonce, timestamp, secret);
        Span<byte> a = stackalloc byte[expected.Length];
        Span<byte> b = stackalloc byte[expected.Length];
        for (var i = 0; i < expected.Length; i++)
        {
            a[i] = (byte)expected[i];
            b[i] = (byte)char.ToLowerInvariant(signature[i]);
        }

        return CryptographicOperations.FixedTimeEquals(a, b);
    }

    public static bool Verify(string nonce, long timestamp, string secret, string? signature) =>
        Verify(nonce, timestamp.ToString(CultureInfo.InvariantCulture), secret, signature);
}
