using System.Globalization;
using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using Parley.Server.Api;
using Parley.Server.Apps;
using Parley.Rtc.Tokens;

namespace Parley.Server.Playground;

/// <summary>
/// The browser playground: <c>GET /</c> without <c>Action</c> serves the page, <c>/parley-client.js</c> the client library,
/// and <c>/playground/api/*</c> lets the page call the server's own control API signed with the development app (or the
/// first configured app) and mint a Token04. The API part answers loopback requests only (403 otherwise).
/// </summary>
public static partial class PlaygroundEndpoints
{
    private static readonly Dictionary<string, (string Resource, string ContentType)> Assets = new(StringComparer.Ordinal)
    {
        ["/"] = ("index.html", "text/html; charset=utf-8"),
        ["/index.html"] = ("index.html", "text/html; charset=utf-8"),
        ["/playground.js"] = ("playground.js", "text/javascript; charset=utf-8"),
        ["/parley-client.js"] = ("parley-client.js", "text/javascript; charset=utf-8"),
    };

    private static readonly JsonSerializerOptions SessionJson = new();

    private static readonly HttpClient SelfClient = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(30) };

    public static WebApplication MapPlayground(this WebApplication app)
    {
        // "/" belongs to the control API for POSTs and requests with ?Action=; a browser's plain GET gets the page.
        app.Use(async (http, next) =>
        {
            if ((HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
                && http.Request.Path == "/" && !ControlApiEndpoint.IsApiRequest(http.Request))
            {
                await ServeAssetAsync(http, "/").ConfigureAwait(false);
                return;
            }

            await next(http).ConfigureAwait(false);
        });
        foreach (var path in Assets.Keys.Where(p => p != "/"))
        {
            app.MapGet(path, (HttpContext http) => ServeAssetAsync(http, path)).ExcludeFromDescription();
        }

        app.MapPost("/playground/api/call/{action}", CallAsync).DisableAntiforgery();
        app.MapPost("/playground/api/session", SessionAsync).DisableAntiforgery();
        return app;
    }

    private static async Task ServeAssetAsync(HttpContext http, string path)
    {
        var (resource, contentType) = Assets[path];
        await using var stream = typeof(PlaygroundEndpoints).Assembly.GetManifestResourceStream("Parley.Server.wwwroot." + resource);
        if (stream is null)
        {
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        http.Response.ContentType = contentType;
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

    private static AppOptions? PlaygroundApp(IServiceProvider services)
    {
        var directory = services.GetRequiredService<IAppDirectory>();
        return directory is AppDirectory { DevelopmentApp: { } dev } ? dev : directory.Apps.FirstOrDefault();
    }

    /// <summary>Forwards a JSON body to <c>POST /?Action={action}</c> on this server, signed with the playground app.</summary>
    private static async Task<IResult> CallAsync(HttpContext http, string action, CancellationToken cancellationToken)
    {
        if (!IsLocal(http))
        {
            return Results.Text("the playground API answers loopback requests only", statusCode: StatusCodes.Status403Forbidden);
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
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var signature = RequestSignature.Compute(app.AppId, nonce, app.ServerSecret, timestamp);
        var local = http.Connection.LocalIpAddress!;
        var host = local.IsIPv4MappedToIPv6 ? local.MapToIPv4().ToString() : local.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{local}]" : local.ToString();
        var url = $"{http.Request.Scheme}://{host}:{http.Connection.LocalPort}/?Action={action}&AppId={app.AppId}&SignatureNonce={nonce}&Timestamp={timestamp}&Signature={signature}&SignatureVersion=2.0";
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new ByteArrayContent(body.ToArray()) { Headers = { ContentType = new("application/json") } },
        };
        using var response = await SelfClient.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return Results.Text(text, "application/json", statusCode: (int)response.StatusCode);
    }

    /// <summary>Mints a Token04 (1 hour, room-scoped) for the browser's room login.</summary>
    private static async Task<IResult> SessionAsync(HttpContext http, CancellationToken cancellationToken)
    {
        if (!IsLocal(http))
        {
            return Results.Text("the playground API answers loopback requests only", statusCode: StatusCodes.Status403Forbidden);
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
        catch (JsonException)
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
}
