using Parley.Core.Turns;

namespace Parley.Core.Sessions;

/// <summary>Immutable configuration of one <see cref="AgentSession"/>.</summary>
public sealed record AgentSessionOptions
{
    public required SessionIdentity Identity { get; init; }

    public required LlmSettings Llm { get; init; }

    /// <summary>How many of the most recent context messages each LLM call includes (0 = none).</summary>
    public int WindowSize { get; init; } = 20;

    public IReadOnlyList<ContextMessage> InitialMessages { get; init; } = [];

    /// <summary>A reply whose model sends nothing for this long (while Parley waits for it) fails with a general LLM error.</summary>
    public TimeSpan LlmStallTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The context keeps at most this many messages (oldest dropped first).</summary>
    public int MaxContextMessages { get; init; } = 1000;

    /// <summary>
    /// A speech output that neither finishes a segment nor reports progress on it for this long is cut off and the
    /// reply fails with a speech error.
    /// </summary>
    public TimeSpan SpeechStallTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Whether (and how much) user speech interrupts a reply.</summary>
    public InterruptionPolicy Interruption { get; init; } = InterruptionPolicy.Default;

    /// <summary><c>AdvancedConfig.LLMMetaInfo</c>: metadata taken out of the LLM's text (null = none is looked for).</summary>
    public Parley.Core.Text.MetaInfoRules? MetaInfo { get; init; }
}

/// <summary>A request to answer <see cref="Text"/> as if the user had said it.</summary>
public sealed record LlmReplyRequest(
    string Text,
    string? SystemPrompt = null,
    bool AddQuestionToHistory = false,
    bool AddAnswerToHistory = true,
    ReplyPriority Priority = ReplyPriority.Medium,
    SamePriorityOption SamePriorityOption = SamePriorityOption.ClearAndInterrupt,
    bool InterruptibleByUser = true);

/// <summary>A request to speak <see cref="Text"/> verbatim.</summary>
public sealed record SpeechRequest(
    string Text,
    bool AddToHistory = true,
    bool InterruptibleByUser = true,
    ReplyPriority Priority = ReplyPriority.Medium,
    SamePriorityOption SamePriorityOption = SamePriorityOption.ClearAndInterrupt);
