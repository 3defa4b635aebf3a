using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Text;
using Parley.Server.Apps;

namespace Parley.Server.Api;

/// <summary>
/// The ZEGO-compatible control API: one path, <c>?Action=…</c> and signed common query parameters, JSON body,
/// <c>{Code, Message, RequestId, Data}</c> reply with HTTP 200 for every application error.
/// </summary>
public static partial class ControlApiEndpoint
{
    /// <summary>Largest accepted request body; larger bodies are refused with 100000012.</summary>
    public const int MaxBodyBytes = 1 << 20;

    private static readonly JsonSerializerOptions EnvelopeJson = new()
    {
        PropertyNamingPolicy = null,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static IEndpointRouteBuilder MapControlApi(this IEndpointRouteBuilder endpoints)
    {
        // ZEGO's samples call "{base}/?Action=…"; its docs also show "{base}?Action=…" — both arrive at "/".
        endpoints.MapMethods("/", [HttpMethods.Post, HttpMethods.Get], HandleAsync)
            .WithName("ControlApi")
            .DisableAntiforgery();
        return endpoints;
    }

    /// <summary>
    /// First use of the request path's static pieces (the metrics counter, the envelope's serializer metadata, the
    /// JSON reader, the signature check), so the first caller does not pay for them. Changes no state a client sees.
    /// </summary>
    internal static async Task WarmUp()
    {
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(ApiMetrics).TypeHandle);
        await JsonSerializer.SerializeAsync(Stream.Null, new ApiEnvelope(ReturnCodes.Success, "Succeed", "0", null), EnvelopeJson, CancellationToken.None);
        using (JsonDocument.Parse("{\"AgentInstanceId\":\"0\"}"u8.ToArray(), new JsonDocumentOptions { MaxDepth = 32 }))
        {
        }

        RequestSignature.Verify(1, "0", "0", "0", new string('0', 32));
    }

    /// <summary>The root path also serves the playground to browsers: only requests that carry an Action are API calls.</summary>
    public static bool IsApiRequest(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) || request.Query.ContainsKey("Action");

    private static async Task HandleAsync(HttpContext http)
    {
        var services = http.RequestServices;
        var requestId = services.GetRequiredService<IdGenerator>().Next();
        ApiEnvelope envelope;
        string action = http.Request.Query["Action"].ToString();
        try
        {
            var (app, body) = await AuthenticateAsync(http, action, http.RequestAborted);
            var context = new ActionContext
            {
                App = app,
                Action = action,
                Body = body,
                RequestId = requestId,
                Services = services,
            };
            var handler = services.GetRequiredService<ActionRegistry>();
            handler.TryGet(action, out var run);
            var data = await run(context, http.RequestAborted);
            envelope = new ApiEnvelope(ReturnCodes.Success, "Succeed", requestId, data);
            ApiMetrics.Requests.WithLabels(action, "0").Inc();
        }
        catch (ApiException ex)
        {
            envelope = new ApiEnvelope(ex.Code, ex.Message, requestId, null);
            ApiMetrics.Requests.WithLabels(Known(services, action), ex.Code.ToString(CultureInfo.InvariantCulture)).Inc();
            LogRefused(Logger(services), Known(services, action), ex.Code, requestId);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            // Never a 500 or a stack trace to the caller: the envelope carries the system-error code and the RequestId to quote.
            envelope = new ApiEnvelope(ReturnCodes.SystemError, $"system error (RequestId {requestId})", requestId, null);
            ApiMetrics.Requests.WithLabels(Known(services, action), ReturnCodes.SystemError.ToString(CultureInfo.InvariantCulture)).Inc();
            LogFailed(Logger(services), ex, Known(services, action), requestId);
        }

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(http.Response.Body, envelope, EnvelopeJson, CancellationToken.None);
    }

    /// <summary>Only refusals and failures log: the logger is not looked up for requests that succeed.</summary>
    private static ILogger Logger(IServiceProvider services) =>
        services.GetRequiredService<ILoggerFactory>().CreateLogger("Parley.ControlApi");

    /// <summary>Action names are caller-controlled: only registered ones become metric labels.</summary>
    private static string Known(IServiceProvider services, string action) =>
        services.GetRequiredService<ActionRegistry>().TryGet(action, out _) ? action : "other";

    private static async Task<(AppOptions App, RequestBody Body)> AuthenticateAsync(HttpContext http, string action, CancellationToken cancellationToken)
    {
        var query = http.Request.Query;
        var services = http.RequestServices;
        var options = services.GetRequiredService<IOptions<ParleyOptions>>().Value;

        if (string.IsNullOrEmpty(action))
        {
            throw new ApiException(ReturnCodes.ActionMissing, "Action is missing");
        }

        var appIdText = query["AppId"].ToString();
        if (!uint.TryParse(appIdText, NumberStyles.None, CultureInfo.InvariantCulture, out var appId) || appId == 0)
        {
            throw new ApiException(ReturnCodes.AppIdMalformed, appIdText.Length == 0 ? "AppId is missing" : "AppId must be a uint32 in decimal");
        }

        var nonce = query["SignatureNonce"].ToString();
        if (nonce.Length == 0)
        {
            throw new ApiException(ReturnCodes.NonceMissing, "SignatureNonce is missing");
        }

        var timestampText = query["Timestamp"].ToString();
        if (timestampText.Length == 0)
        {
            throw new ApiException(ReturnCodes.TimestampMissing, "Timestamp is missing");
        }

        if (!long.TryParse(timestampText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var timestamp))
        {
            throw new ApiException(ReturnCodes.TimestampMalformed, "Timestamp must be Unix time in seconds");
        }

        var signature = query["Signature"].ToString();
        if (signature.Length == 0)
        {
            throw new ApiException(ReturnCodes.SignatureMissing, "Signature is missing");
        }

        var version = query["SignatureVersion"].ToString();
        if (version.Length == 0)
        {
            throw new ApiException(ReturnCodes.SignatureVersionMissing, "SignatureVersion is missing");
        }

        if (version != "2.0")
        {
            throw new ApiException(ReturnCodes.SignatureVersionUnsupported, "SignatureVersion must be 2.0");
        }

        if (!services.GetRequiredService<IAppDirectory>().TryGet(appId, out var app))
        {
            throw new ApiException(ReturnCodes.ServerSecretUnavailable, $"AppId {appId} is not configured on this server");
        }

        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().ToUnixTimeSeconds();
        if (Math.Abs(now - timestamp) > (long)options.SignatureWindow.TotalSeconds)
        {
            throw new ApiException(ReturnCodes.SignatureExpired, $"Timestamp is outside the allowed window of ±{(long)options.SignatureWindow.TotalSeconds} s");
        }

        if (!RequestSignature.Verify(appId, nonce, app.ServerSecret, timestampText, signature))
        {
            throw new ApiException(ReturnCodes.SignatureWrong, "Signature does not match");
        }

        // Only correctly signed requests reach the guard: nobody without the secret can fill it or spend a client's nonce.
        if (options.ReplayGuard)
        {
            switch (services.GetRequiredService<ReplayGuard>().Admit(appId, nonce, timestamp, now))
            {
                case ReplayVerdict.Replayed:
                    throw new ApiException(ReturnCodes.NonceReused, $"SignatureNonce was already used within the signature window of ±{(long)options.SignatureWindow.TotalSeconds} s; sign every request with a fresh nonce");
                case ReplayVerdict.TooOld:
                    throw new ApiException(ReturnCodes.NonceReused, $"Timestamp is older than the replay guard can check: the app signed more than {options.ReplayGuardNoncesPerApp} requests within the window (Parley:ReplayGuardNoncesPerApp); sign with the current time");
            }
        }

        if (!services.GetRequiredService<ActionRegistry>().TryGet(action, out _))
        {
            throw new ApiException(ReturnCodes.ActionNotSupported, $"Action '{Truncate(action)}' is not supported");
        }

        if (!services.GetRequiredService<ActionRateLimiter>().TryAcquire(appId, action))
        {
            throw new ApiException(ReturnCodes.RateLimited, $"rate limit exceeded: at most {options.RateLimitPerSecond} {action} requests per second");
        }

        return (app, await ReadBodyAsync(http.Request, cancellationToken));
    }

    /// <summary>An empty body is read as <c>{}</c>: one shared (cloned, immutable) element.</summary>
    private static readonly JsonElement EmptyObject = ParseEmptyObject();

    private static JsonElement ParseEmptyObject()
    {
        using var empty = JsonDocument.Parse("{}");
        return empty.RootElement.Clone();
    }

    /// <summary>
    /// Reads the body into one pooled buffer (sized from Content-Length when given, grown from the pool otherwise) and
    /// parses it there. A fresh 16 KiB array per request was the largest allocation of a status query and put most
    /// of the server's GC time into the control API at saturation.
    /// </summary>
    private static async Task<RequestBody> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var declared = request.ContentLength;
        if (declared > MaxBodyBytes)
        {
            throw new ApiException(ReturnCodes.BodyUnreadable, $"request body is larger than {MaxBodyBytes} bytes");
        }

        var pool = System.Buffers.ArrayPool<byte>.Shared;
        var buffer = pool.Rent(Math.Clamp((int)(declared ?? 4096) + 1, 256, MaxBodyBytes + 1));
        try
        {
            var filled = 0;
            try
            {
                while (true)
                {
                    if (filled == buffer.Length)
                    {
                        var larger = pool.Rent(Math.Min(buffer.Length * 2, MaxBodyBytes + 1));
                        buffer.AsSpan(0, filled).CopyTo(larger);
                        pool.Return(buffer);
                        buffer = larger;
                    }

                    var read = await request.Body.ReadAsync(buffer.AsMemory(filled), cancellationToken);
                    if (read == 0)
                    {
                        break;
                    }

                    filled += read;
                    if (filled > MaxBodyBytes)
                    {
                        throw new ApiException(ReturnCodes.BodyUnreadable, $"request body is larger than {MaxBodyBytes} bytes");
                    }
                }
            }
            catch (IOException)
            {
                throw new ApiException(ReturnCodes.BodyUnreadable, "could not read the request body");
            }

            var bytes = buffer.AsMemory(0, filled);
            if (bytes.Span.Trim(" \t\r\n"u8).IsEmpty)
            {
                return new RequestBody(EmptyObject);
            }

            try
            {
                // The document reads the pooled buffer in place; Clone copies the root out before the buffer goes back.
                using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 32 });
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new ApiException(ReturnCodes.JsonParseFailure, "request body must be a JSON object");
                }

                // What the parser lets through: bytes that are not UTF-8 (not JSON: 410000004), unpaired surrogate
                // escapes and repeated field names (valid JSON, invalid parameters: 410000003). Checked once here, so no
                // handler meets a string it cannot read or a field with two values.
                var problem = JsonTextCheck.Find(document.RootElement);
                if (!problem.IsNone)
                {
                    throw problem.Kind == JsonTextProblemKind.InvalidUtf8
                        ? new ApiException(ReturnCodes.JsonParseFailure, $"request body is not valid JSON: {problem.Describe("the request body")}")
                        : ApiException.InvalidParameter(problem.Describe("the request body"));
                }

                return new RequestBody(document.RootElement.Clone());
            }
            catch (JsonException ex)
            {
                throw new ApiException(ReturnCodes.JsonParseFailure, $"request body is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})");
            }
        }
        finally
        {
            pool.Return(buffer);
        }
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";

    [LoggerMessage(Level = LogLevel.Information, Message = "{Action} refused with {Code} (RequestId {RequestId})")]
    private static partial void LogRefused(ILogger logger, string action, int code, string requestId);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Action} failed (RequestId {RequestId})")]
    private static partial void LogFailed(ILogger logger, Exception exception, string action, string requestId);
}
