namespace Parley.Providers.Llm;

/// <summary>The contract's <c>LLM.Vendor</c> values (matched case-insensitively).</summary>
public static class LlmVendorNames
{
    /// <summary>OpenAI's Chat Completions API (the default).</summary>
    public const string OpenAIChat = "OpenAIChat";

    /// <summary>OpenAI's Responses API (e.g. Volcengine Ark <c>/api/v3/responses</c>).</summary>
    public const string OpenAIResponses = "OpenAIResponses";

    /// <summary>Whether <paramref name="vendor"/> selects the Responses API.</summary>
    public static bool IsResponses(string? vendor) => string.Equals(vendor, OpenAIResponses, StringComparison.OrdinalIgnoreCase);
}
