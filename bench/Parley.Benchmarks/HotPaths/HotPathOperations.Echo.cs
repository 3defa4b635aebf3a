using Parley.Providers.Local;

namespace Parley.Benchmarks.HotPaths;

/// <summary>Echo cancellation on the input path (issue 14): what speexdsp's canceller and suppressor cost per frame.</summary>
internal static partial class HotPathOperations
{
    public const string SpeexEchoCancel = "SpeexEchoCanceller.Process.20ms";

    static partial void AddEcho(Dictionary<string, Func<IHotPathOperation>> all) =>
        all[SpeexEchoCancel] = () => new SpeexEchoCancelOperation();
}

/// <summary>
/// One 20 ms piece of microphone audio holding the far end's echo (60 ms late, −6 dB) through <see cref="SpeexEchoCanceller"/>
/// with its residual-echo suppressor: two speex frames, each through the MDF filter and the preprocessor.
/// </summary>
internal sealed class SpeexEchoCancelOperation : IHotPathOperation
{
    private const int Piece = 320;
    private readonly SpeexEchoCanceller _canceller = new();
    private readonly short[] _far = HotPathOperations.TestAudio(16000, seconds: 2);
    private readonly short[] _mic;
    private readonly short[] _near = new short[Piece];
    private FrameCursor _cursor;

    public SpeexEchoCancelOperation()
    {
        _mic = new short[_far.Length];
        for (var i = 960; i < _mic.Length; i++)
        {
            _mic[i] = (short)(_far[i - 960] / 2);
        }

        _cursor = new FrameCursor(Piece, _far.Length);
    }

    public int Invoke()
    {
        var at = _cursor.NextOffset();
        _mic.AsSpan(at, Piece).CopyTo(_near);
        _canceller.Process(_near, _far.AsSpan(at, Piece));
        return _near[Piece / 2];
    }

    public void Dispose() => _canceller.Dispose();
}
