namespace Parley.Providers.Net;

/// <summary>What kind of failure a speech vendor reported: decides whether retrying can help.</summary>
public enum VendorFailureKind
{
    /// <summary>The credentials were rejected (HTTP 401/403, a signature or key error code).</summary>
    Unauthorized,

    /// <summary>The account's concurrency or request rate is exceeded (HTTP 429, a concurrency error code).</summary>
    RateLimited,

    /// <summary>The vendor refused a parameter or the audio.</summary>
    InvalidRequest,

    /// <summary>The vendor reported an internal error.</summary>
    ServiceError,

    /// <summary>The connection could not be opened, broke or was closed.</summary>
    Connection,

    /// <summary>The vendor did not answer in time.</summary>
    Timeout,
}

/// <summary>
/// A failure of a WebSocket speech vendor (Tencent, Microsoft, AliyunQwenASR): <see cref="Kind"/> tells auth, rate
/// limit and other failures apart, <see cref="ErrorCode"/> is the vendor's own code when it sent one. Messages are
/// Parley's words plus the vendor's code; they never contain keys, tokens, signatures or a signed URL's query.
/// </summary>
public sealed class SpeechVendorException : Exception
{
    public SpeechVendorException(string vendor, VendorFailureKind kind, string message, string? errorCode = null, Exception? innerException = null)
        : base($"{vendor}: {message}", innerException)
    {
        Vendor = vendor;
        Kind = kind;
        ErrorCode = errorCode;
    }

    public string Vendor { get; }

    public VendorFailureKind Kind { get; }

    /// <summary>The vendor's error code (e.g. Tencent's 4002), or null.</summary>
    public string? ErrorCode { get; }
}
