using Parley.Abstractions.Audio;

namespace Parley.Core.Turns;

/// <summary>
/// A model that judges from the user's audio whether the turn is complete (e.g. Smart Turn v3, run on ONNX Runtime
/// by <c>Parley.Providers.Turns.SmartTurnModel</c>). It is shared by every pipeline: <see cref="Predict"/> may be called
/// from several threads at once. It is called off the audio path (on the thread pool) and may take tens of milliseconds.
/// </summary>
public interface IEndOfTurnModel
{
    /// <summary>The most audio it reads: only the last this-long of the turn is passed (Smart Turn v3: 8 s).</summary>
    TimeSpan MaxAudio { get; }

    /// <summary>
    /// The probability (0–1) that the turn is complete, from the turn's audio up to now (16 kHz mono PCM16: the
    /// turn's speech from its start, or its last <see cref="MaxAudio"/>, and the silence after it).
    /// </summary>
    float Predict(ReadOnlySpan<short> turnAudio);
}

/// <summary>The end-of-turn model an instance uses and the probability at or above which a turn counts as complete.</summary>
/// <param name="Model">The model (shared).</param>
/// <param name="Threshold">Probability at or above which the turn is complete (Smart Turn's reference: 0.5).</param>
public sealed record EndOfTurnModelOptions(IEndOfTurnModel Model, float Threshold = 0.5f)
{
    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Model);
        if (!(Threshold is >= 0f and <= 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(Threshold), Threshold, "EndOfTurnModel Threshold must be between 0 and 1.");
        }
    }
}

/// <summary>
/// An end-of-turn policy that also hears the user's audio (every processed piece, in order) and may change its mind off
/// the audio path: it then calls the action given to <see cref="Attach"/>, and the pipeline asks
/// <see cref="IEndOfTurnPolicy.OnAudioAdvanced"/> again at once. <see cref="OnAudio"/> runs under the pipeline's lock
/// on the audio path: it must allocate nothing.
/// </summary>
public interface IAudioEndOfTurnPolicy : IEndOfTurnPolicy
{
    void OnAudio(ReadOnlySpan<short> samples);

    void Attach(Action reconsider);
}

/// <summary>
/// Ends the turn when an end-of-turn model (<see cref="IEndOfTurnModel"/>) says the turn is complete, within the silence
/// bounds: below <see cref="MinSilence"/> (the VAD's <c>SilenceSegmentation</c>: the utterance has not ended) the model
/// is not consulted; at <see cref="MaxWait"/> (the longest wait of the turn settings: <c>PauseInterval</c> stitching or
/// the unfinished-clause wait) the turn ends whatever the model said. In between, a probability at or above
/// <see cref="Threshold"/> ends the turn as soon as the model answers; below it, the turn waits for more speech or
/// <see cref="MaxWait"/>. The model is consulted once per silence (again after each new utterance), on the thread
/// pool, with the turn's audio from its start (at most <see cref="IEndOfTurnModel.MaxAudio"/>, as Smart Turn wants:
/// the whole turn, not only the last utterance). A model that throws leaves the decision to <see cref="Fallback"/>.
/// The audio of the last <see cref="IEndOfTurnModel.MaxAudio"/> lives in a ring allocated once; each consultation
/// copies it into a pooled buffer.
/// </summary>
public sealed class ModelEndOfTurn : IAudioEndOfTurnPolicy
{
    private const long TicksPerSample = TimeSpan.TicksPerSecond / 16000;

    private readonly Lock _sync = new();
    private readonly short[] _ring;
    private long _written;
    private Action? _reconsider;

    // Guarded by _sync: the consultation for one (turn, utterance count), and its verdict.
    private string? _askedTurn;
    private int _askedUtterances;
    private Verdict _verdict;

    public ModelEndOfTurn(IEndOfTurnModel model, float threshold, TimeSpan minSilence, TimeSpan maxWait, IEndOfTurnPolicy fallback)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(fallback);
        ArgumentOutOfRangeException.ThrowIfLessThan(minSilence, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWait, minSilence);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(model.MaxAudio, TimeSpan.Zero, nameof(model.MaxAudio));
        new EndOfTurnModelOptions(model, threshold).Validate();
        Model = model;
        Threshold = threshold;
        MinSilence = minSilence;
        MaxWait = maxWait;
        Fallback = fallback;
        _ring = new short[checked((int)(model.MaxAudio.Ticks / TicksPerSample))];
    }

    private enum Verdict
    {
        None,
        Pending,
        Complete,
        Incomplete,
        Failed,
    }

    public IEndOfTurnModel Model { get; }

    public float Threshold { get; }

    /// <summary>Silence below which the model is not consulted.</summary>
    public TimeSpan MinSilence { get; }

    /// <summary>Silence at which the turn ends whatever the model said.</summary>
    public TimeSpan MaxWait { get; }

    /// <summary>Decides when the model failed.</summary>
    public IEndOfTurnPolicy Fallback { get; }

    /// <summary>Consultations started (for tests and diagnostics).</summary>
    public int Consultations => Volatile.Read(ref _consultations);

    private int _consultations;

    public void Attach(Action reconsider) => _reconsider = reconsider;

    public void OnAudio(ReadOnlySpan<short> samples)
    {
        if (samples.Length >= _ring.Length)
        {
            samples = samples[^_ring.Length..];
        }

        var at = (int)(_written % _ring.Length);
        var first = Math.Min(samples.Length, _ring.Length - at);
        samples[..first].CopyTo(_ring.AsSpan(at));
        samples[first..].CopyTo(_ring);
        _written += samples.Length;
    }

    public EndOfTurn OnSpeechEnded(in TurnSnapshot turn) => Decide(turn);

    public EndOfTurn OnAudioAdvanced(in TurnSnapshot turn) => turn.Phase == VadPhase.Quiet ? Decide(turn) : EndOfTurn.Wait;

    public async ValueTask<EndOfTurn> OnFinalTranscriptAsync(TurnSnapshot turn, IConversationView conversation, CancellationToken cancellationToken)
    {
        if (turn.Phase is not (VadPhase.Quiet or VadPhase.Starting))
        {
            return EndOfTurn.Wait;
        }

        lock (_sync)
        {
            if (!IsAsked(turn) || _verdict != Verdict.Failed)
            {
                return turn.Silence >= MaxWait ? EndOfTurn.End : EndOfTurn.Wait;
            }
        }

        return await Fallback.OnFinalTranscriptAsync(turn, conversation, cancellationToken).ConfigureAwait(false);
    }

    private bool IsAsked(in TurnSnapshot turn) =>
        ReferenceEquals(_askedTurn, turn.MessageId) && _askedUtterances == turn.Utterances;

    private EndOfTurn Decide(in TurnSnapshot turn)
    {
        if (turn.Silence >= MaxWait)
        {
            return EndOfTurn.End;
        }

        if (turn.Silence < MinSilence)
        {
            return EndOfTurn.Wait;
        }

        lock (_sync)
        {
            if (IsAsked(turn))
            {
                return _verdict switch
                {
                    Verdict.Complete => EndOfTurn.End,
                    Verdict.Failed => Fallback.OnAudioAdvanced(turn),
                    _ => EndOfTurn.Wait,
                };
            }

            _askedTurn = turn.MessageId;
            _askedUtterances = turn.Utterances;
            _verdict = Verdict.Pending;
        }

        Consult(turn);
        return EndOfTurn.Wait;
    }

    /// <summary>Copies the turn's audio (under the pipeline's lock, so the ring holds still) and runs the model on the pool.</summary>
    private void Consult(in TurnSnapshot turn)
    {
        Interlocked.Increment(ref _consultations);
        var start = Math.Max(turn.TurnStart.Ticks / TicksPerSample, 0);
        var length = (int)Math.Clamp(_written - start, 0, Math.Min(_written, _ring.Length));
        var audio = AudioBufferPool.Shared.Rent(Math.Max(length, 1));
        var from = (int)((_written - length) % _ring.Length);
        var first = Math.Min(length, _ring.Length - from);
        _ring.AsSpan(from, first).CopyTo(audio);
        _ring.AsSpan(0, length - first).CopyTo(audio.AsSpan(first));
        var messageId = turn.MessageId;
        var utterances = turn.Utterances;
        ThreadPool.UnsafeQueueUserWorkItem(_ => Run(audio, length, messageId, utterances), null);
    }

    private void Run(short[] audio, int length, string messageId, int utterances)
    {
        Verdict verdict;
        try
        {
            var p = Model.Predict(audio.AsSpan(0, length));
            verdict = float.IsNaN(p) ? Verdict.Failed : p >= Threshold ? Verdict.Complete : Verdict.Incomplete;
        }
        catch (Exception)
        {
            verdict = Verdict.Failed; // the fallback policy decides
        }
        finally
        {
            AudioBufferPool.Shared.Return(audio);
        }

        lock (_sync)
        {
            if (!ReferenceEquals(_askedTurn, messageId) || _askedUtterances != utterances)
            {
                return; // the user spoke again: a newer consultation (or none yet) owns the verdict
            }

            _verdict = verdict;
        }

        _reconsider?.Invoke();
    }
}
