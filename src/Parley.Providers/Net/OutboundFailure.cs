using System.Net.Sockets;
using System.Security.Authentication;

namespace Parley.Providers.Net;

/// <summary>
/// Names the class of a failed outbound call in Parley's own words ("connection refused", "timed out", "TLS failure",
/// …). Exception messages of the network stack can carry bytes the far end sent (a banner in an "invalid status line",
/// a server's error text); those messages reach callbacks, room messages and logs, so they are never echoed.
/// </summary>
public static class OutboundFailure
{
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case OutboundPolicyException policy:
                    return policy.Message;
                case ResponseTooLargeException tooLarge:
                    return tooLarge.Message;
                case AuthenticationException:
                    return "TLS failure";
                case TimeoutException:
                    return "timed out";
                case SocketException socket:
                    return Describe(socket.SocketErrorCode);
            }
        }

        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException http)
            {
                switch (http.HttpRequestError)
                {
                    case HttpRequestError.NameResolutionError:
                        return "name not resolved";
                    case HttpRequestError.SecureConnectionError:
                        return "TLS failure";
                    case HttpRequestError.ConnectionError:
                        return "could not connect";
                    case HttpRequestError.ResponseEnded:
                        return "connection closed before the response ended";
                    case HttpRequestError.InvalidResponse:
                    case HttpRequestError.HttpProtocolError:
                    case HttpRequestError.VersionNegotiationError:
                        return "invalid HTTP response";
                    case HttpRequestError.ConfigurationLimitExceeded:
                        return "response exceeds a limit";
                    case HttpRequestError.ProxyTunnelError:
                        return "proxy failure";
                }
            }
        }

        return exception switch
        {
            OperationCanceledException => "timed out",
            System.Text.Json.JsonException or FormatException or InvalidDataException => "invalid response",
            IOException => "connection broken",
            System.Net.WebSockets.WebSocketException => "WebSocket failure",
            _ => "request failed",
        };
    }

    private static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.TimedOut => "timed out",
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "name not resolved",
        SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostDown or SocketError.NetworkDown => "unreachable",
        SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown => "connection reset",
        _ => "could not connect",
    };
}

/// <summary>A reply exceeded one of Parley's size limits (an error body, one SSE line or event, one WebSocket message).</summary>
public sealed class ResponseTooLargeException(string message) : IOException(message);
