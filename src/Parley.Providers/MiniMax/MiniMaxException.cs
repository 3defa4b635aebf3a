namespace Parley.Providers.MiniMax;

/// <summary>
/// A MiniMax T2A failure: the handshake was refused (bad API key, unreachable endpoint), the server answered with
/// <c>task_failed</c> or a non-zero <c>base_resp.status_code</c> (<see cref="StatusCode"/>), or the connection broke.
/// <see cref="IsRateLimited"/> tells a rate or concurrency limit (retry later, the contract's TTS concurrency error)
/// from other failures. Messages never contain the API key.
/// </summary>
public sealed class MiniMaxException : Exception, Parley.Abstractions.Speech.ISpeechVendorFailure
{
    /// <summary>MiniMax's "rate limit" (1002) and "TPM rate limit" (1039) codes (https://platform.minimax.io/docs/api-reference/errorcode).</summary>
    private static readonly int[] RateLimitCodes = [1002, 1039];

    /// <summary>"not authorized" (1004) and "invalid api key" (2049).</summary>
    private static readonly int[] AuthCodes = [1004, 2049];

    public MiniMaxException(string message, string errorCode, int? statusCode = null, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        StatusCode = statusCode;
    }

    /// <summary>Parley's class of the failure: "RateLimited", "Unauthorized", "TaskFailed", "ConnectionBroken", "ConnectionClosed", "ConnectTimeout", "Timeout", "BadEvent", …</summary>
    public string ErrorCode { get; }

    /// <summary>The contract's class of the failure (TTS 2303 credentials, 2304 limits, else 2301).</summary>
    public Parley.Abstractions.Speech.SpeechFailureKind FailureKind => ErrorCode switch
    {
        "Unauthorized" => Parley.Abstractions.Speech.SpeechFailureKind.Authentication,
        "RateLimited" => Parley.Abstractions.Speech.SpeechFailureKind.RateLimited,
        _ => Parley.Abstractions.Speech.SpeechFailureKind.General,
    };

    /// <summary>MiniMax's <c>base_resp.status_code</c> when the server reported one.</summary>
    public int? StatusCode { get; }

    /// <summary>A rate or concurrency limit: the request may succeed later.</summary>
    public bool IsRateLimited => ErrorCode == "RateLimited";

    /// <summary>The error code Parley uses for a MiniMax <c>base_resp.status_code</c>.</summary>
    public static string Classify(int statusCode) =>
        RateLimitCodes.Contains(statusCode) ? "RateLimited"
        : AuthCodes.Contains(statusCode) ? "Unauthorized"
        : "TaskFailed";
}
