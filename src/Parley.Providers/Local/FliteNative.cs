using System.Runtime.InteropServices;

namespace Parley.Providers.Local;

/// <summary>P/Invoke surface of Debian's flite 2.2 (packages libflite1 / flite, soname libflite.so.1).</summary>
internal static unsafe partial class FliteNative
{
    private const string Library = "libflite.so.1";

    /// <summary>Returned by the streaming callback to continue or stop synthesis (cst_audio.h).</summary>
    public const int StreamContinue = 0;
    public const int StreamStop = -1;

    [LibraryImport(Library, EntryPoint = "flite_init")]
    public static partial int Init();

    [LibraryImport(Library, EntryPoint = "flite_synth_text")]
    public static partial IntPtr SynthText(byte* text, IntPtr voice);

    [LibraryImport(Library, EntryPoint = "delete_utterance")]
    public static partial void DeleteUtterance(IntPtr utterance);

    /// <summary>Note: flite keeps the <paramref name="name"/> pointer, so it must stay valid for the process lifetime.</summary>
    [LibraryImport(Library, EntryPoint = "feat_set")]
    public static partial void FeatSet(IntPtr features, byte* name, IntPtr value);

    [LibraryImport(Library, EntryPoint = "feat_set_float")]
    public static partial void FeatSetFloat(IntPtr features, byte* name, float value);

    [LibraryImport(Library, EntryPoint = "get_param_float")]
    public static partial float GetParamFloat(IntPtr features, byte* name, float defaultValue);

    [LibraryImport(Library, EntryPoint = "new_audio_streaming_info")]
    public static partial AudioStreamingInfo* NewAudioStreamingInfo();

    [LibraryImport(Library, EntryPoint = "audio_streaming_info_val")]
    public static partial IntPtr AudioStreamingInfoVal(AudioStreamingInfo* info);

    /// <summary>cst_voice: only the leading fields are read.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Voice
    {
        public IntPtr Name;
        public IntPtr Features;
    }

    /// <summary>cst_wave.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Wave
    {
        public IntPtr Type;
        public int SampleRate;
        public int NumSamples;
        public int NumChannels;
        public short* Samples;
    }

    /// <summary>cst_audio_streaming_info (40 bytes on 64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct AudioStreamingInfo
    {
        public int MinBufferSize;
        public delegate* unmanaged<Wave*, int, int, int, AudioStreamingInfo*, int> Callback;
        public IntPtr Utterance;
        public IntPtr Item;
        public IntPtr UserData;
    }
}
