using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Providers.Azure;

/// <summary>
/// What one Azure recognition stream asks for. Params as ZEGO documents them: <c>{"language":"en-US","phrase_list":["zego"]}</c>
/// (the query's <c>language</c> and the <c>speech.context</c> phrase list); credentials <c>Params.app</c>
/// (<c>key</c> or <c>token</c>, <c>region</c>), else <see cref="AzureSpeechOptions"/>.
/// </summary>
internal sealed class AzureSpeechRequest
{
    private AzureSpeechRequest(Uri endpoint, string? key, string? token, string language, IReadOnlyList<string> phrases)
    {
        Endpoint = endpoint;
        Key = key;
        Token = token;
        Language = language;
        Phrases = phrases;
    }

    /// <summary>The endpoint with <c>language</c> and <c>format=detailed</c> (carries no secret).</summary>
    public Uri Endpoint { get; }

    public string? Key { get; }

    public string? Token { get; }

    public string Language { get; }

    public IReadOnlyList<string> Phrases { get; }

    public static bool IsRegion(string region) => region.Length is > 0 and < 40 && region.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c));

    public static string? Validate(JsonObject? parameters, AzureSpeechOptions options) => TryCreate(parameters, options, out _);

    public static AzureSpeechRequest Create(JsonObject? parameters, AzureSpeechOptions options) =>
        TryCreate(parameters, options, out var request) is { } error ? throw new ArgumentException(error, nameof(parameters)) : request!;

    private static string? TryCreate(JsonObject? parameters, AzureSpeechOptions options, out AzureSpeechRequest? request)
    {
        request = null;
        parameters ??= [];
        string? key = null, token = null, region = null;
        if (parameters.TryGetPropertyValue("app", out var appNode) && appNode is not null)
        {
            if (appNode is not JsonObject app)
            {
                return "ASR.Params.app must be an object ({\"key\", \"region\"}).";
            }

            foreach (var name in new[] { "key", "subscription_key", "token", "region" })
            {
                if (!app.TryGetPropertyValue(name, out var v) || v is null)
                {
                    continue;
                }

                if (!IsString(v))
                {
                    return $"ASR.Params.app.{name} must be a string.";
                }

                var text = v.GetValue<string>().Trim();
                if (text.Length == 0 || text == "zego_test")
                {
                    continue;
                }

                _ = name switch { "token" => token = text, "region" => region = text, _ => key = text };
            }
        }

        if (key is null && token is null)
        {
            key = string.IsNullOrWhiteSpace(options.Key) ? null : options.Key.Trim();
            if (key is null)
            {
                return $"ASR.Params.app.key is required (or configure {AzureSpeechOptions.SectionName}:Key for the deployment).";
            }
        }

        region ??= string.IsNullOrWhiteSpace(options.Region) ? null : options.Region.Trim();
        var url = options.EndpointFor(region);
        if (url.Contains("{region}", StringComparison.Ordinal) || (region is null && string.IsNullOrWhiteSpace(options.Url)))
        {
            return $"ASR.Params.app.region is required (or configure {AzureSpeechOptions.SectionName}:Region or :Url for the deployment).";
        }

        if (region is not null && !IsRegion(region))
        {
            return "ASR.Params.app.region must be an Azure region name such as \"eastus\".";
        }

        var language = options.Language;
        if (parameters.TryGetPropertyValue("language", out var lang) && lang is not null)
        {
            if (!IsString(lang) || lang.GetValue<string>().Trim() is not { Length: > 1 and < 36 } l || !l.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return "ASR.Params.language must be a locale such as \"en-US\".";
            }

            language = l;
        }

        var phrases = new List<string>();
        if (parameters.TryGetPropertyValue("phrase_list", out var list) && list is not null)
        {
            if (list is not JsonArray array || !array.All(IsString))
            {
                return "ASR.Params.phrase_list must be an array of strings such as [\"zego\", \"microsoft\"].";
            }

            phrases.AddRange(array.Select(p => p!.GetValue<string>().Trim()).Where(p => p.Length > 0));
        }

        var query = "language=" + Uri.EscapeDataString(language) + "&format=detailed";
        if (!Uri.TryCreate(url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query, UriKind.Absolute, out var endpoint))
        {
            return "ASR.Params.app.region does not make a valid endpoint URL.";
        }

        request = new AzureSpeechRequest(endpoint, key, token, language, phrases);
        return null;
    }

    private static bool IsString(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String;
}
