using System.Runtime.InteropServices;
using Parley.Abstractions.Media;

namespace Parley.Providers.Local;

/// <summary>
/// Acoustic echo cancellation with speexdsp's MDF canceller and its residual-echo suppressor (Debian's libspeexdsp1,
/// soname libspeexdsp.so.1; API from speex_echo.h / speex_preprocess.h: <c>speex_echo_state_init(frame, tail)</c>,
/// <c>speex_echo_cancellation(st, rec, play, out)</c>, <c>speex_preprocess_ctl(pp, SPEEX_PREPROCESS_SET_ECHO_STATE = 24, st)</c>).
/// The far end is the agent's played audio from the pipeline (<c>UserInputPipeline.PushFarEnd</c>). Speex works on
/// fixed 10 ms frames, the pipeline's pieces have any length: the near end goes through a one-frame delay line
/// (160 samples) so each piece is answered at once from frames already cancelled; the residual-echo suppressor's
/// overlap-add adds one more frame (<see cref="Delay"/>: 20 ms with it, 10 ms without, added to the input path).
/// <see cref="TailLength"/> must cover the echo's lead (see <c>PlayedAudioTap</c>). Nothing is allocated per call.
/// One canceller per audio stream; not thread-safe (the pipeline calls it under its processing lock).
/// </summary>
public sealed partial class SpeexEchoCanceller : IAudioInputProcessor, IDisposable
{
    private const string Library = "libspeexdsp.so.1";
    private const int SampleRate = 16000;
    private const int Frame = 160;
    private const int SetSamplingRate = 24; // SPEEX_ECHO_SET_SAMPLING_RATE
    private const int SetEchoState = 24; // SPEEX_PREPROCESS_SET_ECHO_STATE
    private const int SetDenoise = 0; // SPEEX_PREPROCESS_SET_DENOISE
    private const int SetNoiseSuppress = 18; // SPEEX_PREPROCESS_SET_NOISE_SUPPRESS (dB, negative)

    private readonly IntPtr _echo;
    private readonly IntPtr _preprocess;
    private readonly short[] _near = new short[Frame];
    private readonly short[] _far = new short[Frame];
    private readonly short[] _out = new short[Frame];

    // Delay line: a ring of cancelled samples waiting to be handed back (starts with one frame of silence).
    private readonly short[] _ready = new short[2 * Frame];
    private int _readAt;
    private int _readyCount = Frame;
    private int _filled;
    private bool _disposed;

    /// <param name="tailLength">The longest echo path cancelled (default 256 ms; 10 ms to 2 s).</param>
    /// <param name="suppressResidual">Also run speex's residual-echo suppressor (its noise suppression stays at 0 dB).</param>
    /// <param name="sampleRate">The audio's sample rate: only 16000 (the input pipeline's rate) is supported.</param>
    public SpeexEchoCanceller(TimeSpan? tailLength = null, bool suppressResidual = true, int sampleRate = SampleRate)
    {
        Delay = TimeSpan.FromMilliseconds(suppressResidual ? 20 : 10);
        if (sampleRate != SampleRate)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, $"The echo canceller works on {SampleRate} Hz audio only.");
        }

        TailLength = tailLength ?? TimeSpan.FromMilliseconds(256);
        var tail = (int)(TailLength.TotalSeconds * SampleRate);
        ArgumentOutOfRangeException.ThrowIfLessThan(tail, Frame, nameof(tailLength));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tail, 2 * SampleRate, nameof(tailLength));
        _echo = EchoInit(Frame, tail);
        if (_echo == IntPtr.Zero)
        {
            throw new InvalidOperationException("speex_echo_state_init failed.");
        }

        var rate = SampleRate;
        EchoCtl(_echo, SetSamplingRate, ref rate);
        if (suppressResidual)
        {
            // The suppressor's gains are applied only with denoise on (speexdsp preprocess.c: "If noise suppression is
            // off, don't apply the gain"): denoise stays on with a 0 dB noise floor, so only the residual echo is
            // attenuated (by up to speex's default 40 dB, 15 dB while the near end talks).
            _preprocess = PreprocessInit(Frame, SampleRate);
            var on = 1;
            PreprocessCtl(_preprocess, SetDenoise, ref on);
            var noNoiseSuppression = 0;
            PreprocessCtl(_preprocess, SetNoiseSuppress, ref noNoiseSuppression);
            PreprocessCtlPointer(_preprocess, SetEchoState, _echo);
        }
    }

    /// <summary>How late the output is: each sample comes back this much later in the stream (10 ms per speex frame of latency).</summary>
    public TimeSpan Delay { get; }

    /// <summary>The longest echo path (lead of the reference over the echo plus the room's reverberation) cancelled.</summary>
    public TimeSpan TailLength { get; }

    /// <summary>
    /// Cancels the echo of <paramref name="farEnd"/> in <paramref name="nearEnd"/>, in place; the output is the input
    /// of <see cref="Delay"/> earlier. Both spans must have the same length (any length).
    /// </summary>
    public void Process(Span<short> nearEnd, ReadOnlySpan<short> farEnd)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (farEnd.Length != nearEnd.Length)
        {
            throw new ArgumentException($"The far end has {farEnd.Length} samples, the near end {nearEnd.Length}: they must be the same length.", nameof(farEnd));
        }

        for (var i = 0; i < nearEnd.Length; i++)
        {
            _near[_filled] = nearEnd[i];
            _far[_filled] = farEnd[i];
            if (++_filled == Frame)
            {
                Cancel();
                _filled = 0;
            }

            // Hand back the oldest cancelled sample: the piece leaves one frame late, in place.
            nearEnd[i] = _ready[_readAt];
            _readAt = (_readAt + 1) % _ready.Length;
            _readyCount--;
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_preprocess != IntPtr.Zero)
        {
            PreprocessDestroy(_preprocess);
        }

        EchoDestroy(_echo);
    }

    private void Cancel()
    {
        EchoCancellation(_echo, _near, _far, _out);
        if (_preprocess != IntPtr.Zero)
        {
            PreprocessRun(_preprocess, _out);
        }

        var at = (_readAt + _readyCount) % _ready.Length;
        var first = Math.Min(Frame, _ready.Length - at);
        _out.AsSpan(0, first).CopyTo(_ready.AsSpan(at));
        _out.AsSpan(first).CopyTo(_ready);
        _readyCount += Frame;
    }

    [LibraryImport(Library, EntryPoint = "speex_echo_state_init")]
    private static partial IntPtr EchoInit(int frameSize, int filterLength);

    [LibraryImport(Library, EntryPoint = "speex_echo_state_destroy")]
    private static partial void EchoDestroy(IntPtr state);

    [LibraryImport(Library, EntryPoint = "speex_echo_cancellation")]
    private static partial void EchoCancellation(IntPtr state, [In] short[] rec, [In] short[] play, [Out] short[] output);

    [LibraryImport(Library, EntryPoint = "speex_echo_ctl")]
    private static partial int EchoCtl(IntPtr state, int request, ref int value);

    [LibraryImport(Library, EntryPoint = "speex_preprocess_state_init")]
    private static partial IntPtr PreprocessInit(int frameSize, int sampleRate);

    [LibraryImport(Library, EntryPoint = "speex_preprocess_state_destroy")]
    private static partial void PreprocessDestroy(IntPtr state);

    [LibraryImport(Library, EntryPoint = "speex_preprocess_ctl")]
    private static partial int PreprocessCtl(IntPtr state, int request, ref int value);

    [LibraryImport(Library, EntryPoint = "speex_preprocess_ctl")]
    private static partial int PreprocessCtlPointer(IntPtr state, int request, IntPtr value);

    [LibraryImport(Library, EntryPoint = "speex_preprocess_run")]
    private static partial int PreprocessRun(IntPtr state, [In, Out] short[] frame);
}
