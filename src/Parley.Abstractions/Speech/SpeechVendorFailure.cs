namespace Parley.Abstractions.Speech;

/// <summary>How a speech vendor's failure is reported to the backend (the contract's TTS 2301–2305 codes).</summary>
public enum SpeechFailureKind
{
    /// <summary>Anything else: unreachable, broken, a server error (2301).</summary>
    General,

    /// <summary>The vendor refused the request's parameters, text or voice (2302).</summary>
    InvalidParameter,

    /// <summary>The vendor refused the credentials (2303).</summary>
    Authentication,

    /// <summary>A concurrency or rate limit was reached (2304).</summary>
    RateLimited,

    /// <summary>The vendor account is overdue (2305).</summary>
    Arrears,
}

/// <summary>A vendor exception that says which kind of failure it is.</summary>
public interface ISpeechVendorFailure
{
    SpeechFailureKind FailureKind { get; }
}

/// <summary>Finds the kind of a failure in an exception or the exceptions it wraps.</summary>
public static class SpeechFailures
{
    public static SpeechFailureKind KindOf(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is ISpeechVendorFailure failure)
            {
                return failure.FailureKind;
            }
        }

        return SpeechFailureKind.General;
    }
}
