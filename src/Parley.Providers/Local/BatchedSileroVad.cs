using System.Threading.Tasks.Sources;
using Parley.Abstractions.Speech;

namespace Parley.Providers.Local;

/// <summary>
/// One session's Silero VAD whose windows are scored in batches with other sessions' by a shared
/// <see cref="SileroBatchScorer"/>. The session keeps its own row: the 64-sample context, the window (as floats) and
/// the recurrent state; the scorer's worker copies the row into the batch tensors, runs the model and copies the new
/// state and context back. <see cref="ScoreAsync"/> returns a <see cref="ValueTask{TResult}"/> over this detector
/// (a reusable <see cref="ManualResetValueTaskSourceCore{TResult}"/>): nothing is allocated per window.
/// A row's life is Idle → Queued (submitted) → Running (copied into a batch) → Completing (results written) → Idle.
/// Dispose moves it to Disposed from any of them: a queued row is dropped by the worker, a running one is not written
/// back; either way the pending result fails with <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed class BatchedSileroVad : IVoiceActivityDetector, IValueTaskSource<float>
{
    private const int Idle = 0;
    private const int Queued = 1;
    private const int Running = 2;
    private const int Completing = 3;
    private const int Disposed = 4;
    private const float Scale = 1f / 32768f;

    private readonly Action<BatchedSileroVad> _enqueue;

    // The row: [context (64) | window (512)] as the model's input, and the state [2][128]. Written by the caller only
    // while Idle, by the worker only while Running/Completing.
    private readonly float[] _input = new float[SileroVad.ContextSamples + SileroVad.Window];
    private readonly float[] _state = new float[2 * SileroBatchScorer.StateWidth];
    private ManualResetValueTaskSourceCore<float> _completion = new() { RunContinuationsAsynchronously = true };
    private CancellationToken _cancellation;
    private int _status;

    /// <param name="enqueue">Hands a queued row to the batch worker (<see cref="SileroBatchScorer.Enqueue"/>).</param>
    internal BatchedSileroVad(Action<BatchedSileroVad> enqueue) => _enqueue = enqueue;

    public int WindowSamples => SileroVad.Window;

    /// <summary>Synchronous scoring through the batch worker (blocks this thread; the async path is the one to use).</summary>
    public float Score(ReadOnlySpan<short> window)
    {
        var pending = ScoreAsync(window, CancellationToken.None);
        return pending.IsCompleted ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
    }

    public ValueTask<float> ScoreAsync(ReadOnlySpan<short> window, CancellationToken cancellationToken)
    {
        if (window.Length != SileroVad.Window)
        {
            throw new ArgumentException(
                $"Silero VAD scores windows of exactly {SileroVad.Window} samples (32 ms at 16 kHz); got {window.Length}.", nameof(window));
        }

        var status = Volatile.Read(ref _status);
        ObjectDisposedException.ThrowIf(status == Disposed, this);
        if (status != Idle)
        {
            throw new InvalidOperationException("A window is already being scored: await its result before the next.");
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<float>(cancellationToken);
        }

        var samples = _input.AsSpan(SileroVad.ContextSamples, SileroVad.Window);
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = window[i] * Scale;
        }

        _cancellation = cancellationToken;
        _completion.Reset();
        var version = _completion.Version;
        if (Interlocked.CompareExchange(ref _status, Queued, Idle) != Idle)
        {
            throw new ObjectDisposedException(nameof(BatchedSileroVad));
        }

        _enqueue(this);
        return new ValueTask<float>(this, version);
    }

    public void Reset()
    {
        var status = Volatile.Read(ref _status);
        ObjectDisposedException.ThrowIf(status == Disposed, this);
        if (status != Idle)
        {
            throw new InvalidOperationException("The VAD cannot be reset while a window is being scored.");
        }

        Array.Clear(_state);
        Array.Clear(_input);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _status, Disposed) == Queued)
        {
            // Still in the scorer's queue: the worker will skip it (its take fails), so the result is failed here.
            _completion.SetException(new ObjectDisposedException(nameof(BatchedSileroVad)));
        }
    }

    /// <summary>Worker: takes the queued row into a batch (false: disposed, or cancelled and failed here).</summary>
    internal bool TryTake()
    {
        if (_cancellation.IsCancellationRequested)
        {
            if (Interlocked.CompareExchange(ref _status, Idle, Queued) == Queued)
            {
                _completion.SetException(new OperationCanceledException(_cancellation));
            }

            return false;
        }

        return Interlocked.CompareExchange(ref _status, Running, Queued) == Queued;
    }

    /// <summary>Worker: the row's model input and its state (layer 0 and 1) into the batch tensors.</summary>
    internal void CopyTo(Span<float> input, Span<float> state0, Span<float> state1)
    {
        _input.CopyTo(input);
        _state.AsSpan(0, SileroBatchScorer.StateWidth).CopyTo(state0);
        _state.AsSpan(SileroBatchScorer.StateWidth).CopyTo(state1);
    }

    /// <summary>
    /// Worker: the batch ran. Unless disposed meanwhile (then nothing is written and the result fails), the new state
    /// and the next context (the last 64 samples of this input) are kept and the probability completes the result.
    /// </summary>
    internal void Complete(ReadOnlySpan<float> state0, ReadOnlySpan<float> state1, float output)
    {
        if (Interlocked.CompareExchange(ref _status, Completing, Running) != Running)
        {
            _completion.SetException(new ObjectDisposedException(nameof(BatchedSileroVad)));
            return;
        }

        state0.CopyTo(_state);
        state1.CopyTo(_state.AsSpan(SileroBatchScorer.StateWidth));
        _input.AsSpan(SileroVad.Window, SileroVad.ContextSamples).CopyTo(_input);
        _cancellation = default;
        var probability = Math.Clamp(output, 0f, 1f);
        // Fails only when disposed while the results were written (into its own arrays): the result still stands.
        Interlocked.CompareExchange(ref _status, Idle, Completing);
        _completion.SetResult(probability);
    }

    /// <summary>Worker or scorer: the row could not be scored (the model failed, or the scorer stopped).</summary>
    internal void Fail(Exception error, bool queued)
    {
        var from = queued ? Queued : Running;
        if (Interlocked.CompareExchange(ref _status, Idle, from) == from)
        {
            _completion.SetException(error);
        }
        else if (!queued && Volatile.Read(ref _status) == Disposed)
        {
            _completion.SetException(new ObjectDisposedException(nameof(BatchedSileroVad)));
        }
    }

    float IValueTaskSource<float>.GetResult(short token) => _completion.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<float>.GetStatus(short token) => _completion.GetStatus(token);

    void IValueTaskSource<float>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);
}
