using System.Runtime.InteropServices;

namespace Parley.Media.Codecs;

/// <summary>P/Invoke surface of Debian's libopus (package libopus0, soname libopus.so.0).</summary>
internal static unsafe partial class OpusNative
{
    private const string Library = "libopus.so.0";

    public const int ApplicationVoip = 2048;
    public const int SetBitrateRequest = 4002;
    public const int ResetState = 4028;

    [LibraryImport(Library, EntryPoint = "opus_encoder_create")]
    public static partial OpusEncoderHandle EncoderCreate(int sampleRate, int channels, int application, out int error);

    [LibraryImport(Library, EntryPoint = "opus_encoder_destroy")]
    public static partial void EncoderDestroy(IntPtr encoder);

    [LibraryImport(Library, EntryPoint = "opus_encode")]
    public static partial int Encode(OpusEncoderHandle encoder, short* pcm, int frameSize, byte* data, int maxDataBytes);

    // opus_encoder_ctl is variadic; on the System V x86-64 and AArch64 Linux ABIs an int vararg is passed
    // exactly like a fixed int argument, so a fixed two-int signature is a correct call.
    [LibraryImport(Library, EntryPoint = "opus_encoder_ctl")]
    public static partial int EncoderCtl(OpusEncoderHandle encoder, int request, int value);

    [LibraryImport(Library, EntryPoint = "opus_decoder_create")]
    public static partial OpusDecoderHandle DecoderCreate(int sampleRate, int channels, out int error);

    [LibraryImport(Library, EntryPoint = "opus_decoder_destroy")]
    public static partial void DecoderDestroy(IntPtr decoder);

    [LibraryImport(Library, EntryPoint = "opus_decode")]
    public static partial int Decode(OpusDecoderHandle decoder, byte* data, int length, short* pcm, int frameSize, int decodeFec);

    [LibraryImport(Library, EntryPoint = "opus_strerror")]
    private static partial IntPtr StrError(int error);

    public static string ErrorText(int error) => Marshal.PtrToStringAnsi(StrError(error)) ?? $"opus error {error}";
}

internal sealed class OpusEncoderHandle : SafeHandle
{
    public OpusEncoderHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        OpusNative.EncoderDestroy(handle);
        return true;
    }
}

internal sealed class OpusDecoderHandle : SafeHandle
{
    public OpusDecoderHandle()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        OpusNative.DecoderDestroy(handle);
        return true;
    }
}

/// <summary>An error reported by libopus, with its text.</summary>
public sealed class OpusException : Exception
{
    public OpusException(string message, int errorCode)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    /// <summary>The negative libopus error code (e.g. -4 OPUS_INVALID_PACKET).</summary>
    public int ErrorCode { get; }
}
