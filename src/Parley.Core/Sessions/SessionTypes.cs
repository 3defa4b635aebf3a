using System.Text.Json.Nodes;

namespace Parley.Core.Sessions;

/// <summary>What the agent is doing (the contract's status model: idle, listening, thinking, speaking).</summary>
public enum AgentStatus
{
    Idle = 0,
    Listening = 1,
    Thinking = 2,
    Speaking = 3,
}

public enum MessageRole
{
    User,
    Assistant,
}

/// <summary>One message of the conversation context.</summary>
public sealed record ContextMessage(MessageRole Role, string Content);

/// <summary>Why a reply was interrupted (values match the contract's Interrupted reasons).</summary>
public enum InterruptReason
{
    UserSpeech = 1,
    ProactiveLlm = 2,
    ProactiveSpeech = 3,
    Manual = 4,
}

/// <summary>Priority of a proactive reply (user speech priorities arrive with turn-taking).</summary>
public enum ReplyPriority
{
    Low = 0,
    Medium = 1,
    High = 2,
}

/// <summary>What to do when a reply of the same priority is already in flight.</summary>
public enum SamePriorityOption
{
    ClearAndInterrupt,
    Enqueue,
}

/// <summary>Who the session speaks as and to (passed to the LLM when asked to add agent information).</summary>
public sealed record SessionIdentity(string SessionId, string RoomId, string AgentUserId, string UserId);

/// <summary>Settings of the language model of a session (immutable; an update replaces the snapshot).</summary>
public sealed record LlmSettings(
    string Url,
    string ApiKey,
    string Model,
    string? SystemPrompt,
    double Temperature,
    double TopP,
    JsonObject? Params,
    bool AddAgentInfo)
{
    public const double DefaultTemperature = 0.7;
    public const double DefaultTopP = 0.9;

    /// <summary><c>LLM.AgentExtraInfo</c>: sent as <c>agent_extra_info</c> in the chat request body (OpenAIChat).</summary>
    public JsonObject? AgentExtraInfo { get; init; }

    /// <summary><c>LLM.Vendor</c>: <c>OpenAIChat</c> (null: the default) or <c>OpenAIResponses</c> (the Responses API).</summary>
    public string? Vendor { get; init; }
}

/// <summary>Everything needed to stream one reply from a chat model.</summary>
public sealed record ChatModelRequest(
    LlmSettings Settings,
    string? SystemPrompt,
    IReadOnlyList<ContextMessage> History,
    string UserText,
    SessionIdentity Identity,
    long RoundId,
    long TimestampMs);

/// <summary>Streams reply text deltas from a chat model. Failures are thrown as <see cref="LlmException"/>.</summary>
public interface IChatModel
{
    IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// The reply as text deltas and, for models that speak (an audio-output LLM: <c>modalities</c> with "audio"), the
    /// model's own audio as it streams. By default the text of <see cref="StreamReplyAsync"/>.
    /// </summary>
    IAsyncEnumerable<ChatOutput> StreamOutputAsync(ChatModelRequest request, CancellationToken cancellationToken) =>
        ChatOutput.FromText(StreamReplyAsync(request, cancellationToken), cancellationToken);
}

/// <summary>
/// A piece of a reply: a text delta (the transcript, for a model that speaks), audio (PCM16 little-endian mono at
/// <paramref name="SampleRate"/>; the memory is the model's and valid until the next piece is read), or both.
/// </summary>
public readonly record struct ChatOutput(string? Text, ReadOnlyMemory<byte> Audio, int SampleRate)
{
    /// <summary>Text deltas as pieces without audio.</summary>
    public static async IAsyncEnumerable<ChatOutput> FromText(IAsyncEnumerable<string> text, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var delta in text.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            yield return new ChatOutput(delta, default, 0);
        }
    }
}

/// <summary>Classes of model failures (mapped to the contract's exception codes by the API layer).</summary>
public enum LlmErrorKind
{
    /// <summary>Unreachable, timed out, broken or stalled stream, server error.</summary>
    General,
    InvalidParameter,
    Authentication,
    RateLimited,
    Arrears,
    ContentRejected,
}

public sealed class LlmException(LlmErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public LlmErrorKind Kind { get; } = kind;
}

/// <summary>Which part of the session failed.</summary>
public enum SessionErrorSource
{
    Llm,
    Speech,
}

/// <summary>A piece of text the agent speaks. Audio comes from the speech output (TTS in a room).</summary>
public sealed record SpeechSegment(long RoundId, string Text, bool IsFirstOfReply)
{
    /// <summary>Where the output reports how far the segment got (see <see cref="ISpeechOutput"/>).</summary>
    public SpeechProgress Progress { get; init; } = SpeechProgress.None;

    /// <summary>The <c>LLMMetaInfo</c> metadata at the start of this sentence (all its keys), or null.</summary>
    public System.Text.Json.Nodes.JsonObject? MetaInfo { get; init; }

    /// <summary>The part of <see cref="MetaInfo"/> whose keys are in <c>SendMetaKeys</c> (sent when the sentence starts playing), or null.</summary>
    public System.Text.Json.Nodes.JsonObject? SentMetaInfo { get; init; }

    /// <summary>
    /// When the reply's text was streamed to the output as it was generated (<see cref="ISpeechOutput.StreamsText"/>):
    /// the length of the text pushed (<see cref="ISpeechOutput.PushTextAsync"/>'s result) when this sentence was
    /// complete, i.e. where the sentence ends in the streamed text, give or take the rest of the delta that ended it.
    /// -1 when the reply's text was not streamed.
    /// </summary>
    public int TextEnd { get; init; } = -1;
}

/// <summary>
/// Where the session's spoken text goes. Contract for implementations:
/// <list type="bullet">
/// <item>Return when the segment has been played (or handed over when there is no audio path). Segments of a reply
/// arrive one at a time, in order; the next call comes after the previous returned.</item>
/// <item>Cancelled on interruption (or when the session's speech stall timeout fires): drop what is queued for the
/// segment at once and return (throwing <see cref="OperationCanceledException"/> is fine).</item>
/// <item>Report on <see cref="SpeechSegment.Progress"/> (all optional, thread-safe, cheap): <see cref="SpeechProgress.ReportFirstAudio"/>
/// when the TTS produced the segment's first non-silent audio; <see cref="SpeechProgress.ReportFirstFrameOut"/> when the
/// first frame of it was sent to the room; <see cref="SpeechProgress.ReportPlayed"/> with the fraction of the segment's
/// audio sent so far (e.g. every frame or every 100 ms: samples sent / total samples synthesised, once synthesis of the
/// segment is complete; before that a value not above the truth). An interrupted reply keeps in the context only the
/// played part of the segment (cut at that fraction, at a word boundary). Every report also counts as progress for the
/// stall timeout: an output that plays a long segment without reporting is cut off after
/// <see cref="Parley.Core.Sessions.AgentSessionOptions.SpeechStallTimeout"/>.</item>
/// <item>A failure (throwing anything else) ends the reply with a <see cref="SessionErrorSource.Speech"/> error.</item>
/// </list>
/// </summary>
public interface ISpeechOutput
{
    ValueTask SpeakAsync(SpeechSegment segment, CancellationToken cancellationToken);

    /// <summary>
    /// Called after the last segment of a reply: completes when everything spoken has been heard. An output whose
    /// <see cref="SpeakAsync"/> returns while the end of a segment is still playing (to let the next segment's
    /// synthesis overlap it) waits for that end here; cancellation stops the audio like a cancelled segment.
    /// </summary>
    ValueTask FinishAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// The interruption lane: drops all audio not yet played, now, on the calling thread (the session calls it under
    /// its lock, so it must not block), and brings the current segment's <see cref="SpeechProgress"/> to the position
    /// actually played. Audio of a cancelled segment still in flight must not reach the listener afterwards.
    /// </summary>
    void Clear()
    {
    }

    /// <summary>
    /// A provisional barge-in: the audio stops at once where it is, nothing is dropped (the session calls it under its
    /// lock: must not block). An output without an audio path does nothing.
    /// </summary>
    void Pause()
    {
    }

    /// <summary>The provisional barge-in was a false start: the audio goes on from where <see cref="Pause"/> stopped it.</summary>
    void Resume()
    {
    }

    /// <summary>
    /// Whether the output synthesises a reply's text as it is generated: then the LLM stage pushes every delta with
    /// <see cref="PushTextAsync"/> as it arrives (and ends with <see cref="EndText"/>) before the sentences are
    /// spoken, and the sentences' <see cref="SpeakAsync"/> calls play the audio of their part of that text.
    /// </summary>
    bool StreamsText => false;

    /// <summary>
    /// Adds generated text of reply <paramref name="roundId"/> (<paramref name="first"/>: the reply's first text, which
    /// starts its synthesis; text of a reply whose first text this output did not see is ignored). Returns the length
    /// of the reply's text pushed so far, in the units <see cref="SpeechSegment.TextEnd"/> uses.
    /// </summary>
    ValueTask<int> PushTextAsync(long roundId, string text, bool first, CancellationToken cancellationToken) => ValueTask.FromResult(0);

    /// <summary>The reply's text is complete: its synthesis ends once the pushed text is spoken.</summary>
    void EndText(long roundId)
    {
    }

    /// <summary>
    /// Audio the model itself produced for reply <paramref name="roundId"/> (PCM16 LE mono; copied before returning),
    /// for an output whose voice is the model's (<see cref="StreamsText"/> with the model-audio voice). Outputs that
    /// synthesise speech themselves ignore it.
    /// </summary>
    ValueTask PushAudioAsync(long roundId, ReadOnlyMemory<byte> pcm16, int sampleRate, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}

/// <summary>
/// How far the speech output got with one segment (written by the output, read by the session). Thread-safe.
/// Reports on <see cref="None"/> (segments built outside a session) are ignored.
/// </summary>
public sealed class SpeechProgress
{
    public static readonly SpeechProgress None = new(TimeProvider.System, active: false);

    private readonly TimeProvider _time;
    private readonly bool _active;
    private readonly Lock _gate = new();
    private double _played;
    private DateTimeOffset? _firstAudio;
    private DateTimeOffset? _firstFrameOut;
    private long _lastActivity;

    public SpeechProgress(TimeProvider timeProvider)
        : this(timeProvider, active: true)
    {
    }

    private SpeechProgress(TimeProvider timeProvider, bool active)
    {
        _time = timeProvider;
        _active = active;
        _lastActivity = timeProvider.GetTimestamp();
    }

    /// <summary>Fraction [0, 1] of the segment's audio played so far (monotonic).</summary>
    public double PlayedFraction
    {
        get
        {
            lock (_gate)
            {
                return _played;
            }
        }
    }

    public DateTimeOffset? FirstAudioAt
    {
        get
        {
            lock (_gate)
            {
                return _firstAudio;
            }
        }
    }

    public DateTimeOffset? FirstFrameOutAt
    {
        get
        {
            lock (_gate)
            {
                return _firstFrameOut;
            }
        }
    }

    internal long LastActivityTimestamp => Interlocked.Read(ref _lastActivity);

    /// <summary>Raised once, when <see cref="ReportFirstAudio"/> is first called.</summary>
    internal event Action? FirstAudio;

    /// <summary>The TTS produced the segment's first (non-silent) audio.</summary>
    public void ReportFirstAudio()
    {
        if (!_active)
        {
            return;
        }

        bool first;
        lock (_gate)
        {
            first = _firstAudio is null;
            _firstAudio ??= _time.GetUtcNow();
        }

        Touch();
        if (first)
        {
            FirstAudio?.Invoke();
        }
    }

    /// <summary>
    /// Raised once, when <see cref="ReportFirstFrameOut"/> is first called: the segment started playing. Outputs call
    /// it outside their own locks (handlers take the session's).
    /// </summary>
    internal event Action? FirstFrameOut;

    /// <summary>The first audio frame of the segment was sent out (played, by the sink's position).</summary>
    public void ReportFirstFrameOut()
    {
        if (!_active)
        {
            return;
        }

        bool first;
        lock (_gate)
        {
            first = _firstFrameOut is null;
            _firstFrameOut ??= _time.GetUtcNow();
        }

        Touch();
        if (first)
        {
            FirstFrameOut?.Invoke();
        }
    }

    /// <summary>Fraction [0, 1] of the segment's audio played so far; lower values than an earlier report are ignored.</summary>
    public void ReportPlayed(double fraction)
    {
        if (!_active || double.IsNaN(fraction))
        {
            return;
        }

        lock (_gate)
        {
            _played = Math.Max(_played, Math.Clamp(fraction, 0, 1));
        }

        Touch();
    }

    private void Touch() => Interlocked.Exchange(ref _lastActivity, _time.GetTimestamp());
}


/// <summary>The speech output of a session that has no audio path yet: text is handed over and nothing is played.</summary>
public sealed class TextOnlySpeechOutput : ISpeechOutput
{
    public static readonly TextOnlySpeechOutput Instance = new();

    public ValueTask SpeakAsync(SpeechSegment segment, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Averages over a session (0 when unmeasured).</summary>
public readonly record struct SessionLatency(long LlmFirstTokenMs, double LlmTokensPerSecond, long SpeechFirstAudioMs, long TotalCostMs);
