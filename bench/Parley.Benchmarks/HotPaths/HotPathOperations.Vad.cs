using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Parley.Abstractions.Speech;
using Parley.Providers.Local;

namespace Parley.Benchmarks.HotPaths;

/// <summary>The batched Silero VAD (issue 15): one model call for the windows of B sessions.</summary>
internal static partial class HotPathOperations
{
    public const string SileroVadBatch1 = "SileroVad.Batch.512.x1";
    public const string SileroVadBatch16 = "SileroVad.Batch.512.x16";
    public const string SileroVadBatch64 = "SileroVad.Batch.512.x64";
    public const string SileroVadBatch256 = "SileroVad.Batch.512.x256";
    public const string SileroVadBatchWorker16 = "SileroVad.BatchWorker.512.x16";

    static partial void AddBatchedVad(Dictionary<string, Func<IHotPathOperation>> all)
    {
        all[SileroVadBatch1] = () => new SileroBatchOperation(1);
        all[SileroVadBatch16] = () => new SileroBatchOperation(16);
        all[SileroVadBatch64] = () => new SileroBatchOperation(64);
        all[SileroVadBatch256] = () => new SileroBatchOperation(256);
        all[SileroVadBatchWorker16] = () => new SileroBatchWorkerOperation(16);
    }
}

/// <summary>
/// One batch: B sessions each submit a window (<see cref="IVoiceActivityDetector.ScoreAsync"/>) and one
/// <see cref="SileroBatchRunner"/> call (the batch worker's code, on this thread) scores them. Per window = time / B.
/// </summary>
internal sealed class SileroBatchOperation : IHotPathOperation
{
    private readonly SessionOptions _options = SileroVadFactory.CreateSessionOptions();
    private readonly InferenceSession _session;
    private readonly SileroBatchRunner _runner;
    private readonly List<BatchedSileroVad> _queue;
    private readonly BatchedSileroVad[] _vads;
    private readonly ValueTask<float>[] _pending;
    private readonly short[] _audio = HotPathOperations.TestAudio(16000);
    private FrameCursor _cursor;

    public SileroBatchOperation(int batch)
    {
        _session = new InferenceSession(Path.Combine(AppContext.BaseDirectory, SileroVadFactory.DefaultModelRelativePath), _options);
        _runner = new SileroBatchRunner(_session);
        _queue = new List<BatchedSileroVad>(batch);
        _vads = new BatchedSileroVad[batch];
        for (var i = 0; i < batch; i++)
        {
            _vads[i] = new BatchedSileroVad(_queue.Add);
        }

        _pending = new ValueTask<float>[batch];
        _cursor = new FrameCursor(512, _audio.Length);
    }

    public int Invoke()
    {
        var frames = _audio.Length / 512;
        var first = _cursor.NextOffset() / 512;
        for (var i = 0; i < _vads.Length; i++)
        {
            // Each session at its own place in the audio, so rows differ.
            _pending[i] = _vads[i].ScoreAsync(_audio.AsSpan((first + i) % frames * 512, 512), CancellationToken.None);
        }

        _runner.Run(CollectionsMarshal.AsSpan(_queue));
        _queue.Clear();
        var sum = 0f;
        foreach (var pending in _pending)
        {
            sum += pending.GetAwaiter().GetResult();
        }

        return (int)(sum * 1000);
    }

    public void Dispose()
    {
        foreach (var vad in _vads)
        {
            vad.Dispose();
        }

        _runner.Dispose();
        _session.Dispose();
        _options.Dispose();
    }
}

/// <summary>
/// End to end through the shared worker: B sessions of one <see cref="SileroVadFactory"/> submit a window each and
/// the caller waits (spinning) until the worker has scored all. The worker thread's allocations count too.
/// </summary>
internal sealed class SileroBatchWorkerOperation : IHotPathOperation
{
    private readonly SileroVadFactory _factory = new(options: new SileroVadOptions { BatchWorkers = 1 });
    private readonly IVoiceActivityDetector[] _vads;
    private readonly ValueTask<float>[] _pending;
    private readonly short[] _audio = HotPathOperations.TestAudio(16000);
    private FrameCursor _cursor;

    public SileroBatchWorkerOperation(int sessions)
    {
        _vads = new IVoiceActivityDetector[sessions];
        for (var i = 0; i < sessions; i++)
        {
            _vads[i] = _factory.Create();
        }

        _pending = new ValueTask<float>[sessions];
        _cursor = new FrameCursor(512, _audio.Length);
    }

    public long OffThreadAllocatedBytes => _factory.Scorer!.WorkerAllocatedBytes;

    /// <summary>Windows per model call so far (how well the worker batched).</summary>
    public double WindowsPerCall => (double)_factory.Scorer!.Windows / Math.Max(1, _factory.Scorer.Batches);

    public int Invoke()
    {
        var frames = _audio.Length / 512;
        var first = _cursor.NextOffset() / 512;
        for (var i = 0; i < _vads.Length; i++)
        {
            _pending[i] = _vads[i].ScoreAsync(_audio.AsSpan((first + i) % frames * 512, 512), CancellationToken.None);
        }

        var sum = 0f;
        var spin = default(SpinWait);
        foreach (var pending in _pending)
        {
            while (!pending.IsCompleted)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            sum += pending.GetAwaiter().GetResult();
        }

        return (int)(sum * 1000);
    }

    public void Dispose()
    {
        foreach (var vad in _vads)
        {
            vad.Dispose();
        }

        _factory.Dispose();
    }
}
