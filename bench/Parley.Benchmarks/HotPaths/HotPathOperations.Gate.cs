using Parley.Abstractions.Speech;
using Parley.Core.Input;
using Parley.Core.Turns;
using Parley.Providers.Local;

namespace Parley.Benchmarks.HotPaths;

/// <summary>The silence gate in front of the VAD model (issue 15): what an idle stream costs per window and per frame.</summary>
internal static partial class HotPathOperations
{
    public const string SilenceGateAdmitClosed = "SilenceGate.Admit.Closed.512";
    public const string VadWindowerSilenceGated = "VadWindower.Push.Silence.Gated.20ms";
    public const string VadWindowerSilenceUngated = "VadWindower.Push.Silence.Ungated.20ms";

    static partial void AddGate(Dictionary<string, Func<IHotPathOperation>> all)
    {
        all[SilenceGateAdmitClosed] = () => new SilenceGateOperation();
        all[VadWindowerSilenceGated] = () => new VadWindowerSilenceOperation(gated: true);
        all[VadWindowerSilenceUngated] = () => new VadWindowerSilenceOperation(gated: false);
    }

    /// <summary>Low noise (about −60 dBFS) of <paramref name="samples"/>, deterministic.</summary>
    public static short[] QuietNoise(int samples)
    {
        var random = new Random(15);
        var noise = new short[samples];
        for (var i = 0; i < noise.Length; i++)
        {
            noise[i] = (short)random.Next(-57, 58);
        }

        return noise;
    }
}

/// <summary>A closed gate judging one 512-sample window of low noise (energy, noise floor, pre-roll copy): the model is not run.</summary>
internal sealed class SilenceGateOperation : IHotPathOperation
{
    private readonly SilenceGate _gate = new(new SilenceGateOptions(), 512, TimeSpan.FromMilliseconds(32));
    private readonly short[] _audio = HotPathOperations.QuietNoise(16000);
    private FrameCursor _cursor;

    public SilenceGateOperation()
    {
        _cursor = new FrameCursor(512, _audio.Length);
        for (var i = 0; i < 20 && !_gate.Closed; i++)
        {
            var window = _audio.AsSpan(_cursor.NextOffset(), 512);
            if (_gate.Admit(window, segmenterQuiet: true))
            {
                _gate.Scored(0.01f, segmenterQuiet: true);
            }
        }

        if (!_gate.Closed)
        {
            throw new InvalidOperationException("The gate did not close on low noise.");
        }
    }

    public int Invoke() => _gate.Admit(_audio.AsSpan(_cursor.NextOffset(), 512), segmenterQuiet: true) ? 1 : 0;

    public void Dispose()
    {
    }
}

/// <summary>
/// The VAD windower (gate, Silero, segmenter) fed one 20 ms piece of low noise: what an idle session's input costs per
/// frame after the socket, with the gate (closed after the first quarter second) or without it (Silero every 32 ms).
/// </summary>
internal sealed class VadWindowerSilenceOperation : IHotPathOperation
{
    // Unbatched: the synchronous path a session's input runs per frame (the batched path is measured by the vad-batch benchmarks).
    private readonly SileroVadFactory _factory = new(options: new SileroVadOptions { BatchWorkers = 0 });
    private readonly VadWindower _windower;
    private readonly short[] _audio = HotPathOperations.QuietNoise(16000);
    private FrameCursor _cursor;

    public VadWindowerSilenceOperation(bool gated)
    {
        _windower = new VadWindower(_factory.Create(), new VadSegmenterOptions(), 16000, new SilenceGateOptions { Enabled = gated });
        _cursor = new FrameCursor(320, _audio.Length);
    }

    public int Invoke() => (int)_windower.Push(_audio.AsSpan(_cursor.NextOffset(), 320)).Kind;

    public void Dispose()
    {
        _windower.Dispose();
        _factory.Dispose();
    }
}
