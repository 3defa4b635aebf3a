using System.Buffers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Parley.Core.Turns;

namespace Parley.Providers.Turns;

/// <summary>
/// An end-of-turn model in the Smart Turn v3 format, run on ONNX Runtime from a file the operator supplies (none
/// ships with Parley). The format, from pipecat-ai/pipecat <c>src/pipecat/audio/turn/smart_turn/local_smart_turn_v3.py</c>
/// and pipecat-ai/smart-turn <c>README.md</c>: one float32 input <c>input_features</c> [batch, 80, 800] (the Whisper
/// log-mel features of the last 8 s of 16 kHz audio, <see cref="WhisperLogMel"/>), and a first output holding the
/// sigmoid probability that the turn is complete ([batch, 1] or [batch]); 0.5 is the reference threshold.
/// One session serves every pipeline (ONNX Runtime's <c>Run</c> is thread-safe); each call rents its feature buffer from
/// the shared pool, so a call allocates no feature-sized memory.
/// </summary>
public sealed class SmartTurnModel : IEndOfTurnModel, IDisposable
{
    public const string InputName = "input_features";

    private static readonly long[] Shape = [1, WhisperLogMel.Mels, WhisperLogMel.Frames];

    private readonly SessionOptions _options;
    private readonly RunOptions _runOptions = new();
    private readonly InferenceSession _session;
    private readonly string _outputName;
    private int _disposed;

    /// <summary>Loads the model; a missing or unreadable file, or one not in the Smart Turn v3 format, throws naming <paramref name="settingName"/>.</summary>
    /// <param name="modelPath">The ONNX file.</param>
    /// <param name="settingName">The setting the path came from, for the error (e.g. <c>Parley:Turns:EndOfTurnModel:Path</c>).</param>
    /// <param name="threads">Intra-op threads per run.</param>
    public SmartTurnModel(string modelPath, string settingName = "EndOfTurnModel:Path", int threads = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"{settingName}: the end-of-turn model '{modelPath}' does not exist.", modelPath);
        }

        _options = new SessionOptions
        {
            IntraOpNumThreads = Math.Max(1, threads),
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        try
        {
            _session = new InferenceSession(modelPath, _options);
        }
        catch (OnnxRuntimeException ex)
        {
            _options.Dispose();
            throw new InvalidDataException($"{settingName}: '{modelPath}' is not a readable ONNX model ({ex.Message}).", ex);
        }

        try
        {
            _outputName = CheckSignature(_session, modelPath, settingName);
        }
        catch
        {
            _session.Dispose();
            _options.Dispose();
            throw;
        }
    }

    public TimeSpan MaxAudio { get; } = TimeSpan.FromSeconds(WhisperLogMel.Samples / WhisperLogMel.SampleRate);

    public float Predict(ReadOnlySpan<short> turnAudio)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var features = ArrayPool<float>.Shared.Rent(WhisperLogMel.Mels * WhisperLogMel.Frames);
        try
        {
            var memory = features.AsMemory(0, WhisperLogMel.Mels * WhisperLogMel.Frames);
            WhisperLogMel.Compute(turnAudio, memory.Span);
            return Run(memory);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(features);
        }
    }

    /// <summary>Runs the model on features already computed (<see cref="WhisperLogMel.Mels"/> × <see cref="WhisperLogMel.Frames"/>).</summary>
    public float Run(Memory<float> features)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, features, Shape);
        using var outputs = _session.Run(_runOptions, [InputName], [input], [_outputName]);
        var probabilities = outputs[0].GetTensorDataAsSpan<float>();
        if (probabilities.IsEmpty)
        {
            throw new InvalidDataException($"The end-of-turn model's output '{_outputName}' is empty.");
        }

        return probabilities[0];
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _session.Dispose();
            _options.Dispose();
            _runOptions.Dispose();
        }
    }

    private static string CheckSignature(InferenceSession session, string modelPath, string settingName)
    {
        if (!session.InputMetadata.TryGetValue(InputName, out var input))
        {
            throw new InvalidDataException(
                $"{settingName}: '{modelPath}' is not a Smart Turn v3 model: it has no input named '{InputName}' (it has {string.Join(", ", session.InputMetadata.Keys)}).");
        }

        var dims = input.Dimensions;
        if (input.ElementDataType != TensorElementType.Float || dims.Length != 3
            || (dims[1] > 0 && dims[1] != WhisperLogMel.Mels) || (dims[2] > 0 && dims[2] != WhisperLogMel.Frames))
        {
            throw new InvalidDataException(
                $"{settingName}: '{modelPath}' is not a Smart Turn v3 model: '{InputName}' must be float32 [batch, {WhisperLogMel.Mels}, {WhisperLogMel.Frames}], "
                + $"it is {input.ElementDataType} [{string.Join(", ", dims)}].");
        }

        if (session.InputMetadata.Count != 1)
        {
            throw new InvalidDataException($"{settingName}: '{modelPath}' is not a Smart Turn v3 model: it takes more inputs than '{InputName}'.");
        }

        var output = session.OutputMetadata.FirstOrDefault();
        if (output.Key is null || output.Value.ElementDataType != TensorElementType.Float)
        {
            throw new InvalidDataException($"{settingName}: '{modelPath}' is not a Smart Turn v3 model: its first output must be a float32 probability.");
        }

        return output.Key;
    }
}
