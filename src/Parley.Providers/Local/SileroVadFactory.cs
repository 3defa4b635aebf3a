using Microsoft.ML.OnnxRuntime;
using Parley.Abstractions.Speech;

namespace Parley.Providers.Local;

/// <summary>
/// Creates <see cref="SileroVad"/> detectors over one shared ONNX Runtime session of the Silero VAD v5 model
/// (<c>models/silero/silero_vad_v5.onnx</c> next to the binaries). The session is loaded once; ONNX Runtime's
/// <c>Run</c> is thread-safe. With <see cref="SileroVadOptions.BatchWorkers"/> &gt; 0 (the default) the detectors are
/// <see cref="BatchedSileroVad"/>s whose windows one <see cref="SileroBatchScorer"/> scores in batches across sessions;
/// with 0 they are <see cref="SileroVad"/>s, each with its own buffers and IO binding, scored on the caller's thread.
/// Either way every detector keeps its own recurrent state.
/// </summary>
public sealed class SileroVadFactory : IVoiceActivityDetectorFactory, IDisposable
{
    /// <summary>Path of the model relative to <see cref="AppContext.BaseDirectory"/>.</summary>
    public const string DefaultModelRelativePath = "models/silero/silero_vad_v5.onnx";

    private readonly SessionOptions _options;
    private readonly InferenceSession _session;
    private readonly SileroBatchScorer? _scorer;
    private int _disposed;

    /// <summary>Loads the model from <paramref name="modelPath"/>, or from the default path next to the binaries.</summary>
    /// <param name="modelPath">The model file; default <see cref="DefaultModelRelativePath"/> next to the binaries.</param>
    /// <param name="options">Batching settings; default <see cref="SileroVadOptions"/> (one batch worker).</param>
    public SileroVadFactory(string? modelPath = null, SileroVadOptions? options = null)
    {
        options ??= new SileroVadOptions();
        options.Validate();
        modelPath ??= Path.Combine(AppContext.BaseDirectory, DefaultModelRelativePath);
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException(
                $"Silero VAD model not found at '{modelPath}'. It ships in models/silero/ and is copied next to the Parley binaries.",
                modelPath);
        }

        _options = CreateSessionOptions();
        try
        {
            _session = new InferenceSession(modelPath, _options);
        }
        catch
        {
            _options.Dispose();
            throw;
        }

        CheckSignature(_session, modelPath);
        Options = options;
        if (options.BatchWorkers > 0)
        {
            _scorer = new SileroBatchScorer(_session, options);
        }
    }

    /// <summary>
    /// The ONNX Runtime settings of the VAD session: one thread per run (a batch or a window is small work; more threads
    /// would only fight the sessions' other work for the cores), sequential, all graph optimisations.
    /// </summary>
    internal static SessionOptions CreateSessionOptions() => new()
    {
        IntraOpNumThreads = 1,
        InterOpNumThreads = 1,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    };

    /// <summary>The settings in use.</summary>
    public SileroVadOptions Options { get; }

    /// <summary>The shared batch scorer (null when unbatched).</summary>
    internal SileroBatchScorer? Scorer => _scorer;

    public string Name => "Silero";

    public IVoiceActivityDetector Create()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _scorer is null ? new SileroVad(_session) : new BatchedSileroVad(_scorer.Enqueue);
    }

    /// <summary>
    /// Stops the batch workers (windows still queued fail with <see cref="ObjectDisposedException"/>) and disposes the
    /// shared session; detectors created from this factory should be disposed first.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _scorer?.Dispose();
            _session.Dispose();
            _options.Dispose();
        }
    }

    private static void CheckSignature(InferenceSession session, string modelPath)
    {
        string[] inputs = [SileroVad.InputName, SileroVad.StateName, SileroVad.SampleRateName];
        string[] outputs = [SileroVad.OutputName, SileroVad.StateOutputName];
        foreach (var name in inputs)
        {
            if (!session.InputMetadata.ContainsKey(name))
            {
                session.Dispose();
                throw new InvalidDataException($"'{modelPath}' is not a Silero VAD v5 model: it has no input named '{name}'.");
            }
        }

        foreach (var name in outputs)
        {
            if (!session.OutputMetadata.ContainsKey(name))
            {
                session.Dispose();
                throw new InvalidDataException($"'{modelPath}' is not a Silero VAD v5 model: it has no output named '{name}'.");
            }
        }
    }
}
