namespace Parley.Providers.DashScope;

/// <summary>
/// A DashScope vendor failure: the handshake was refused (bad API key, unreachable endpoint), the server reported
/// task-failed (<see cref="ErrorCode"/> is its <c>header.error_code</c>), or the connection broke mid-task.
/// Messages never contain the API key.
/// </summary>
public sealed class DashScopeException : Exception, Parley.Abstractions.Speech.ISpeechVendorFailure
{
    public DashScopeException(string message, string? errorCode = null, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The server's <c>header.error_code</c> for task-failed, "Unauthorized" for a rejected key, else null.</summary>
    public string? ErrorCode { get; }

    /// <summary>
    /// The contract's class: a rejected key is 2303; DashScope's throttling codes (<c>Throttling*</c>, e.g.
    /// <c>Throttling.RateQuota</c>) are 2304; <c>InvalidParameter*</c> is 2302; <c>Arrearage</c> 2305; else 2301.
    /// </summary>
    public Parley.Abstractions.Speech.SpeechFailureKind FailureKind => ErrorCode switch
    {
        "Unauthorized" or "InvalidApiKey" => Parley.Abstractions.Speech.SpeechFailureKind.Authentication,
        { } c when c.StartsWith("Throttling", StringComparison.Ordinal) => Parley.Abstractions.Speech.SpeechFailureKind.RateLimited,
        { } c when c.StartsWith("InvalidParameter", StringComparison.Ordinal) => Parley.Abstractions.Speech.SpeechFailureKind.InvalidParameter,
        "Arrearage" => Parley.Abstractions.Speech.SpeechFailureKind.Arrears,
        _ => Parley.Abstractions.Speech.SpeechFailureKind.General,
    };
}
