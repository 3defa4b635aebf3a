using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Parley.Client;

/// <summary>
/// For apps receiving callbacks: checks the SHA-1 signature of spec 6.2 (Nonce, Timestamp and CallbackSecret sorted in
/// ordinal order, concatenated, SHA-1, lowercase hex).
/// </summary>
public static class CallbackVerifier
{
    public static string ComputeSignature(string nonce, string timestamp, string callbackSecret)
    {
        ArgumentNullException.ThrowIfNull(nonce);
        ArgumentNullException.ThrowIfNull(timestamp);
        ArgumentNullException.ThrowIfNull(callbackSecret);
        string[] parts = [nonce, timestamp, callbackSecret];
        Array.Sort(parts, StringComparer.Ordinal);
        return Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(string.Concat(parts))));
    }

    public static bool Verify(string nonce, string timestamp, string callbackSecret, string? signature)
    {
        if (signature is null || signature.Length != 40)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(ComputeSignature(nonce, timestamp, callbackSecret));
        var actual = Encoding.ASCII.GetBytes(signature.ToLowerInvariant());
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    /// <summary>Verifies a callback body as received (uses its Nonce, Timestamp and Signature fields).</summary>
    public static bool VerifyBody(string json, string callbackSecret)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("Nonce", out var nonce) || nonce.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("Timestamp", out var timestamp)
                || !root.TryGetProperty("Signature", out var signature) || signature.ValueKind != JsonValueKind.String)
            {
                return false;
            }

            var timestampText = timestamp.ValueKind switch
            {
                JsonValueKind.Number => timestamp.GetRawText(),
                JsonValueKind.String => timestamp.GetString()!,
                _ => null,
            };
            return timestampText is not null && Verify(nonce.GetString()!, timestampText, callbackSecret, signature.GetString());
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
