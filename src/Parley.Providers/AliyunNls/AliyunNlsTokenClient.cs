using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Providers.Net;

namespace Parley.Providers.AliyunNls;

/// <summary>
/// NLS tokens from an AccessKey: the CreateToken POP call (Action CreateToken, Version 2019-02-28, signed with
/// <see cref="AliyunPopSignature"/>) POSTed to <see cref="AliyunNlsOptions.TokenUrl"/>; the answer's
/// <c>Token.Id</c> is cached per AccessKey until <see cref="AliyunNlsOptions.TokenRefreshMargin"/> before
/// <c>Token.ExpireTime</c> (Unix seconds), by the <see cref="TimeProvider"/>. Concurrent callers share one request.
/// Neither the secret, the signature nor the token is ever logged.
/// </summary>
public sealed partial class AliyunNlsTokenClient : IDisposable
{
    private readonly Dictionary<string, Entry> _cache = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly HttpClient _http;
    private readonly AliyunNlsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private long _requests;

    public AliyunNlsTokenClient(AliyunNlsOptions options, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, OutboundPolicy? policy = null)
    {
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<AliyunNlsTokenClient>();
        _http = new HttpClient((policy ?? OutboundPolicy.Default).CreateHandler(UrlOrigin.Operator, options.ConnectTimeout))
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>CreateToken calls made so far.</summary>
    public long TokensRequested => Interlocked.Read(ref _requests);

    /// <summary>A valid token for the AccessKey, from the cache or a new CreateToken call.</summary>
    public Task<string> GetTokenAsync(string accessKeyId, string accessKeySecret, CancellationToken cancellationToken)
    {
        var key = CacheKey(accessKeyId, accessKeySecret);
        Task<(string Token, DateTimeOffset Renew)> pending;
        lock (_gate)
        {
            if (_cache.TryGetValue(key, out var entry))
            {
                if (!entry.Request.IsCompleted || (entry.Request.IsCompletedSuccessfully && _time.GetUtcNow() < entry.Request.Result.Renew))
                {
                    pending = entry.Request;
                    return Await(pending, cancellationToken);
                }
            }

            pending = RequestAsync(accessKeyId, accessKeySecret);
            _cache[key] = new Entry(pending);
        }

        return Await(pending, cancellationToken);
    }

    /// <summary>Forgets the cached token of the AccessKey (the gateway refused it); the next call asks for a new one.</summary>
    public void Invalidate(string accessKeyId, string accessKeySecret)
    {
        lock (_gate)
        {
            _cache.Remove(CacheKey(accessKeyId, accessKeySecret));
        }
    }

    public void Dispose() => _http.Dispose();

    private static async Task<string> Await(Task<(string Token, DateTimeOffset Renew)> request, CancellationToken cancellationToken) =>
        (await request.WaitAsync(cancellationToken).ConfigureAwait(false)).Token;

    /// <summary>Keyed by the id and a hash of the secret, so a rotated secret gets its own token and the secret is not kept in a key.</summary>
    private static string CacheKey(string id, string secret) =>
        id + "\n" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private async Task<(string Token, DateTimeOffset Renew)> RequestAsync(string accessKeyId, string accessKeySecret)
    {
        await Task.Yield(); // run outside the cache lock
        Interlocked.Increment(ref _requests);
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["AccessKeyId"] = accessKeyId,
            ["Action"] = "CreateToken",
            ["Version"] = "2019-02-28",
            ["Format"] = "JSON",
            ["RegionId"] = _options.RegionId,
            ["Timestamp"] = _time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["SignatureMethod"] = "HMAC-SHA1",
            ["SignatureVersion"] = "1.0",
            ["SignatureNonce"] = Guid.NewGuid().ToString("N"),
        };
        var canonical = AliyunPopSignature.Canonicalize(parameters);
        var body = canonical + "&Signature=" + AliyunPopSignature.Encode(AliyunPopSignature.Sign("POST", canonical, accessKeySecret));
        using var limit = new CancellationTokenSource(_options.ResponseTimeout, _time);
        using var content = new StringContent(body, Encoding.UTF8, "application/x-www-form-urlencoded");
        HttpResponseMessage response;
        try
        {
            response = await _http.PostAsync(new Uri(_options.TokenUrl), content, limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (limit.IsCancellationRequested)
        {
            throw new AliyunNlsException($"Aliyun CreateToken at {Safe(_options.TokenUrl)} did not answer within {_options.ResponseTimeout.TotalSeconds:0.#} s.", "Timeout", null, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OutboundPolicyException)
        {
            throw new AliyunNlsException($"Could not reach Aliyun CreateToken at {Safe(_options.TokenUrl)}: {OutboundFailure.Describe(ex)}.", "TokenFailed", null, ex);
        }

        using (response)
        {
            var bytes = await ReadBoundedAsync(response, limit.Token).ConfigureAwait(false);
            string? code = null;
            string? id = null;
            long expire = 0;
            try
            {
                using var document = JsonDocument.Parse(bytes);
                var root = document.RootElement;
                if (root.TryGetProperty("Code", out var c) && c.ValueKind == JsonValueKind.String)
                {
                    code = c.GetString();
                }

                if (root.TryGetProperty("Token", out var token) && token.ValueKind == JsonValueKind.Object)
                {
                    id = token.TryGetProperty("Id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
                    expire = token.TryGetProperty("ExpireTime", out var e) && e.TryGetInt64(out var x) ? x : 0;
                }
            }
            catch (JsonException)
            {
            }

            if (!response.IsSuccessStatusCode || string.IsNullOrEmpty(id) || expire <= 0)
            {
                var errorCode = response.StatusCode == HttpStatusCode.TooManyRequests || code is "Throttling" or "Throttling.User" ? "RateLimited"
                    : code?.StartsWith("InvalidAccessKeyId", StringComparison.Ordinal) == true || code is "SignatureDoesNotMatch" || response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden ? "Unauthorized"
                    : "TokenFailed";
                LogTokenRefused(_logger, (int)response.StatusCode, Clip(code) ?? "none");
                throw new AliyunNlsException(
                    $"Aliyun CreateToken refused the AccessKey (HTTP {(int)response.StatusCode}, Code {Clip(code) ?? "none"}); check TTS.Params.app.ak_id and ak_key.", errorCode);
            }

            var expires = DateTimeOffset.FromUnixTimeSeconds(expire);
            var lifetime = expires - _time.GetUtcNow();
            var margin = _options.TokenRefreshMargin < lifetime / 2 ? _options.TokenRefreshMargin : lifetime / 2;
            LogTokenIssued(_logger, expires);
            return (id!, expires - margin);
        }
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        const int Max = 64 * 1024;
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > Max)
            {
                throw new AliyunNlsException("Aliyun CreateToken answered with more than 64 KiB.", "TokenFailed");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static string Safe(string url) => Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.GetLeftPart(UriPartial.Path) : "the token URL";

    private static string? Clip(string? code) => code is null ? null : code.Length <= 80 ? code : code[..80];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Aliyun CreateToken refused: HTTP {Status}, Code {Code}")]
    private static partial void LogTokenRefused(ILogger logger, int status, string code);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Aliyun NLS token issued, expires {Expires}")]
    private static partial void LogTokenIssued(ILogger logger, DateTimeOffset expires);

    private sealed record Entry(Task<(string Token, DateTimeOffset Renew)> Request);
}
