namespace Parley.Core.Turns;

/// <summary>
/// When user speech may interrupt the agent: <see cref="BargeIn"/> off means the agent finishes its reply and speech
/// heard meanwhile is ignored; <see cref="MinSpeech"/> and <see cref="MinWords"/> are the least speech (duration, and
/// recognised words when known) that counts as an interruption rather than noise.
/// </summary>
public sealed record InterruptionPolicy(bool BargeIn = true, TimeSpan MinSpeech = default, int MinWords = 0)
{
    public static readonly InterruptionPolicy Default = new();

    /// <summary>The agent finishes its replies; speech meanwhile is ignored.</summary>
    public static readonly InterruptionPolicy NoBargeIn = new(BargeIn: false);
}
