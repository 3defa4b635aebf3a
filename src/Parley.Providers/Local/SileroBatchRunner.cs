using System.Numerics;
using Microsoft.ML.OnnxRuntime;

namespace Parley.Providers.Local;

/// <summary>
/// Runs one batch of Silero rows through the model: gathers each row's input [576] and state (two layers of 128) into
/// pinned batch tensors, makes one <c>RunWithBinding</c> call with input [B, 576] and state [2, B, 128], and scatters
/// the new state and the probability back to each row. The buffers grow by powers of two (never shrink); when they
/// grow, the tensors and the IO binding of every batch size up to the new capacity are made at once and kept, so a
/// batch allocates nothing managed (only the few growths do). One runner belongs to one worker thread.
/// </summary>
internal sealed class SileroBatchRunner : IDisposable
{
    private const int Row = SileroVad.ContextSamples + SileroVad.Window;
    private const int Width = SileroBatchScorer.StateWidth;

    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly long[] _sampleRate = GC.AllocateArray<long>(1, pinned: true);
    private readonly OrtValue _sampleRateValue;
    private BatchedSileroVad[] _rows = [];
    private float[] _input = [];
    private float[] _state = [];
    private float[] _stateOut = [];
    private float[] _output = [];
    private Binding?[] _bindings = [];
    private long _allocated;
    private bool _disposed;

    /// <param name="session">The Silero v5 session (shared; ONNX Runtime's runs are thread-safe).</param>
    /// <param name="initialRows">Rows the buffers and bindings are made for now (more grow them later).</param>
    public SileroBatchRunner(InferenceSession session, int initialRows = 1)
    {
        _session = session;
        _sampleRate[0] = SileroVad.SampleRate;
        _sampleRateValue = OrtValue.CreateTensorValueFromMemory(_sampleRate, []);
        Reserve(initialRows);
    }

    /// <summary>Managed bytes allocated on the thread running this runner's batches, over all its batches.</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocated);

    /// <summary>
    /// Scores the rows that can still be taken (disposed or cancelled ones are dropped) as one model call, and
    /// completes each. Returns how many were scored. A model failure fails the rows of this batch, not the runner.
    /// </summary>
    public int Run(ReadOnlySpan<BatchedSileroVad> candidates)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        ObjectDisposedException.ThrowIf(_disposed, this);
        Reserve(candidates.Length);
        var n = 0;
        foreach (var row in candidates)
        {
            if (row.TryTake())
            {
                _rows[n++] = row;
            }
        }

        if (n > 0)
        {
            var binding = BindingFor(n);
            for (var i = 0; i < n; i++)
            {
                _rows[i].CopyTo(_input.AsSpan(i * Row, Row), _state.AsSpan(i * Width, Width), _state.AsSpan((n + i) * Width, Width));
            }

            try
            {
                _session.RunWithBinding(_runOptions, binding.IoBinding);
            }
            catch (Exception ex)
            {
                for (var i = 0; i < n; i++)
                {
                    _rows[i].Fail(ex, queued: false);
                }

                Array.Clear(_rows, 0, n);
                return 0;
            }

            for (var i = 0; i < n; i++)
            {
                _rows[i].Complete(_stateOut.AsSpan(i * Width, Width), _stateOut.AsSpan((n + i) * Width, Width), _output[i]);
            }

            Array.Clear(_rows, 0, n);
        }

        Interlocked.Add(ref _allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        return n;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        DisposeBindings();
        _sampleRateValue.Dispose();
        _runOptions.Dispose();
    }

    /// <summary>Buffers for <paramref name="batch"/> rows, grown to the next power of two (the bindings over the old ones are dropped).</summary>
    private void Reserve(int batch)
    {
        if (batch <= _rows.Length)
        {
            return;
        }

        var capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(batch, 1));
        DisposeBindings();
        _rows = new BatchedSileroVad[capacity];
        _input = GC.AllocateArray<float>(capacity * Row, pinned: true);
        _state = GC.AllocateArray<float>(capacity * 2 * Width, pinned: true);
        _stateOut = GC.AllocateArray<float>(capacity * 2 * Width, pinned: true);
        _output = GC.AllocateArray<float>(capacity, pinned: true);
        _bindings = new Binding?[capacity + 1];
        for (var rows = 1; rows <= capacity; rows++)
        {
            _bindings[rows] = new Binding(this, rows);
        }
    }

    private Binding BindingFor(int batch) => _bindings[batch]!;

    private void DisposeBindings()
    {
        foreach (var binding in _bindings)
        {
            binding?.Dispose();
        }

        Array.Clear(_bindings);
    }

    /// <summary>The tensors of one batch size over the first rows of the runner's buffers, bound once.</summary>
    private sealed class Binding : IDisposable
    {
        private readonly OrtValue _input;
        private readonly OrtValue _state;
        private readonly OrtValue _stateOut;
        private readonly OrtValue _output;

        public Binding(SileroBatchRunner runner, int batch)
        {
            var memory = OrtMemoryInfo.DefaultInstance;
            _input = OrtValue.CreateTensorValueFromMemory(memory, runner._input.AsMemory(0, batch * Row), [batch, Row]);
            _state = OrtValue.CreateTensorValueFromMemory(memory, runner._state.AsMemory(0, batch * 2 * Width), [2, batch, Width]);
            _stateOut = OrtValue.CreateTensorValueFromMemory(memory, runner._stateOut.AsMemory(0, batch * 2 * Width), [2, batch, Width]);
            _output = OrtValue.CreateTensorValueFromMemory(memory, runner._output.AsMemory(0, batch), [batch, 1]);
            IoBinding = runner._session.CreateIoBinding();
            IoBinding.BindInput(SileroVad.InputName, _input);
            IoBinding.BindInput(SileroVad.StateName, _state);
            IoBinding.BindInput(SileroVad.SampleRateName, runner._sampleRateValue);
            IoBinding.BindOutput(SileroVad.OutputName, _output);
            IoBinding.BindOutput(SileroVad.StateOutputName, _stateOut);
        }

        public OrtIoBinding IoBinding { get; }

        public void Dispose()
        {
            IoBinding.Dispose();
            _input.Dispose();
            _state.Dispose();
            _stateOut.Dispose();
            _output.Dispose();
        }
    }
}
