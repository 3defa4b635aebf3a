using System.Runtime.InteropServices;

namespace Parley.Providers.Local;

/// <summary>P/Invoke surface of Debian's libespeak-ng (package libespeak-ng1, soname libespeak-ng.so.1).</summary>
internal static unsafe partial class EspeakNgNative
{
    private const string Library = "libespeak-ng.so.1";

    public const int AudioOutputSynchronous = 2;
    public const int PositionCharacter = 1;
    public const int CharsUtf8 = 1;
    public const int EndPause = 0x1000;
    public const int ParameterRate = 1;
    public const int ErrorOk = 0;

    [LibraryImport(Library, EntryPoint = "espeak_Initialize")]
    public static partial int Initialize(int output, int bufferLengthMs, byte* path, int options);

    [LibraryImport(Library, EntryPoint = "espeak_SetSynthCallback")]
    public static partial void SetSynthCallback(delegate* unmanaged<short*, int, IntPtr, int> callback);

    [LibraryImport(Library, EntryPoint = "espeak_SetVoiceByName")]
    public static partial int SetVoiceByName(byte* name);

    [LibraryImport(Library, EntryPoint = "espeak_SetParameter")]
    public static partial int SetParameter(int parameter, int value, int relative);

    [LibraryImport(Library, EntryPoint = "espeak_Synth")]
    public static partial int Synth(byte* text, nuint size, uint position, int positionType, uint endPosition, uint flags, uint* uniqueIdentifier, IntPtr userData);

    [LibraryImport(Library, EntryPoint = "espeak_ListVoices")]
    public static partial VoiceInfo** ListVoices(IntPtr voiceSpec);

    /// <summary>espeak_VOICE.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct VoiceInfo
    {
        public byte* Name;
        public byte* Languages; // (priority byte, NUL-terminated language) pairs, ended by a zero priority byte
        public byte* Identifier;
        public byte Gender;
        public byte Age;
        public byte Variant;
        public byte Reserved;
        public int Score;
        public IntPtr Spare;
    }
}
