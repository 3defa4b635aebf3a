namespace Parley.Server.Api;

/// <summary>
/// An application error that becomes an envelope with a non-zero <see cref="Code"/> (HTTP 200).
/// The message is shown to the caller: it names the offending field and never holds secrets.
/// </summary>
public sealed class ApiException(int code, string message) : Exception(message)
{
    public int Code { get; } = code;

    public static ApiException InvalidParameter(string message) => new(ReturnCodes.InvalidParameter, message);
}
