using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Parley.Server.Api;

namespace Parley.Testing;

/// <summary>
/// Low-level signed calls to the control API, for tests that need to bend the rules (bad signatures, missing
/// parameters, malformed bodies). Well-formed calls should use <c>Parley.Client.ParleyClient</c>.
/// </summary>
public sealed class RawApi(HttpClient http, TestApp app, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public TestApp App => app;

    /// <summary>The common query parameters, signed; override any of them (null removes it).</summary>
    public Dictionary<string, string?> Query(string? action, string? nonce = null, long? timestamp = null)
    {
        nonce ??= Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 8));
        var ts = (timestamp ?? _time.GetUtcNow().ToUnixTimeSeconds()).ToString(CultureInfo.InvariantCulture);
        return new Dictionary<string, string?>
        {
            ["Action"] = action,
            ["AppId"] = app.AppId.ToString(CultureInfo.InvariantCulture),
            ["SignatureNonce"] = nonce,
            ["Timestamp"] = ts,
            ["Signature"] = RequestSignature.Compute(app.AppId, nonce, app.ServerSecret, ts),
            ["SignatureVersion"] = "2.0",
        };
    }

    public Task<JsonElement> CallAsync(string action, object? body = null, CancellationToken cancellationToken = default) =>
        SendAsync(Query(action), body is null ? "{}" : JsonSerializer.Serialize(body), cancellationToken);

    public Task<JsonElement> SendAsync(Dictionary<string, string?> query, string? body, CancellationToken cancellationToken = default, string path = "/") =>
        SendBytesAsync(query, body is null ? null : Encoding.UTF8.GetBytes(body), cancellationToken, path);

    /// <summary>Posts <paramref name="body"/> byte for byte (it may be invalid UTF-8); expects HTTP 200 and an envelope.</summary>
    public async Task<JsonElement> SendBytesAsync(Dictionary<string, string?> query, byte[]? body, CancellationToken cancellationToken = default, string path = "/")
    {
        var (status, text) = await PostAsync(query, body, cancellationToken, path);
        if (status != 200)
        {
            throw new HttpRequestException($"expected HTTP 200, got {status}: {text}");
        }

        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>Posts <paramref name="body"/> byte for byte and returns the HTTP status and reply text, whatever they are.</summary>
    public async Task<(int Status, string Text)> PostAsync(Dictionary<string, string?> query, byte[]? body, CancellationToken cancellationToken = default, string path = "/")
    {
        var queryString = string.Join("&", query.Where(p => p.Value is not null)
            .Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value!)}"));
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{path}?{queryString}");
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        }

        using var response = await http.SendAsync(request, cancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
    }
}

public static class EnvelopeExtensions
{
    public static int Code(this JsonElement envelope) => envelope.GetProperty("Code").GetInt32();

    public static string Message(this JsonElement envelope) => envelope.GetProperty("Message").GetString() ?? "";

    public static JsonElement Data(this JsonElement envelope) => envelope.GetProperty("Data");
}
