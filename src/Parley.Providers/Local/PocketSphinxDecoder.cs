using System.Runtime.InteropServices;
using System.Text;

namespace Parley.Providers.Local;

/// <summary>Owns one native pocketsphinx decoder (<c>ps_decoder_t</c>) and the configuration it was built from.</summary>
internal sealed class PocketSphinxDecoderHandle : SafeHandle
{
    private IntPtr _config;

    private PocketSphinxDecoderHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    internal static unsafe PocketSphinxDecoderHandle Create(IReadOnlyList<string> arguments)
    {
        // argv[0] is the program name (skipped by cmd_ln_parse_r). Native strings live until the decoder is built.
        var argc = arguments.Count + 1;
        var argv = (byte**)NativeMemory.AllocZeroed((nuint)(argc + 1), (nuint)sizeof(IntPtr));
        try
        {
            argv[0] = Utf8("parley");
            for (var i = 0; i < arguments.Count; i++)
            {
                argv[i + 1] = Utf8(arguments[i]);
            }

            var config = PocketSphinxNative.cmd_ln_parse_r(IntPtr.Zero, PocketSphinxNative.ps_args(), argc, argv, 1);
            if (config == IntPtr.Zero)
            {
                throw new InvalidOperationException("pocketsphinx rejected the decoder configuration.");
            }

            var decoder = PocketSphinxNative.ps_init(config);
            if (decoder == IntPtr.Zero)
            {
                PocketSphinxNative.cmd_ln_free_r(config);
                throw new InvalidOperationException(
                    "pocketsphinx could not load its models (ps_init failed); check that pocketsphinx-en-us is installed.");
            }

            var result = new PocketSphinxDecoderHandle { _config = config };
            result.SetHandle(decoder);
            return result;
        }
        finally
        {
            for (var i = 0; i < argc; i++)
            {
                NativeMemory.Free(argv[i]);
            }

            NativeMemory.Free(argv);
        }
    }

    protected override bool ReleaseHandle()
    {
        PocketSphinxNative.ps_free(handle);
        if (_config != IntPtr.Zero)
        {
            PocketSphinxNative.cmd_ln_free_r(_config);
            _config = IntPtr.Zero;
        }

        return true;
    }

    private static unsafe byte* Utf8(string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        var buffer = (byte*)NativeMemory.Alloc((nuint)length + 1);
        Encoding.UTF8.GetBytes(value, new Span<byte>(buffer, length));
        buffer[length] = 0;
        return buffer;
    }
}

/// <summary>
/// One pocketsphinx decoder: start, feed, read the hypothesis, end. Not thread-safe: the pool hands a decoder to one
/// stream at a time, and that stream uses it only from its decoding worker.
/// </summary>
internal sealed class PocketSphinxDecoder : IDisposable
{
    private readonly PocketSphinxDecoderHandle _handle;
    private byte[] _lastHypothesis = new byte[256];
    private int _lastHypothesisLength;
    private string _lastHypothesisText = string.Empty;

    internal PocketSphinxDecoder(PocketSphinxDecoderHandle handle) => _handle = handle;

    public bool InUtterance { get; private set; }

    public void StartUtterance()
    {
        Check(PocketSphinxNative.ps_start_utt(_handle.DangerousGetHandle()), "ps_start_utt");
        InUtterance = true;
        _lastHypothesisLength = 0;
        _lastHypothesisText = string.Empty;
    }

    public unsafe void Process(ReadOnlySpan<short> samples)
    {
        if (samples.IsEmpty)
        {
            return;
        }

        fixed (short* data = samples)
        {
            Check(PocketSphinxNative.ps_process_raw(_handle.DangerousGetHandle(), data, (nuint)samples.Length, 0, 0), "ps_process_raw");
        }
    }

    /// <summary>The current best hypothesis; allocates a new string only when the text changed since the last call.</summary>
    public unsafe string Hypothesis()
    {
        var text = PocketSphinxNative.ps_get_hyp(_handle.DangerousGetHandle(), out _);
        if (text == IntPtr.Zero)
        {
            _lastHypothesisLength = 0;
            _lastHypothesisText = string.Empty;
            return string.Empty;
        }

        var bytes = MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)text);
        if (bytes.SequenceEqual(_lastHypothesis.AsSpan(0, _lastHypothesisLength)))
        {
            return _lastHypothesisText;
        }

        if (bytes.Length > _lastHypothesis.Length)
        {
            _lastHypothesis = new byte[Math.Max(bytes.Length, _lastHypothesis.Length * 2)];
        }

        bytes.CopyTo(_lastHypothesis);
        _lastHypothesisLength = bytes.Length;
        _lastHypothesisText = Encoding.UTF8.GetString(bytes).Trim();
        return _lastHypothesisText;
    }

    /// <summary>Ends the utterance and returns its final hypothesis (empty when nothing was recognised).</summary>
    public string EndUtterance()
    {
        InUtterance = false;
        Check(PocketSphinxNative.ps_end_utt(_handle.DangerousGetHandle()), "ps_end_utt");
        return Hypothesis();
    }

    public void Dispose() => _handle.Dispose();

    private static void Check(int result, string function)
    {
        if (result < 0)
        {
            throw new InvalidOperationException($"pocketsphinx {function} failed with code {result}.");
        }
    }
}
