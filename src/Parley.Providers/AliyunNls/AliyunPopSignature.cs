using System.Security.Cryptography;
using System.Text;

namespace Parley.Providers.AliyunNls;

/// <summary>
/// Alibaba Cloud's POP RPC signature (SignatureMethod HMAC-SHA1, SignatureVersion 1.0), as documented for NLS's
/// CreateToken ("Obtain a token using OpenAPI", help.aliyun.com/en/isi/getting-started/use-http-or-https-to-obtain-an-access-token):
/// the parameters sorted by name, each name and value percent-encoded (RFC 3986: unreserved characters kept, space
/// %20, <c>*</c> %2A, <c>~</c> kept) and joined as <c>name=value</c> with <c>&amp;</c>; the string to sign is
/// <c>METHOD&amp;%2F&amp;percentEncode(canonicalized)</c>; the signature is Base64(HMAC-SHA1(secret + "&amp;", it)).
/// </summary>
internal static class AliyunPopSignature
{
    public static string Canonicalize(IEnumerable<KeyValuePair<string, string>> parameters) =>
        string.Join('&', parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Encode(p.Key) + "=" + Encode(p.Value)));

    public static string Sign(string method, string canonicalized, string accessKeySecret)
    {
        var toSign = method + "&" + Encode("/") + "&" + Encode(canonicalized);
        var mac = HMACSHA1.HashData(Encoding.UTF8.GetBytes(accessKeySecret + "&"), Encoding.UTF8.GetBytes(toSign));
        return Convert.ToBase64String(mac);
    }

    /// <summary>RFC 3986 percent-encoding of UTF-8 (upper-case hex), as POP requires.</summary>
    public static string Encode(string value)
    {
        var builder = new StringBuilder(value.Length + 8);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.' or '~')
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
