namespace Parley.Providers.DashScope;

/// <summary>
/// A DashScope vendor failure: the handshake was refused (bad API key, unreachable endpoint), the server reported
/// task-failed (<see cref="ErrorCode"/> is its <c>header.error_code</c>), or the connection broke mid-task.
/// Messages never contain the API key.
/// </summary>
public sealed class DashScopeException : Exception
{
    public DashScopeException(string message, string? errorCode = null, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The server's <c>header.error_code</c> for task-failed, "Unauthorized" for a rejected key, else null.</summary>
    public string? ErrorCode { get; }
}
