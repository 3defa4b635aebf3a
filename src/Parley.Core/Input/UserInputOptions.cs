using Parley.Core.Turns;

namespace Parley.Core.Input;

/// <summary>Immutable settings of a <see cref="UserInputPipeline"/> (typed; the server maps the contract's fields here).</summary>
public sealed record UserInputOptions
{
    /// <summary>VAD state machine settings; <see cref="VadSegmenterOptions.SilenceDuration"/> ends an utterance.</summary>
    public VadSegmenterOptions Vad { get; init; } = new();

    /// <summary>
    /// When longer than the VAD's silence, utterances separated by a pause shorter than this are stitched into one
    /// turn (<see cref="PauseIntervalStitching"/>). Null (the default) turns stitching off (<see cref="SilenceEndOfTurn"/>).
    /// </summary>
    public TimeSpan? PauseInterval { get; init; }

    /// <summary>
    /// Clause-aware end of turn (<see cref="ClauseAwareEndOfTurn"/>): set, a turn whose transcript ends in an unfinished
    /// clause waits until the silence reaches this (the <see cref="PauseInterval"/> instead when stitching is on), and a
    /// complete sentence ends at the VAD's silence. Null (the default here; the server sets Parley's 1200 ms) keeps
    /// silence / PauseInterval stitching.
    /// </summary>
    public TimeSpan? UnfinishedClauseWait { get; init; }

    /// <summary>The energy gate in front of the VAD model: a silent or near-silent stream is not scored (<see cref="SilenceGate"/>). Fixed for the pipeline's life.</summary>
    public SilenceGateOptions SilenceGate { get; init; } = new();

    /// <summary>
    /// An end-of-turn model (e.g. Smart Turn v3) judging the turn from its audio between the VAD's silence and the
    /// longest wait of these settings (<see cref="ModelEndOfTurn"/>); null (the default): no model.
    /// </summary>
    public EndOfTurnModelOptions? EndOfTurnModel { get; init; }

    /// <summary>Audio before the detected speech start that is sent to the recogniser too (the first syllable).</summary>
    public TimeSpan PreRoll { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>When speech may interrupt the agent; the pipeline reports <see cref="UserSpeechSustained"/> at its minimum speech.</summary>
    public InterruptionPolicy Interruption { get; init; } = InterruptionPolicy.Default;

    /// <summary>Wait before opening a fresh recognition stream after one failed; doubles per failure in a row.</summary>
    public TimeSpan RecognitionRetryDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest wait between two attempts to open a recognition stream.</summary>
    public TimeSpan MaxRecognitionRetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How much of the agent's played audio (the far-end reference) is kept for the input processors.</summary>
    public TimeSpan FarEndBuffer { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Walkie-talkie mode: the user is heard only between <see cref="UserInputPipeline.StartListening"/> and
    /// <see cref="UserInputPipeline.StopListening"/> (audio outside is neither recognised nor a barge-in, and no pre-roll
    /// reaches back before the start); silence does not end the turn, the stop does.
    /// </summary>
    public bool ListenOnDemand { get; init; }

    /// <summary>How long a turn ended by <see cref="UserInputPipeline.StopListening"/> waits for the recogniser's final text before it completes with what was heard.</summary>
    public TimeSpan StopFinalWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Stitching is on: <see cref="PauseInterval"/> is set and longer than the VAD silence.</summary>
    public bool Stitching => PauseInterval is { } pause && pause > Vad.SilenceDuration;

    /// <summary>
    /// The end-of-turn policy these options describe: clause-aware, stitching or silence; with an
    /// <see cref="EndOfTurnModel"/>, the model between the VAD's silence and the longest of those waits (the policy
    /// without the model decides if the model fails).
    /// </summary>
    public IEndOfTurnPolicy CreateEndOfTurnPolicy()
    {
        var bounds = CreateBoundsPolicy();
        if (EndOfTurnModel is not { } model)
        {
            return bounds;
        }

        var longest = Vad.SilenceDuration;
        if (Stitching && PauseInterval!.Value > longest)
        {
            longest = PauseInterval.Value;
        }

        if (UnfinishedClauseWait is { } unfinished && !Stitching && unfinished > longest)
        {
            longest = unfinished;
        }

        return new ModelEndOfTurn(model.Model, model.Threshold, Vad.SilenceDuration, longest, bounds);
    }

    private IEndOfTurnPolicy CreateBoundsPolicy()
    {
        if (UnfinishedClauseWait is { } unfinished)
        {
            var upper = Stitching ? PauseInterval!.Value : unfinished;
            return new ClauseAwareEndOfTurn(Stitching ? upper : Vad.SilenceDuration, upper);
        }

        return Stitching ? new PauseIntervalStitching(PauseInterval!.Value) : SilenceEndOfTurn.Instance;
    }

    internal void Validate()
    {
        Vad.Validate();
        ArgumentNullException.ThrowIfNull(SilenceGate);
        SilenceGate.Validate();
        if (StopFinalWait <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(StopFinalWait), StopFinalWait, "StopFinalWait must be positive.");
        }

        if (PreRoll < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PreRoll), PreRoll, "PreRoll must not be negative.");
        }

        if (RecognitionRetryDelay <= TimeSpan.Zero || MaxRecognitionRetryDelay < RecognitionRetryDelay)
        {
            throw new ArgumentOutOfRangeException(
                nameof(RecognitionRetryDelay), RecognitionRetryDelay, "RecognitionRetryDelay must be positive and at most MaxRecognitionRetryDelay.");
        }

        if (FarEndBuffer < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(FarEndBuffer), FarEndBuffer, "FarEndBuffer must not be negative.");
        }

        ArgumentNullException.ThrowIfNull(Interruption);
        EndOfTurnModel?.Validate();
        if (UnfinishedClauseWait is { } wait && wait < Vad.SilenceDuration)
        {
            throw new ArgumentOutOfRangeException(
                nameof(UnfinishedClauseWait), wait, "UnfinishedClauseWait must not be shorter than the VAD's SilenceDuration.");
        }
    }
}
