using BenchmarkDotNet.Attributes;
using Parley.Benchmarks.HotPaths;

namespace Parley.Benchmarks;

// BenchmarkDotNet needs public, unsealed benchmark classes; each times one IHotPathOperation call per invocation,
// the same operations the allocation-budget test measures (see HotPaths/ and bench/allocation-budget.json).

/// <summary>Base: creates the named operations in GlobalSetup and disposes them in GlobalCleanup.</summary>
public abstract class HotPathBenchmarks
{
    private readonly List<IHotPathOperation> _created = [];

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var operation in _created)
        {
            operation.Dispose();
        }

        _created.Clear();
    }

    internal IHotPathOperation Create(string name)
    {
        var operation = HotPathOperations.All[name]();
        _created.Add(operation);
        return operation;
    }
}

[MemoryDiagnoser]
public class VadBenchmarks : HotPathBenchmarks
{
    private IHotPathOperation _score = null!;
    private IHotPathOperation _segment = null!;

    [GlobalSetup]
    public void Setup()
    {
        _score = Create(HotPathOperations.SileroVadScore);
        _segment = Create(HotPathOperations.VadSegmenterProcess);
    }

    /// <summary>Silero VAD v5, one 512-sample (32 ms) window at 16 kHz.</summary>
    [Benchmark]
    public int SileroVadScore() => _score.Invoke();

    /// <summary>The speech/silence state machine, one window's probability.</summary>
    [Benchmark]
    public int VadSegmenterProcess() => _segment.Invoke();
}

/// <summary>The silence gate (issue 15): a closed gate's window, and a 20 ms frame of low noise through the windower with and without it.</summary>
[MemoryDiagnoser]
public class SilenceGateBenchmarks : HotPathBenchmarks
{
    private IHotPathOperation _admit = null!;
    private IHotPathOperation _gated = null!;
    private IHotPathOperation _ungated = null!;

    [GlobalSetup]
    public void Setup()
    {
        _admit = Create(HotPathOperations.SilenceGateAdmitClosed);
        _gated = Create(HotPathOperations.VadWindowerSilenceGated);
        _ungated = Create(HotPathOperations.VadWindowerSilenceUngated);
    }

    /// <summary>A closed gate judging one 512-sample window (the model is not run).</summary>
    [Benchmark]
    public int SilenceGateAdmitClosed() => _admit.Invoke();

    /// <summary>One 20 ms frame of low noise through the gated windower.</summary>
    [Benchmark]
    public int VadWindowerSilenceGated() => _gated.Invoke();

    /// <summary>The same frame without the gate (Silero scores every 32 ms window).</summary>
    [Benchmark(Baseline = true)]
    public int VadWindowerSilenceUngated() => _ungated.Invoke();
}

[MemoryDiagnoser]
public class ResamplerBenchmarks : HotPathBenchmarks
{
    private IHotPathOperation _down = null!;
    private IHotPathOperation _up = null!;
    private IHotPathOperation _assemble = null!;

    [GlobalSetup]
    public void Setup()
    {
        _down = Create(HotPathOperations.Resample48kTo16k);
        _up = Create(HotPathOperations.Resample16kTo48k);
        _assemble = Create(HotPathOperations.FrameAssemblerWriteRead);
    }

    [Benchmark]
    public int Resample48kTo16k() => _down.Invoke();

    [Benchmark]
    public int Resample16kTo48k() => _up.Invoke();

    /// <summary>320 samples written as 200 + 120, one frame read back.</summary>
    [Benchmark]
    public int FrameAssemblerWriteRead() => _assemble.Invoke();
}

/// <summary>256 frame buffers rented from the audio pool, then returned (one call = the whole burst).</summary>
[MemoryDiagnoser]
public class AudioPoolBenchmarks : HotPathBenchmarks
{
    private IHotPathOperation _burst = null!;

    [GlobalSetup]
    public void Setup() => _burst = Create(HotPathOperations.AudioPoolBurst);

    private readonly short[][] _held = new short[256][];

    [Benchmark]
    public int Burst256() => _burst.Invoke();

    /// <summary>The same burst through ArrayPool&lt;short&gt;.Shared, the pool the audio path used before (the baseline).</summary>
    [Benchmark(Baseline = true)]
    public int Burst256Shared()
    {
        var pool = System.Buffers.ArrayPool<short>.Shared;
        for (var i = 0; i < _held.Length; i++)
        {
            _held[i] = pool.Rent(320);
            _held[i][0] = (short)i;
        }

        var sum = 0;
        for (var i = 0; i < _held.Length; i++)
        {
            sum += _held[i][0];
            pool.Return(_held[i]);
        }

        return sum;
    }
}

[MemoryDiagnoser]
public class CodecBenchmarks : HotPathBenchmarks
{
    private IHotPathOperation _encode48 = null!;
    private IHotPathOperation _decode48 = null!;
    private IHotPathOperation _encode16 = null!;
    private IHotPathOperation _decode16 = null!;
    private IHotPathOperation _muLaw = null!;
    private IHotPathOperation _aLaw = null!;

    [GlobalSetup]
    public void Setup()
    {
        _encode48 = Create(HotPathOperations.OpusEncode48k);
        _decode48 = Create(HotPathOperations.OpusDecode48k);
        _encode16 = Create(HotPathOperations.OpusEncode16k);
        _decode16 = Create(HotPathOperations.OpusDecode16k);
        _muLaw = Create(HotPathOperations.G711MuLaw);
        _aLaw = Create(HotPathOperations.G711ALaw);
    }

    [Benchmark]
    public int OpusEncode48k() => _encode48.Invoke();

    [Benchmark]
    public int OpusDecode48k() => _decode48.Invoke();

    [Benchmark]
    public int OpusEncode16k() => _encode16.Invoke();

    [Benchmark]
    public int OpusDecode16k() => _decode16.Invoke();

    /// <summary>160 samples (20 ms at 8 kHz) encoded then decoded.</summary>
    [Benchmark]
    public int G711MuLawEncodeDecode() => _muLaw.Invoke();

    [Benchmark]
    public int G711ALawEncodeDecode() => _aLaw.Invoke();
}

/// <summary>
/// PCM conversions. Frame pacing is not benchmarked yet: the pacer is being written in src/Parley.Rtc on another
/// branch; add a PacerBenchmarks class and a budget line once it lands.
/// </summary>
[MemoryDiagnoser]
public class PcmBenchmarks : HotPathBenchmarks
{
    private IHotPathOperation _toBytes = null!;
    private IHotPathOperation _fromBytes = null!;
    private IHotPathOperation _dbfs = null!;

    [GlobalSetup]
    public void Setup()
    {
        _toBytes = Create(HotPathOperations.PcmToBytes);
        _fromBytes = Create(HotPathOperations.PcmFromBytes);
        _dbfs = Create(HotPathOperations.PcmDbfs);
    }

    [Benchmark]
    public int PcmToBytes() => _toBytes.Invoke();

    [Benchmark]
    public int PcmFromBytes() => _fromBytes.Invoke();

    [Benchmark]
    public int PcmDbfs() => _dbfs.Invoke();
}

[MemoryDiagnoser]
public class ControlApiBenchmarks : HotPathBenchmarks
{
    private IHotPathOperation _verify = null!;
    private IHotPathOperation _envelope = null!;

    [GlobalSetup]
    public void Setup()
    {
        _verify = Create(HotPathOperations.SignatureVerify);
        _envelope = Create(HotPathOperations.EnvelopeSerialize);
    }

    /// <summary>RequestSignature.Verify of a valid signature.</summary>
    [Benchmark]
    public int SignatureVerify() => _verify.Invoke();

    /// <summary>A success envelope serialised as the control API writes it.</summary>
    [Benchmark]
    public int EnvelopeSerialize() => _envelope.Invoke();
}

/// <summary>
/// The batched Silero VAD per window: one model call of B sessions' windows (B = 1, 16, 64, 256), against today's
/// unbatched per-session call (the baseline); each benchmark reports time per window (OperationsPerInvoke = B).
/// </summary>
[MemoryDiagnoser]
public class VadBatchBenchmarks : HotPathBenchmarks
{
    private IHotPathOperation _unbatched = null!;
    private IHotPathOperation _batch1 = null!;
    private IHotPathOperation _batch16 = null!;
    private IHotPathOperation _batch64 = null!;
    private IHotPathOperation _batch256 = null!;
    private IHotPathOperation _worker16 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _unbatched = Create(HotPathOperations.SileroVadScore);
        _batch1 = Create(HotPathOperations.SileroVadBatch1);
        _batch16 = Create(HotPathOperations.SileroVadBatch16);
        _batch64 = Create(HotPathOperations.SileroVadBatch64);
        _batch256 = Create(HotPathOperations.SileroVadBatch256);
        _worker16 = Create(HotPathOperations.SileroVadBatchWorker16);
    }

    /// <summary>Today's path: one model call per window per session, on the caller's thread.</summary>
    [Benchmark(Baseline = true)]
    public int Unbatched() => _unbatched.Invoke();

    [Benchmark(OperationsPerInvoke = 1)]
    public int Batch1() => _batch1.Invoke();

    [Benchmark(OperationsPerInvoke = 16)]
    public int Batch16() => _batch16.Invoke();

    [Benchmark(OperationsPerInvoke = 64)]
    public int Batch64() => _batch64.Invoke();

    [Benchmark(OperationsPerInvoke = 256)]
    public int Batch256() => _batch256.Invoke();

    /// <summary>16 sessions through the shared worker thread, submit to result (includes the thread hand-offs).</summary>
    [Benchmark(OperationsPerInvoke = 16)]
    public int Worker16() => _worker16.Invoke();
}

/// <summary>Echo cancellation (issue 14): one 20 ms piece through speexdsp's canceller and residual-echo suppressor.</summary>
[MemoryDiagnoser]
public class EchoCancellerBenchmarks : HotPathBenchmarks
{
    private IHotPathOperation _cancel = null!;

    [GlobalSetup]
    public void Setup() => _cancel = Create(HotPathOperations.SpeexEchoCancel);

    [Benchmark]
    public int SpeexEchoCancel() => _cancel.Invoke();
}
