using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Providers.Tencent;

/// <summary>
/// What one Tencent recognition connection asks for: the credentials (the agent's <c>Params.app</c>, else the
/// deployment's), and the handshake parameters: every <c>Params</c> key other than <c>app</c> as given
/// (<c>engine_model_type</c>, <c>hotword_list</c>, <c>hotword_id</c>, <c>filter_dirty</c>, <c>filter_modal</c>,
/// <c>filter_punc</c>, <c>convert_num_mode</c>, <c>vad_silence_time</c>, …), with Parley's own
/// <c>voice_format=1</c> (PCM), <c>voice_id</c>, <c>secretid</c>, <c>timestamp</c>, <c>expired</c>, <c>nonce</c> and
/// <c>signature</c>.
/// </summary>
internal sealed class TencentAsrRequest
{
    /// <summary>Handshake parameters Parley writes itself.</summary>
    internal static readonly string[] Reserved = ["secretid", "timestamp", "expired", "nonce", "signature", "voice_id", "voice_format"];

    private const string ZegoTrialValue = "zego_test";

    private readonly SortedDictionary<string, string> _parameters = new(StringComparer.Ordinal);

    private TencentAsrRequest(string appId, string secretId, string secretKey)
    {
        AppId = appId;
        SecretId = secretId;
        SecretKey = secretKey;
    }

    public string AppId { get; }

    public string SecretId { get; }

    private string SecretKey { get; }

    /// <summary>The passthrough parameters (sorted), for tests.</summary>
    public IReadOnlyDictionary<string, string> Parameters => _parameters;

    /// <summary>Checks Params; returns an error naming the field, or null.</summary>
    public static string? Validate(JsonObject? parameters, TencentAsrOptions options) => TryCreate(parameters, null, options, out _);

    public static TencentAsrRequest Create(JsonObject? parameters, string? hotWords, TencentAsrOptions options) =>
        TryCreate(parameters, hotWords, options, out var request) is { } error ? throw new ArgumentException(error, nameof(parameters)) : request!;

    private static string? TryCreate(JsonObject? parameters, string? hotWords, TencentAsrOptions options, out TencentAsrRequest? request)
    {
        request = null;
        parameters ??= [];
        string? appId = null, secretId = null, secretKey = null;
        if (parameters.TryGetPropertyValue("app", out var appNode) && appNode is not null)
        {
            if (appNode is not JsonObject app)
            {
                return "ASR.Params.app must be an object ({\"appid\", \"secret_id\", \"secret_key\"}).";
            }

            foreach (var (field, aliases) in new[] { ("appid", new[] { "appid", "app_id" }), ("secret_id", ["secret_id", "secretid"]), ("secret_key", ["secret_key", "secretkey"]) })
            {
                foreach (var alias in aliases)
                {
                    if (!app.TryGetPropertyValue(alias, out var v) || v is null)
                    {
                        continue;
                    }

                    if (!TryScalar(v, out var text))
                    {
                        return $"ASR.Params.app.{alias} must be a string.";
                    }

                    if (text.Length > 0 && text != ZegoTrialValue)
                    {
                        _ = field switch { "appid" => appId = text, "secret_id" => secretId = text, _ => secretKey = text };
                    }
                }
            }
        }

        // All three from the agent, else all three from the deployment: never a mix of two accounts.
        if (appId is null || secretId is null || secretKey is null)
        {
            if (appId is not null || secretId is not null || secretKey is not null)
            {
                var missing = appId is null ? "appid" : secretId is null ? "secret_id" : "secret_key";
                return $"ASR.Params.app.{missing} is required when Params.app gives Tencent credentials.";
            }

            appId = options.AppId?.Trim();
            secretId = options.SecretId?.Trim();
            secretKey = options.SecretKey?.Trim();
            if (string.IsNullOrEmpty(appId) || string.IsNullOrEmpty(secretId) || string.IsNullOrEmpty(secretKey))
            {
                var missing = string.IsNullOrEmpty(appId) ? ("appid", "AppId") : string.IsNullOrEmpty(secretId) ? ("secret_id", "SecretId") : ("secret_key", "SecretKey");
                return $"ASR.Params.app.{missing.Item1} is required (or configure {TencentAsrOptions.SectionName}:{missing.Item2} for the deployment).";
            }
        }

        if (!appId.All(char.IsAsciiDigit))
        {
            return "ASR.Params.app.appid must be the numeric Tencent Cloud AppId.";
        }

        var result = new TencentAsrRequest(appId, secretId, secretKey);
        foreach (var (name, value) in parameters)
        {
            if (name == "app" || value is null)
            {
                continue;
            }

            if (Reserved.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                if (name.Equals("voice_format", StringComparison.OrdinalIgnoreCase) && TryScalar(value, out var f) && f == "1")
                {
                    continue;
                }

                return $"ASR.Params.{name} is set by Parley (16 kHz PCM, signed per connection); leave it out.";
            }

            if (!TryScalar(value, out var text))
            {
                return $"ASR.Params.{name} must be a string, number or boolean (a Tencent handshake parameter).";
            }

            result._parameters[name] = text;
        }

        if (result._parameters.TryGetValue("engine_model_type", out var engine) && engine.Length == 0)
        {
            return "ASR.Params.engine_model_type must not be empty (e.g. \"16k_zh\", \"16k_en\").";
        }

        result._parameters.TryAdd("engine_model_type", options.EngineModelType);
        result._parameters.TryAdd("needvad", "1");
        if (!string.IsNullOrWhiteSpace(hotWords))
        {
            result._parameters.TryAdd("hotword_list", hotWords.Trim()); // the deprecated ASR.HotWord, when Params give no hotword_list
        }

        request = result;
        return null;
    }

    /// <summary>
    /// The signed URL for one connection: parameters sorted by key, signed as
    /// base64(HMAC-SHA1(SecretKey, host + path + "?" + query with raw values)), values and signature URL-encoded.
    /// The result carries the signature: never log it (log <see cref="Uri.GetLeftPart"/> with <see cref="UriPartial.Path"/>).
    /// </summary>
    public Uri BuildUrl(Uri endpoint, string voiceId, DateTimeOffset now, TimeSpan lifetime, uint nonce)
    {
        var timestamp = now.ToUnixTimeSeconds();
        var query = new SortedDictionary<string, string>(_parameters, StringComparer.Ordinal)
        {
            ["secretid"] = SecretId,
            ["timestamp"] = timestamp.ToString(CultureInfo.InvariantCulture),
            ["expired"] = (timestamp + (long)lifetime.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            ["nonce"] = nonce.ToString(CultureInfo.InvariantCulture),
            ["voice_id"] = voiceId,
            ["voice_format"] = "1",
        };
        var path = endpoint.AbsolutePath.TrimEnd('/') + "/" + AppId;
        var authority = endpoint.IsDefaultPort ? endpoint.Host : endpoint.Host + ":" + endpoint.Port.ToString(CultureInfo.InvariantCulture);
        var signed = new StringBuilder(authority).Append(path).Append('?');
        var url = new StringBuilder(endpoint.Scheme).Append("://").Append(authority).Append(path).Append('?');
        var first = true;
        foreach (var (key, value) in query)
        {
            if (!first)
            {
                signed.Append('&');
                url.Append('&');
            }

            first = false;
            signed.Append(key).Append('=').Append(value);
            url.Append(Uri.EscapeDataString(key)).Append('=').Append(Uri.EscapeDataString(value));
        }

        url.Append("&signature=").Append(Uri.EscapeDataString(Sign(SecretKey, signed.ToString())));
        return new Uri(url.ToString());
    }

    /// <summary>base64(HMAC-SHA1(key, text)), Tencent's v2 signature.</summary>
    public static string Sign(string secretKey, string text) =>
        Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secretKey), Encoding.UTF8.GetBytes(text)));

    private static bool TryScalar(JsonNode node, out string text)
    {
        text = "";
        if (node is not JsonValue value)
        {
            return false;
        }

        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                text = value.GetValue<string>().Trim();
                return true;
            case JsonValueKind.Number:
                text = value.ToJsonString();
                return true;
            case JsonValueKind.True:
                text = "1";
                return true;
            case JsonValueKind.False:
                text = "0";
                return true;
            default:
                return false;
        }
    }
}
