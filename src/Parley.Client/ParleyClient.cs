using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Parley.Client;

/// <summary>
/// Typed client for the ZEGO-compatible AI-Agent server API (Parley or ZEGO itself). Every request is a POST to
/// <c>{baseUrl}/?Action=…</c> with the common parameters in the query, signed per spec 1.4
/// (MD5 of AppId + SignatureNonce + ServerSecret + Timestamp), and a JSON body.
/// Non-zero <c>Code</c> values come back as results; non-2xx HTTP answers throw <see cref="ParleyApiException"/>.
/// </summary>
public sealed class ParleyClient
{
    public const string SignatureVersion = "2.0";

    private readonly HttpClient _http;
    private readonly string _serverSecret;
    private readonly TimeProvider _time;

    public ParleyClient(HttpClient http, Uri baseUrl, uint appId, string serverSecret, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(baseUrl);
        ArgumentNullException.ThrowIfNull(serverSecret);
        if (!baseUrl.IsAbsoluteUri)
        {
            throw new ArgumentException("baseUrl must be an absolute URL such as https://host or http://127.0.0.1:8080.", nameof(baseUrl));
        }

        _http = http;
        _serverSecret = serverSecret;
        _time = time ?? TimeProvider.System;
        AppId = appId;
        var builder = new UriBuilder(baseUrl) { Query = "", Fragment = "" };
        builder.Path = builder.Path.EndsWith('/') ? builder.Path : builder.Path + "/";
        Endpoint = builder.Uri;
    }

    public uint AppId { get; }

    /// <summary>The URL every action is posted to (the base URL with a trailing slash).</summary>
    public Uri Endpoint { get; }

    /// <summary>Serializer settings of the wire format: ZEGO property names as declared, nulls omitted.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = CreateJsonOptions();

    /// <summary>Spec 1.4: lowercase hex MD5 of AppId + SignatureNonce + ServerSecret + Timestamp (seconds).</summary>
    public static string ComputeSignature(uint appId, string signatureNonce, string serverSecret, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(signatureNonce);
        ArgumentNullException.ThrowIfNull(serverSecret);
        var text = string.Concat(
            appId.ToString(CultureInfo.InvariantCulture),
            signatureNonce,
            serverSecret,
            timestamp.ToString(CultureInfo.InvariantCulture));
        return Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>16 lowercase hex characters from 8 random bytes.</summary>
    public static string NewSignatureNonce()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    /// <summary>
    /// The signed request URL for <paramref name="action"/>: Action, AppId, SignatureNonce, Timestamp, Signature and
    /// SignatureVersion. A fresh nonce and the current time are used unless given.
    /// </summary>
    public Uri SignedUri(string action, string? nonce = null, long? timestamp = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(action);
        var n = nonce ?? NewSignatureNonce();
        var ts = timestamp ?? _time.GetUtcNow().ToUnixTimeSeconds();
        var signature = ComputeSignature(AppId, n, _serverSecret, ts);
        var query = string.Create(CultureInfo.InvariantCulture,
            $"Action={Uri.EscapeDataString(action)}&AppId={AppId}&SignatureNonce={Uri.EscapeDataString(n)}&Timestamp={ts}&Signature={signature}&SignatureVersion={SignatureVersion}");
        return new UriBuilder(Endpoint) { Query = query }.Uri;
    }

    /// <summary>Posts <paramref name="jsonBody"/> verbatim (it may be malformed) to a freshly signed URL for <paramref name="action"/>.</summary>
    public Task<ApiResult<JsonNode>> SendAsync(string action, string jsonBody, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonBody);
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(jsonBody));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return SendAsync(SignedUri(action), content, cancellationToken, action);
    }

    /// <summary>
    /// Posts <paramref name="content"/> exactly as given (headers included) to any URL,
    /// e.g. a <see cref="SignedUri"/> with a parameter removed or a wrong signature.
    /// </summary>
    public Task<ApiResult<JsonNode>> SendAsync(Uri requestUri, HttpContent? content, CancellationToken cancellationToken = default) =>
        SendAsync(requestUri, content, cancellationToken, ActionOf(requestUri));

    public Task<ApiResult> RegisterAgentAsync(RegisterAgentRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync("RegisterAgent", request, cancellationToken);

    public Task<ApiResult> UnregisterAgentAsync(UnregisterAgentRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync("UnregisterAgent", request, cancellationToken);

    public Task<ApiResult> UpdateAgentAsync(UpdateAgentRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync("UpdateAgent", request, cancellationToken);

    public Task<ApiResult<ListAgentsResult>> ListAgentsAsync(ListAgentsRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync<ListAgentsRequest, ListAgentsResult>("ListAgents", request, cancellationToken);

    public Task<ApiResult<QueryAgentsResult>> QueryAgentsAsync(QueryAgentsRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync<QueryAgentsRequest, QueryAgentsResult>("QueryAgents", request, cancellationToken);

    public Task<ApiResult<CreateAgentInstanceResult>> CreateAgentInstanceAsync(CreateAgentInstanceRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync<CreateAgentInstanceRequest, CreateAgentInstanceResult>("CreateAgentInstance", request, cancellationToken);

    public Task<ApiResult> UpdateAgentInstanceAsync(UpdateAgentInstanceRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync("UpdateAgentInstance", request, cancellationToken);

    public Task<ApiResult> DeleteAgentInstanceAsync(AgentInstanceRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync("DeleteAgentInstance", request, cancellationToken);

    public Task<ApiResult> SendAgentInstanceLLMAsync(SendAgentInstanceLlmRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync("SendAgentInstanceLLM", request, cancellationToken);

    public Task<ApiResult> SendAgentInstanceTTSAsync(SendAgentInstanceTtsRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync("SendAgentInstanceTTS", request, cancellationToken);

    public Task<ApiResult<AgentInstanceStatusResult>> QueryAgentInstanceStatusAsync(AgentInstanceRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync<AgentInstanceRequest, AgentInstanceStatusResult>("QueryAgentInstanceStatus", request, cancellationToken);

    public Task<ApiResult> InterruptAgentInstanceAsync(AgentInstanceRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync("InterruptAgentInstance", request, cancellationToken);

    public Task<ApiResult<AgentInstanceMsgListResult>> GetAgentInstanceMsgListAsync(AgentInstanceRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync<AgentInstanceRequest, AgentInstanceMsgListResult>("GetAgentInstanceMsgList", request, cancellationToken);

    public Task<ApiResult> ResetAgentInstanceMsgListAsync(AgentInstanceRequest request, CancellationToken cancellationToken = default) =>
        InvokeAsync("ResetAgentInstanceMsgList", request, cancellationToken);

    public Task<ApiResult> DeleteAgentInstanceAsync(string agentInstanceId, CancellationToken cancellationToken = default) =>
        DeleteAgentInstanceAsync(new AgentInstanceRequest { AgentInstanceId = agentInstanceId }, cancellationToken);

    public Task<ApiResult<AgentInstanceStatusResult>> QueryAgentInstanceStatusAsync(string agentInstanceId, CancellationToken cancellationToken = default) =>
        QueryAgentInstanceStatusAsync(new AgentInstanceRequest { AgentInstanceId = agentInstanceId }, cancellationToken);

    public Task<ApiResult> InterruptAgentInstanceAsync(string agentInstanceId, CancellationToken cancellationToken = default) =>
        InterruptAgentInstanceAsync(new AgentInstanceRequest { AgentInstanceId = agentInstanceId }, cancellationToken);

    public Task<ApiResult<AgentInstanceMsgListResult>> GetAgentInstanceMsgListAsync(string agentInstanceId, CancellationToken cancellationToken = default) =>
        GetAgentInstanceMsgListAsync(new AgentInstanceRequest { AgentInstanceId = agentInstanceId }, cancellationToken);

    public Task<ApiResult> ResetAgentInstanceMsgListAsync(string agentInstanceId, CancellationToken cancellationToken = default) =>
        ResetAgentInstanceMsgListAsync(new AgentInstanceRequest { AgentInstanceId = agentInstanceId }, cancellationToken);

    private async Task<ApiResult> InvokeAsync<TRequest>(string action, TRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (status, text) = await PostAsync(SignedUri(action), Serialize(request), action, cancellationToken);
        return Parse<ApiResult>(action, status, text);
    }

    private async Task<ApiResult<TData>> InvokeAsync<TRequest, TData>(string action, TRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (status, text) = await PostAsync(SignedUri(action), Serialize(request), action, cancellationToken);
        return Parse<ApiResult<TData>>(action, status, text);
    }

    private async Task<ApiResult<JsonNode>> SendAsync(Uri requestUri, HttpContent? content, CancellationToken cancellationToken, string action)
    {
        ArgumentNullException.ThrowIfNull(requestUri);
        using (content)
        {
            var (status, text) = await PostAsync(requestUri, content, action, cancellationToken);
            return Parse<ApiResult<JsonNode>>(action, status, text);
        }
    }

    private static ByteArrayContent Serialize<TRequest>(TRequest request)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(request, JsonOptions));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private async Task<(System.Net.HttpStatusCode Status, string Text)> PostAsync(Uri uri, HttpContent? content, string action, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
        using var response = await _http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new ParleyApiException(action, response.StatusCode, text,
                string.Create(CultureInfo.InvariantCulture, $"{action} failed with HTTP {(int)response.StatusCode} {response.ReasonPhrase}."));
        }

        return (response.StatusCode, text);
    }

    private static T Parse<T>(string action, System.Net.HttpStatusCode status, string text)
        where T : ApiResult
    {
        try
        {
            return JsonSerializer.Deserialize<T>(text, JsonOptions)
                ?? throw new ParleyApiException(action, status, text, $"{action} returned a null response envelope.");
        }
        catch (JsonException ex)
        {
            throw new ParleyApiException(action, status, text, $"{action} returned a body that is not a JSON response envelope: {ex.Message}", ex);
        }
    }

    private static string ActionOf(Uri uri)
    {
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            if (eq > 0 && pair.AsSpan(0, eq).Equals("Action", StringComparison.Ordinal))
            {
                return Uri.UnescapeDataString(pair[(eq + 1)..]);
            }
        }

        return "";
    }

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.General)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            PropertyNameCaseInsensitive = true,
            // `required` guides callers; answers from a server may legitimately omit fields (e.g. "TTS": {}).
            TypeInfoResolver = new DefaultJsonTypeInfoResolver
            {
                Modifiers =
                {
                    static info =>
                    {
                        foreach (var property in info.Properties)
                        {
                            property.IsRequired = false;
                        }
                    },
                },
            },
        };
        options.MakeReadOnly();
        return options;
    }
}
