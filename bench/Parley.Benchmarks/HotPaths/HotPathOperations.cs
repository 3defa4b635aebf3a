using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Turns;
using Parley.Media;
using Parley.Media.Codecs;
using Parley.Providers.Local;

namespace Parley.Benchmarks.HotPaths;

/// <summary>
/// One hot-path call (one audio frame, one VAD window, one request) with all of its state prepared up front.
/// The benchmarks time <see cref="Invoke"/>; the allocation-budget test (tests/Parley.Providers.Tests/Budget)
/// counts the bytes it allocates. Compiled into both: this folder is linked into the test project.
/// </summary>
internal interface IHotPathOperation : IDisposable
{
    /// <summary>Does one call and returns a value derived from its output (so the work cannot be optimised away).</summary>
    int Invoke();

    /// <summary>Bytes allocated so far on threads other than the caller's for these calls (a worker thread's); 0 for most.</summary>
    long OffThreadAllocatedBytes => 0;
}

/// <summary>
/// The registry of hot-path operations, by the names used in <c>bench/allocation-budget.json</c>.
/// Audio frames are 20 ms; VAD windows are 512 samples at 16 kHz (32 ms).
/// </summary>
internal static partial class HotPathOperations
{
    public const string SileroVadScore = "SileroVad.Score.512";
    public const string VadSegmenterProcess = "VadSegmenter.Process";
    public const string Resample48kTo16k = "Resampler.48kTo16k.20ms";
    public const string Resample16kTo48k = "Resampler.16kTo48k.20ms";
    public const string FrameAssemblerWriteRead = "FrameAssembler.WriteRead.20ms16k";
    public const string OpusEncode48k = "Opus.Encode.48k.20ms";
    public const string OpusDecode48k = "Opus.Decode.48k.20ms";
    public const string OpusEncode16k = "Opus.Encode.16k.20ms";
    public const string OpusDecode16k = "Opus.Decode.16k.20ms";
    public const string G711MuLaw = "G711.MuLaw.EncodeDecode.20ms8k";
    public const string G711ALaw = "G711.ALaw.EncodeDecode.20ms8k";
    public const string PcmToBytes = "PcmMath.ToBytes.20ms16k";
    public const string PcmFromBytes = "PcmMath.FromBytes.20ms16k";
    public const string PcmDbfs = "PcmMath.Dbfs.20ms16k";
    public const string AudioPoolBurst = "AudioBufferPool.Burst.256x20ms16k";

    /// <summary>Every operation by name: the audio ones here, the control-API ones in HotPathOperations.Api.cs.</summary>
    public static IReadOnlyDictionary<string, Func<IHotPathOperation>> All { get; } = Build();

    private static Dictionary<string, Func<IHotPathOperation>> Build()
    {
        var all = new Dictionary<string, Func<IHotPathOperation>>(StringComparer.Ordinal)
        {
            [SileroVadScore] = () => new SileroVadScoreOperation(),
            [VadSegmenterProcess] = () => new VadSegmenterOperation(),
            [Resample48kTo16k] = () => new ResampleOperation(48000, 16000),
            [Resample16kTo48k] = () => new ResampleOperation(16000, 48000),
            [FrameAssemblerWriteRead] = () => new FrameAssemblerOperation(),
            [OpusEncode48k] = () => new OpusEncodeOperation(48000),
            [OpusDecode48k] = () => new OpusDecodeOperation(48000),
            [OpusEncode16k] = () => new OpusEncodeOperation(16000),
            [OpusDecode16k] = () => new OpusDecodeOperation(16000),
            [G711MuLaw] = () => new G711Operation(aLaw: false),
            [G711ALaw] = () => new G711Operation(aLaw: true),
            [PcmToBytes] = () => new PcmToBytesOperation(),
            [PcmFromBytes] = () => new PcmFromBytesOperation(),
            [PcmDbfs] = () => new PcmDbfsOperation(),
            [AudioPoolBurst] = () => new AudioPoolBurstOperation(),
        };
        AddApi(all);
        AddClock(all);
        AddGate(all);
        AddBatchedVad(all);
        AddEcho(all);
        return all;
    }

    static partial void AddApi(Dictionary<string, Func<IHotPathOperation>> all);

    static partial void AddClock(Dictionary<string, Func<IHotPathOperation>> all);

    static partial void AddGate(Dictionary<string, Func<IHotPathOperation>> all);

    static partial void AddBatchedVad(Dictionary<string, Func<IHotPathOperation>> all);

    static partial void AddEcho(Dictionary<string, Func<IHotPathOperation>> all);

    /// <summary>One second of voice-like test audio: two tones with a slow amplitude envelope plus deterministic noise.</summary>
    public static short[] TestAudio(int sampleRate, double seconds = 1.0)
    {
        var samples = new short[(int)(sampleRate * seconds)];
        var random = new Random(20261123);
        for (var i = 0; i < samples.Length; i++)
        {
            var t = (double)i / sampleRate;
            var envelope = 0.55 + (0.45 * Math.Sin(2 * Math.PI * 3 * t));
            var value = envelope * ((6000 * Math.Sin(2 * Math.PI * 220 * t)) + (3000 * Math.Sin(2 * Math.PI * 1250 * t)));
            value += (random.NextDouble() - 0.5) * 800;
            samples[i] = (short)Math.Round(value);
        }

        return samples;
    }
}

/// <summary>Steps through a buffer of test audio one frame per call, wrapping around.</summary>
internal struct FrameCursor(int frameSamples, int totalSamples)
{
    private readonly int _frames = totalSamples / frameSamples;
    private int _next;

    public int NextOffset()
    {
        var offset = _next * frameSamples;
        _next = (_next + 1) % _frames;
        return offset;
    }
}

/// <summary>Silero VAD v5: one 512-sample window at 16 kHz through a detector from <see cref="SileroVadFactory"/>.</summary>
internal sealed class SileroVadScoreOperation : IHotPathOperation
{
    private readonly SileroVadFactory _factory;
    private readonly IVoiceActivityDetector _vad;
    private readonly short[] _audio = HotPathOperations.TestAudio(16000);
    private FrameCursor _cursor;

    public SileroVadScoreOperation()
    {
        // Unbatched: one model call per window on the caller's thread (the batched path is SileroVad.Batch.*).
        _factory = new SileroVadFactory(options: new SileroVadOptions { BatchWorkers = 0 });
        _vad = _factory.Create();
        _cursor = new FrameCursor(_vad.WindowSamples, _audio.Length);
    }

    public int Invoke() => (int)(_vad.Score(_audio.AsSpan(_cursor.NextOffset(), _vad.WindowSamples)) * 1000);

    public void Dispose()
    {
        _vad.Dispose();
        _factory.Dispose();
    }
}

/// <summary>The speech/silence state machine fed a repeating talk-pause pattern, so every transition is exercised.</summary>
internal sealed class VadSegmenterOperation : IHotPathOperation
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(512 / 16000.0);
    private readonly VadSegmenter _segmenter = new(new VadSegmenterOptions());
    private readonly float[] _probabilities = Pattern();
    private TimeSpan _at;
    private int _next;

    public int Invoke()
    {
        var probability = _probabilities[_next];
        _next = (_next + 1) % _probabilities.Length;
        var result = _segmenter.Process(probability, _at);
        _at += Window;
        return (int)result.Kind;
    }

    public void Dispose()
    {
    }

    private static float[] Pattern()
    {
        // 1.3 s of speech with a short dip, then 0.8 s of silence (ends the turn at the 500 ms default), then a noise blip.
        var pattern = new List<float>();
        pattern.AddRange(Enumerable.Repeat(0.92f, 20));
        pattern.AddRange(Enumerable.Repeat(0.2f, 3));
        pattern.AddRange(Enumerable.Repeat(0.85f, 20));
        pattern.AddRange(Enumerable.Repeat(0.05f, 25));
        pattern.AddRange(Enumerable.Repeat(0.6f, 2));
        pattern.AddRange(Enumerable.Repeat(0.1f, 10));
        return [.. pattern];
    }
}

/// <summary>One 20 ms frame through a streaming <see cref="Resampler"/>.</summary>
internal sealed class ResampleOperation : IHotPathOperation
{
    private readonly Resampler _resampler;
    private readonly short[] _audio;
    private readonly short[] _output;
    private readonly int _frame;
    private FrameCursor _cursor;

    public ResampleOperation(int inputRate, int outputRate)
    {
        _resampler = new Resampler(inputRate, outputRate);
        _audio = HotPathOperations.TestAudio(inputRate);
        _frame = inputRate / 50;
        _output = new short[_resampler.MaxOutputSamples(_frame)];
        _cursor = new FrameCursor(_frame, _audio.Length);
    }

    public int Invoke() => _resampler.Process(_audio.AsSpan(_cursor.NextOffset(), _frame), _output);

    public void Dispose()
    {
    }
}

/// <summary>
/// A burst of 256 frame buffers rented from the audio pool and then returned: a sentence of reply audio queued for
/// playout, or the frames of many sessions in flight at once. ArrayPool.Shared keeps 32 per size per core (plus one
/// per thread), so there most of a burst was newly allocated and most of its return dropped; the audio pool keeps what
/// comes back.
/// </summary>
internal sealed class AudioPoolBurstOperation : IHotPathOperation
{
    private const int Burst = 256;
    private readonly AudioBufferPool _pool = new();
    private readonly short[][] _held = new short[Burst][];

    public int Invoke()
    {
        for (var i = 0; i < Burst; i++)
        {
            _held[i] = _pool.Rent(320);
            _held[i][0] = (short)i;
        }

        var sum = 0;
        for (var i = 0; i < Burst; i++)
        {
            sum += _held[i][0];
            _pool.Return(_held[i]);
        }

        return sum;
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// A 20 ms frame at 16 kHz (320 samples) arriving in two uneven pieces (200 + 120) and read back as one frame.
/// </summary>
internal sealed class FrameAssemblerOperation : IHotPathOperation
{
    private const int Frame = 320;
    private readonly FrameAssembler _assembler = new(Frame);
    private readonly short[] _audio = HotPathOperations.TestAudio(16000);
    private readonly short[] _frame = new short[Frame];
    private FrameCursor _cursor = new(Frame, 16000);

    public int Invoke()
    {
        var piece = _audio.AsSpan(_cursor.NextOffset(), Frame);
        _assembler.Write(piece[..200]);
        _assembler.Write(piece[200..]);
        return _assembler.TryReadFrame(_frame) ? _frame[0] : -1;
    }

    public void Dispose() => _assembler.Dispose();
}

/// <summary>Opus (VoIP, 24 kbit/s mono) encoding of one 20 ms frame.</summary>
internal sealed class OpusEncodeOperation : IHotPathOperation
{
    private readonly OpusEncoder _encoder;
    private readonly short[] _audio;
    private readonly byte[] _packet = new byte[1500];
    private readonly int _frame;
    private FrameCursor _cursor;

    public OpusEncodeOperation(int sampleRate)
    {
        _encoder = new OpusEncoder(sampleRate);
        _audio = HotPathOperations.TestAudio(sampleRate);
        _frame = sampleRate / 50;
        _cursor = new FrameCursor(_frame, _audio.Length);
    }

    public int Invoke() => _encoder.Encode(_audio.AsSpan(_cursor.NextOffset(), _frame), _packet);

    public void Dispose() => _encoder.Dispose();
}

/// <summary>Opus decoding of one 20 ms packet (a second of pre-encoded packets, cycled).</summary>
internal sealed class OpusDecodeOperation : IHotPathOperation
{
    private readonly OpusDecoder _decoder;
    private readonly byte[][] _packets;
    private readonly short[] _pcm;
    private int _next;

    public OpusDecodeOperation(int sampleRate)
    {
        var frame = sampleRate / 50;
        var audio = HotPathOperations.TestAudio(sampleRate);
        using var encoder = new OpusEncoder(sampleRate);
        var buffer = new byte[1500];
        _packets = new byte[audio.Length / frame][];
        for (var i = 0; i < _packets.Length; i++)
        {
            _packets[i] = buffer.AsSpan(0, encoder.Encode(audio.AsSpan(i * frame, frame), buffer)).ToArray();
        }

        _decoder = new OpusDecoder(sampleRate);
        _pcm = new short[frame];
    }

    public int Invoke()
    {
        var packet = _packets[_next];
        _next = (_next + 1) % _packets.Length;
        return _decoder.Decode(packet, _pcm);
    }

    public void Dispose() => _decoder.Dispose();
}

/// <summary>G.711 encoding then decoding of one 20 ms frame at 8 kHz (160 samples).</summary>
internal sealed class G711Operation(bool aLaw) : IHotPathOperation
{
    private const int Frame = 160;
    private readonly short[] _audio = HotPathOperations.TestAudio(8000);
    private readonly byte[] _encoded = new byte[Frame];
    private readonly short[] _decoded = new short[Frame];
    private FrameCursor _cursor = new(Frame, 8000);

    public int Invoke()
    {
        var frame = _audio.AsSpan(_cursor.NextOffset(), Frame);
        if (aLaw)
        {
            G711.EncodeALaw(frame, _encoded);
            G711.DecodeALaw(_encoded, _decoded);
        }
        else
        {
            G711.EncodeMuLaw(frame, _encoded);
            G711.DecodeMuLaw(_encoded, _decoded);
        }

        return _decoded[Frame / 2];
    }

    public void Dispose()
    {
    }
}

/// <summary>PCM16 samples to little-endian bytes, one 20 ms frame at 16 kHz.</summary>
internal sealed class PcmToBytesOperation : IHotPathOperation
{
    private const int Frame = 320;
    private readonly short[] _audio = HotPathOperations.TestAudio(16000);
    private readonly byte[] _bytes = new byte[2 * Frame];
    private FrameCursor _cursor = new(Frame, 16000);

    public int Invoke()
    {
        PcmMath.ToBytes(_audio.AsSpan(_cursor.NextOffset(), Frame), _bytes);
        return _bytes[1];
    }

    public void Dispose()
    {
    }
}

/// <summary>Little-endian bytes to PCM16 samples, one 20 ms frame at 16 kHz.</summary>
internal sealed class PcmFromBytesOperation : IHotPathOperation
{
    private const int Frame = 320;
    private readonly byte[] _bytes;
    private readonly short[] _samples = new short[Frame];
    private FrameCursor _cursor = new(2 * Frame, 32000);

    public PcmFromBytesOperation()
    {
        var audio = HotPathOperations.TestAudio(16000);
        _bytes = new byte[2 * audio.Length];
        PcmMath.ToBytes(audio, _bytes);
    }

    public int Invoke() => PcmMath.FromBytes(_bytes.AsSpan(_cursor.NextOffset(), 2 * Frame), _samples) + _samples[7];

    public void Dispose()
    {
    }
}

/// <summary>Level (dBFS) of one 20 ms frame at 16 kHz.</summary>
internal sealed class PcmDbfsOperation : IHotPathOperation
{
    private const int Frame = 320;
    private readonly short[] _audio = HotPathOperations.TestAudio(16000);
    private FrameCursor _cursor = new(Frame, 16000);

    public int Invoke() => (int)PcmMath.Dbfs(_audio.AsSpan(_cursor.NextOffset(), Frame));

    public void Dispose()
    {
    }
}
