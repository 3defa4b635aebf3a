using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Net.Http.Headers;
using Parley.Server.Api;
using Parley.Server.Apps;
using Parley.Rtc.Tokens;

namespace Parley.Server.Playground;

/// <summary>
/// The browser playground, a tool for the user of the server's own machine (docs/security.md, "Playground"):
/// <c>GET /</c> without <c>Action</c> serves the page, <c>/playground/api/*</c> lets the page call the control API as
/// the development app (or the first configured app) and mint a Token04. On only when the server runs on its
/// development app or <c>Parley:Playground:Enabled</c> says so; then it answers loopback clients that name a loopback
/// host (no DNS rebinding), and its API only same-origin JSON requests carrying the per-start token embedded in the
/// page (no cross-site requests, and no calls from the server's own outbound clients). <c>/parley-client.js</c>, the
/// browser client library, holds no secret and is always served.
/// </summary>
public static partial class PlaygroundEndpoints
{
    /// <summary>The header the page sends the token in.</summary>
    public const string TokenHeader = "X-Parley-Playground-Token";

    private const string TokenPlaceholder = "__PARLEY_PLAYGROUND_TOKEN__";

    private static readonly Dictionary<string, (string Resource, string ContentType)> Assets = new(StringComparer.Ordinal)
    {
        ["/"] = ("index.html", "text/html; charset=utf-8"),
        ["/index.html"] = ("index.html", "text/html; charset=utf-8"),
        ["/playground.js"] = ("playground.js", "text/javascript; charset=utf-8"),
        ["/parley-client.js"] = ("parley-client.js", "text/javascript; charset=utf-8"),
    };

    private static readonly JsonSerializerOptions SessionJson = new();

    public static WebApplication MapPlayground(this WebApplication app)
    {
        var gate = new PlaygroundGate(IsEnabled(app));
        if (gate.Enabled)
        {
            LogEnabled(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Parley.Playground"));
        }

        // "/" belongs to the control API for POSTs and requests with ?Action=; a browser's plain GET gets the page.
        app.Use(async (http, next) =>
        {
            if (gate.Enabled && (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
                && http.Request.Path == "/" && !ControlApiEndpoint.IsApiRequest(http.Request))
            {
                await ServePageAsync(http, gate, "/").ConfigureAwait(false);
                return;
            }

            await next(http).ConfigureAwait(false);
        });
        app.MapGet("/parley-client.js", (HttpContext http) => ServeAssetAsync(http, "/parley-client.js", null)).ExcludeFromDescription();
        foreach (var path in new[] { "/index.html", "/playground.js" })
        {
            app.MapGet(path, (HttpContext http) => ServePageAsync(http, gate, path)).ExcludeFromDescription();
        }

        app.MapPost("/playground/api/call/{action}", (HttpContext http, string action, CancellationToken ct) => CallAsync(http, gate, action, ct)).DisableAntiforgery();
        app.MapPost("/playground/api/session", (HttpContext http, CancellationToken ct) => SessionAsync(http, gate, ct)).DisableAntiforgery();
        return app;
    }

    /// <summary><c>Parley:Playground:Enabled</c> when set; otherwise on exactly when the server runs on its generated development app.</summary>
    private static bool IsEnabled(WebApplication app) =>
        app.Configuration.GetValue<bool?>("Parley:Playground:Enabled")
        ?? app.Services.GetRequiredService<IAppDirectory>() is AppDirectory { DevelopmentApp: not null };

    private static async Task ServePageAsync(HttpContext http, PlaygroundGate gate, string path)
    {
        if (!gate.Enabled)
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        if (RefuseClient(http) is { } refusal)
        {
            http.Response.StatusCode = StatusCodes.Status403Forbidden;
            await http.Response.WriteAsync(refusal, http.RequestAborted).ConfigureAwait(false);
            return;
        }

        var headers = http.Response.Headers;
        headers.XFrameOptions = "DENY";
        headers.ContentSecurityPolicy = "frame-ancestors 'none'";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XContentTypeOptions = "nosniff";
        await ServeAssetAsync(http, path, gate.Token).ConfigureAwait(false);
    }

    /// <summary>Serves an embedded asset; in the page, the token placeholder becomes <paramref name="token"/> (and the page is not stored by caches).</summary>
    private static async Task ServeAssetAsync(HttpContext http, string path, string? token)
    {
        var (resource, contentType) = Assets[path];
        await using var stream = typeof(PlaygroundEndpoints).Assembly.GetManifestResourceStream("Parley.Server.wwwroot." + resource);
        if (stream is null)
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        http.Response.ContentType = contentType;
        if (token is not null && resource == "index.html")
        {
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var page = Encoding.UTF8.GetBytes((await reader.ReadToEndAsync(http.RequestAborted).ConfigureAwait(false)).Replace(TokenPlaceholder, token, StringComparison.Ordinal));
            http.Response.Headers.CacheControl = "no-store";
            http.Response.ContentLength = page.Length;
            if (!HttpMethods.IsHead(http.Request.Method))
            {
                await http.Response.Body.WriteAsync(page, http.RequestAborted).ConfigureAwait(false);
            }

            return;
        }

        http.Response.Headers.CacheControl = "no-cache";
        http.Response.ContentLength = stream.Length;
        if (!HttpMethods.IsHead(http.Request.Method))
        {
            await stream.CopyToAsync(http.Response.Body, http.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>Loopback only, and not through a proxy (a proxy on the same host would make every caller look local).</summary>
    internal static bool IsLocal(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } remote
        && IPAddress.IsLoopback(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote)
        && !http.Request.Headers.ContainsKey("X-Forwarded-For")
        && !http.Request.Headers.ContainsKey("Forwarded");

    /// <summary>
    /// The Host header names this machine's loopback (<c>localhost</c>, <c>127.0.0.1</c>, <c>[::1]</c>): a page of another
    /// site whose name was re-pointed at 127.0.0.1 (DNS rebinding) sends its own name and is refused.
    /// </summary>
    internal static bool IsLoopbackHost(HttpContext http)
    {
        var host = http.Request.Host.Host.Trim('[', ']');
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address));
    }

    /// <summary>Same origin: <c>Origin</c>, when sent, is this server as the request addressed it; <c>Sec-Fetch-Site</c>, when sent, is <c>same-origin</c>.</summary>
    internal static bool IsSameOrigin(HttpContext http)
    {
        var request = http.Request;
        var fetchSite = request.Headers["Sec-Fetch-Site"].ToString();
        if (fetchSite.Length > 0 && !fetchSite.Equals("same-origin", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return true;
        }

        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.AbsolutePath != "/" || !string.IsNullOrEmpty(uri.Query))
        {
            return false;
        }

        var port = request.Host.Port ?? (request.IsHttps ? 443 : 80);
        return uri.Scheme.Equals(request.Scheme, StringComparison.OrdinalIgnoreCase)
            && uri.Host.Trim('[', ']').Equals(request.Host.Host.Trim('[', ']'), StringComparison.OrdinalIgnoreCase)
            && uri.Port == port;
    }

    private static string? RefuseClient(HttpContext http)
    {
        if (!IsLocal(http))
        {
            return "the playground answers loopback requests only";
        }

        return IsLoopbackHost(http) ? null : "the playground answers only requests addressed to localhost, 127.0.0.1 or [::1]";
    }

    /// <summary>Every check of an API request; null when it may proceed, else the refusal to send.</summary>
    private static IResult? RefuseApi(HttpContext http, PlaygroundGate gate)
    {
        if (!gate.Enabled)
        {
            return Results.Text("the playground is off (Parley:Playground:Enabled)", statusCode: StatusCodes.Status404NotFound);
        }

        if (RefuseClient(http) is { } refusal)
        {
            return Results.Text(refusal, statusCode: StatusCodes.Status403Forbidden);
        }

        if (!IsSameOrigin(http))
        {
            return Results.Text("the playground API answers same-origin requests only", statusCode: StatusCodes.Status403Forbidden);
        }

        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var type) || !type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return Results.Text("the playground API takes Content-Type: application/json", statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        if (!gate.Accepts(http.Request.Headers[TokenHeader].ToString()))
        {
            return Results.Text($"the playground token ({TokenHeader}) is missing or wrong; reload the page", statusCode: StatusCodes.Status403Forbidden);
        }

        return null;
    }

    private static AppOptions? PlaygroundApp(IServiceProvider services)
    {
        var directory = services.GetRequiredService<IAppDirectory>();
        return directory is AppDirectory { DevelopmentApp: { } dev } ? dev : directory.Apps.FirstOrDefault();
    }

    /// <summary>
    /// Runs <c>POST /?Action={action}</c> with the JSON body, signed as the playground app. In process: the request goes
    /// through the control API's own endpoint (signature, rate limit, body checks) without a network call, so the
    /// playground needs no HTTP client of its own, and works whatever the server listens on (HTTPS, a Unix socket).
    /// </summary>
    private static async Task<IResult> CallAsync(HttpContext http, PlaygroundGate gate, string action, CancellationToken cancellationToken)
    {
        if (RefuseApi(http, gate) is { } refused)
        {
            return refused;
        }

        if (PlaygroundApp(http.RequestServices) is not { } app)
        {
            return Results.Text("no app is configured", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        if (action.Length is 0 or > 64 || !action.All(char.IsAsciiLetterOrDigit))
        {
            return Results.Text("action must be an API action name", statusCode: StatusCodes.Status400BadRequest);
        }

        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body, cancellationToken).ConfigureAwait(false);
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var timestamp = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var signature = RequestSignature.Compute(app.AppId, nonce, app.ServerSecret, timestamp);
        var inner = new DefaultHttpContext { RequestServices = http.RequestServices, RequestAborted = cancellationToken };
        inner.Connection.RemoteIpAddress = http.Connection.RemoteIpAddress;
        inner.Request.Method = HttpMethods.Post;
        inner.Request.Scheme = http.Request.Scheme;
        inner.Request.Host = http.Request.Host;
        inner.Request.Path = "/";
        inner.Request.QueryString = new QueryString(
            $"?Action={action}&AppId={app.AppId}&SignatureNonce={nonce}&Timestamp={timestamp}&Signature={signature}&SignatureVersion=2.0");
        inner.Request.ContentType = "application/json";
        inner.Request.ContentLength = body.Length;
        body.Position = 0;
        inner.Request.Body = body;
        using var reply = new MemoryStream();
        inner.Response.Body = reply;
        await gate.ControlApi(http.RequestServices)(inner).ConfigureAwait(false);
        return Results.Text(Encoding.UTF8.GetString(reply.GetBuffer(), 0, (int)reply.Length), "application/json", statusCode: inner.Response.StatusCode);
    }

    /// <summary>Mints a Token04 (1 hour, room-scoped) for the browser's room login.</summary>
    private static async Task<IResult> SessionAsync(HttpContext http, PlaygroundGate gate, CancellationToken cancellationToken)
    {
        if (RefuseApi(http, gate) is { } refused)
        {
            return refused;
        }

        if (PlaygroundApp(http.RequestServices) is not { } app)
        {
            return Results.Text("no app is configured", statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        string? roomId = null, userId = null;
        try
        {
            using var document = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                roomId = document.RootElement.TryGetProperty("RoomId", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
                userId = document.RootElement.TryGetProperty("UserId", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return Results.Text("the body must be a JSON object {RoomId, UserId}", statusCode: StatusCodes.Status400BadRequest);
        }

        roomId = string.IsNullOrEmpty(roomId) ? "playground_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)) : roomId;
        userId = string.IsNullOrEmpty(userId) ? "user_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3)) : userId;
        if ((Parley.Rtc.Rooms.RoomIds.ValidateRoomId(roomId) ?? Parley.Rtc.Rooms.RoomIds.ValidateUserId(userId)) is { } error)
        {
            return Results.Text(error, statusCode: StatusCodes.Status400BadRequest);
        }

        var time = http.RequestServices.GetRequiredService<TimeProvider>();
        var token = Token04.Mint(app.AppId, userId, app.ServerSecret, TimeSpan.FromHours(1), Token04.BuildPayload(roomId, true, true), time);
        return Results.Json(new { app.AppId, RoomId = roomId, UserId = userId, Token = token }, SessionJson);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The playground is on: open the server's address on this machine (loopback only)")]
    private static partial void LogEnabled(ILogger logger);

    /// <summary>Whether the playground is on, and its per-start token (32 random bytes; compared in constant time).</summary>
    private sealed class PlaygroundGate(bool enabled)
    {
        private readonly byte[] _token = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));
        private RequestDelegate? _controlApi;

        public bool Enabled { get; } = enabled;

        public string Token => Encoding.ASCII.GetString(_token);

        public bool Accepts(string presented)
        {
            var bytes = Encoding.UTF8.GetBytes(presented);
            return bytes.Length == _token.Length && CryptographicOperations.FixedTimeEquals(bytes, _token);
        }

        /// <summary>The control API's endpoint (named <c>ControlApi</c>), looked up once.</summary>
        public RequestDelegate ControlApi(IServiceProvider services) => _controlApi ??= services.GetRequiredService<EndpointDataSource>().Endpoints
            .First(e => e.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName == "ControlApi")
            .RequestDelegate ?? throw new InvalidOperationException("the ControlApi endpoint has no request delegate");
    }
}
