namespace Parley.Providers.Volcengine;

/// <summary>What kind of failure a <see cref="VolcengineException"/> is (callers tell a rate limit from a bad key).</summary>
public enum VolcengineErrorKind
{
    /// <summary>Credentials refused (HTTP 401/403 at the handshake, an auth or voice-permission error code).</summary>
    Unauthorized,

    /// <summary>Concurrency or rate limit reached, or the service is busy: retrying later may work.</summary>
    RateLimited,

    /// <summary>The request was refused as invalid (parameters, text, voice, audio format).</summary>
    InvalidRequest,

    /// <summary>The service reported an internal error.</summary>
    ServerError,

    /// <summary>The connection could not be opened (refused, unreachable, TLS, handshake).</summary>
    ConnectFailed,

    /// <summary>The connection broke or was closed mid-request.</summary>
    ConnectionBroken,

    /// <summary>The service did not answer in time.</summary>
    Timeout,

    /// <summary>The service sent something that is not the protocol.</summary>
    Protocol,
}

/// <summary>
/// A Volcengine (ByteDance) speech vendor failure: <see cref="Kind"/> classifies it, <see cref="Code"/> is the
/// service's status or error code when it sent one (e.g. 45000000, 55000000, 3003). Messages name the vendor and never
/// contain the token.
/// </summary>
public sealed class VolcengineException(string message, VolcengineErrorKind kind, long? code = null, Exception? innerException = null)
    : Exception(message, innerException), Parley.Abstractions.Speech.ISpeechVendorFailure
{
    /// <summary>The contract's class of the failure (TTS 2302 parameters, 2303 credentials, 2304 limits).</summary>
    public Parley.Abstractions.Speech.SpeechFailureKind FailureKind => Kind switch
    {
        VolcengineErrorKind.Unauthorized => Parley.Abstractions.Speech.SpeechFailureKind.Authentication,
        VolcengineErrorKind.RateLimited => Parley.Abstractions.Speech.SpeechFailureKind.RateLimited,
        VolcengineErrorKind.InvalidRequest => Parley.Abstractions.Speech.SpeechFailureKind.InvalidParameter,
        _ => Parley.Abstractions.Speech.SpeechFailureKind.General,
    };

    public VolcengineErrorKind Kind { get; } = kind;

    public long? Code { get; } = code;

    /// <summary>Maps a V3 status/error code (and its message) to a kind: 45xxxxxx client errors, 55xxxxxx server errors.</summary>
    internal static VolcengineErrorKind KindOfV3(long code, string? message)
    {
        var text = message ?? "";
        if (text.Contains("quota exceeded", StringComparison.OrdinalIgnoreCase) || text.Contains("concurren", StringComparison.OrdinalIgnoreCase)
            || text.Contains("limit exceeded", StringComparison.OrdinalIgnoreCase) || text.Contains("too many", StringComparison.OrdinalIgnoreCase)
            || code is 55000031 or 45000292)
        {
            return VolcengineErrorKind.RateLimited;
        }

        if (text.Contains("permission", StringComparison.OrdinalIgnoreCase) || text.Contains("unauthorized", StringComparison.OrdinalIgnoreCase)
            || text.Contains("access denied", StringComparison.OrdinalIgnoreCase) || text.Contains("auth", StringComparison.OrdinalIgnoreCase))
        {
            return VolcengineErrorKind.Unauthorized;
        }

        return code switch
        {
            45000081 => VolcengineErrorKind.Timeout,
            >= 40000000 and < 50000000 => VolcengineErrorKind.InvalidRequest,
            _ => VolcengineErrorKind.ServerError,
        };
    }

    /// <summary>Maps the legacy HTTP TTS codes (3000 = success).</summary>
    internal static VolcengineErrorKind KindOfV1(long code) => code switch
    {
        3003 or 3005 => VolcengineErrorKind.RateLimited,
        3001 or 3010 or 3011 or 3050 => VolcengineErrorKind.InvalidRequest,
        3030 or 3032 => VolcengineErrorKind.Timeout,
        _ => VolcengineErrorKind.ServerError,
    };

    /// <summary>A vendor message cut to a sane length (it is the far end's text).</summary>
    internal static string Clip(string? message) =>
        string.IsNullOrWhiteSpace(message) ? "no message" : message.Length <= 200 ? message : message[..200] + "…";
}
