using Microsoft.ML.OnnxRuntime;
using Parley.Abstractions.Speech;

namespace Parley.Providers.Local;

/// <summary>
/// Silero VAD v5 over 512-sample windows of 16 kHz mono PCM16, keeping the model's recurrent state between windows.
/// As the reference <c>OnnxWrapper</c> of silero-vad does, every window is preceded by the last 64 samples of the
/// previous model input, so the model sees <c>input</c> [1, 576]. All tensors live in pinned arrays allocated once
/// and bound once through an <see cref="OrtIoBinding"/>: <see cref="Score"/> allocates nothing.
/// One detector serves one audio stream; it is not safe to call <see cref="Score"/> from two threads at once.
/// </summary>
internal sealed class SileroVad : IVoiceActivityDetector
{
    internal const string InputName = "input";
    internal const string StateName = "state";
    internal const string SampleRateName = "sr";
    internal const string OutputName = "output";
    internal const string StateOutputName = "stateN";

    internal const int SampleRate = 16000;
    internal const int Window = 512;
    internal const int ContextSamples = 64;
    private const int StateLength = 2 * 1 * 128;
    private const float Scale = 1f / 32768f;

    private readonly float[] _input = GC.AllocateArray<float>(ContextSamples + Window, pinned: true);
    private readonly float[] _state = GC.AllocateArray<float>(StateLength, pinned: true);
    private readonly float[] _stateOut = GC.AllocateArray<float>(StateLength, pinned: true);
    private readonly float[] _output = GC.AllocateArray<float>(1, pinned: true);
    private readonly long[] _sampleRate = GC.AllocateArray<long>(1, pinned: true);

    private readonly OrtValue _inputValue;
    private readonly OrtValue _stateValue;
    private readonly OrtValue _stateOutValue;
    private readonly OrtValue _outputValue;
    private readonly OrtValue _sampleRateValue;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions;
    private readonly InferenceSession _session;
    private bool _disposed;

    internal SileroVad(InferenceSession session)
    {
        _session = session;
        _sampleRate[0] = SampleRate;
        _inputValue = OrtValue.CreateTensorValueFromMemory(_input, [1, ContextSamples + Window]);
        _stateValue = OrtValue.CreateTensorValueFromMemory(_state, [2, 1, 128]);
        _stateOutValue = OrtValue.CreateTensorValueFromMemory(_stateOut, [2, 1, 128]);
        _outputValue = OrtValue.CreateTensorValueFromMemory(_output, [1, 1]);
        _sampleRateValue = OrtValue.CreateTensorValueFromMemory(_sampleRate, []);
        _runOptions = new RunOptions();
        _binding = session.CreateIoBinding();
        _binding.BindInput(InputName, _inputValue);
        _binding.BindInput(StateName, _stateValue);
        _binding.BindInput(SampleRateName, _sampleRateValue);
        _binding.BindOutput(OutputName, _outputValue);
        _binding.BindOutput(StateOutputName, _stateOutValue);
    }

    public int WindowSamples => Window;

    public float Score(ReadOnlySpan<short> window)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (window.Length != Window)
        {
            throw new ArgumentException(
                $"Silero VAD scores windows of exactly {Window} samples (32 ms at 16 kHz); got {window.Length}.", nameof(window));
        }

        var samples = _input.AsSpan(ContextSamples, Window);
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = window[i] * Scale;
        }

        _session.RunWithBinding(_runOptions, _binding);

        // Next call: recurrent state from this run, context = the last 64 samples of this run's input.
        _stateOut.AsSpan().CopyTo(_state);
        _input.AsSpan(Window, ContextSamples).CopyTo(_input);
        return Math.Clamp(_output[0], 0f, 1f);
    }

    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Array.Clear(_state);
        Array.Clear(_input);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _binding.Dispose();
        _runOptions.Dispose();
        _inputValue.Dispose();
        _stateValue.Dispose();
        _stateOutValue.Dispose();
        _outputValue.Dispose();
        _sampleRateValue.Dispose();
    }
}
