using System.Net;
using System.Text.Json.Serialization;

namespace Parley.Client;

/// <summary>The common response envelope (spec 1.6). A non-zero <see cref="Code"/> is a result, not an exception.</summary>
public record ApiResult
{
    public int Code { get; init; }

    public string Message { get; init; } = "";

    public string RequestId { get; init; } = "";

    [JsonIgnore]
    public bool IsSuccess => Code == 0;
}

/// <summary>The envelope with the action's <c>Data</c> payload (null when absent or null).</summary>
public sealed record ApiResult<T> : ApiResult
{
    public T? Data { get; init; }
}

/// <summary>The server answered with a non-2xx HTTP status or a body that is not a JSON envelope.</summary>
public sealed class ParleyApiException : Exception
{
    public ParleyApiException(string action, HttpStatusCode statusCode, string responseBody, string message, Exception? inner = null)
        : base(message, inner)
    {
        Action = action;
        StatusCode = statusCode;
        ResponseBody = responseBody;
    }

    public string Action { get; }

    public HttpStatusCode StatusCode { get; }

    public string ResponseBody { get; }
}
