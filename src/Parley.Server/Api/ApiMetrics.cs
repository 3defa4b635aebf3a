using Prometheus;

namespace Parley.Server.Api;

internal static class ApiMetrics
{
    public static readonly Counter Requests = Metrics.CreateCounter(
        "parley_api_requests_total", "Control API requests by action and return code.", "action", "code");
}
