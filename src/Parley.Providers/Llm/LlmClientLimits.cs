namespace Parley.Providers.Llm;

/// <summary>Limits of the LLM client (section <c>Parley:Llm</c>).</summary>
public sealed class LlmClientLimits
{
    /// <summary>How much of an error reply's body is read (<c>Parley:Llm:MaxErrorBodyBytes</c>, default 64 KiB); the rest is dropped.</summary>
    public int MaxErrorBodyBytes { get; set; } = 64 * 1024;

    /// <summary>Largest SSE line or event of a streamed reply (<c>Parley:Llm:MaxEventBytes</c>, default 1 MiB); a longer one fails the reply.</summary>
    public int MaxEventBytes { get; set; } = 1024 * 1024;

    /// <summary>Limit for the TCP (and TLS) connection to the LLM (<c>Parley:Llm:ConnectTimeout</c>, default 10 s).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting when one is out of range.</summary>
    public void Validate()
    {
        if (MaxErrorBodyBytes <= 0 || MaxEventBytes <= 0)
        {
            throw new ArgumentException("Parley:Llm:MaxErrorBodyBytes and Parley:Llm:MaxEventBytes must be positive");
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("Parley:Llm:ConnectTimeout must be positive");
        }
    }
}
