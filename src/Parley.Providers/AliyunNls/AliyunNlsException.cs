namespace Parley.Providers.AliyunNls;

/// <summary>
/// An Alibaba Intelligent Speech Interaction (NLS) failure: the token request was refused (CreateToken's
/// <c>Code</c>), the gateway refused the handshake, the synthesis ended with <c>TaskFailed</c> (<see cref="Status"/>
/// is its <c>header.status</c>), or the connection broke. <see cref="IsRateLimited"/> tells a concurrency/QPS limit
/// (retry later) from other failures. Messages never contain AccessKey secrets or tokens.
/// </summary>
public sealed class AliyunNlsException : Exception, Parley.Abstractions.Speech.ISpeechVendorFailure
{
    public AliyunNlsException(string message, string errorCode, int? status = null, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        Status = status;
    }

    /// <summary>Parley's class: "RateLimited", "Unauthorized", "TokenFailed", "TaskFailed", "ConnectionBroken", "Timeout", …</summary>
    public string ErrorCode { get; }

    /// <summary>The contract's class of the failure (TTS 2303 credentials, 2304 limits, else 2301).</summary>
    public Parley.Abstractions.Speech.SpeechFailureKind FailureKind => ErrorCode switch
    {
        "Unauthorized" => Parley.Abstractions.Speech.SpeechFailureKind.Authentication,
        "RateLimited" => Parley.Abstractions.Speech.SpeechFailureKind.RateLimited,
        _ => Parley.Abstractions.Speech.SpeechFailureKind.General,
    };

    /// <summary>The gateway's <c>header.status</c> for TaskFailed (e.g. 40000005), else null.</summary>
    public int? Status { get; }

    public bool IsRateLimited => ErrorCode == "RateLimited";

    /// <summary>
    /// Parley's class for an NLS status: 40000005 "too many requests" (concurrency or QPS over the limit) is a rate
    /// limit; 40000001 (authentication failed: bad or expired token) is Unauthorized.
    /// </summary>
    public static string Classify(int status) => status switch
    {
        40000005 => "RateLimited",
        40000001 => "Unauthorized",
        _ => "TaskFailed",
    };
}
