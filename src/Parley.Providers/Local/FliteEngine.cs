using System.Collections.Frozen;
using System.Runtime.InteropServices;
using System.Text;

namespace Parley.Providers.Local;

/// <summary>
/// flite in-process: the compiled-in Debian voices (libflite_cmu_us_*.so.1) with flite's audio streaming
/// callback, so audio arrives while the waveform is generated. Process-wide because flite voices are
/// global native objects; all calls run on one worker thread.
/// </summary>
internal sealed unsafe class FliteEngine : LocalTtsWorker
{
    /// <summary>General-purpose voices Debian ships (awb_time is limited-domain and left out).</summary>
    public static readonly string[] KnownVoices = ["kal16", "kal", "slt", "rms", "awb"];

    private static readonly Lazy<FliteEngine> LazyShared = new(() => new FliteEngine());

    [ThreadStatic]
    private static LocalTtsRequest? t_current;

    private readonly Dictionary<string, (IntPtr Voice, float Stretch)> _voices = new(StringComparer.Ordinal);
    private Dictionary<string, IntPtr> _registrations = [];
    private FrozenSet<string> _available = FrozenSet<string>.Empty;
    private string[] _availableList = [];
    private byte* _streamingInfoName;
    private byte* _durationStretchName;

    private FliteEngine()
        : base("flite-tts")
    {
    }

    public static FliteEngine Shared => LazyShared.Value;

    /// <summary>Audio samples per streaming callback (64 ms at 16 kHz).</summary>
    public int ChunkSamples { get; } = 1024;

    /// <summary>Returns an error naming the field when <paramref name="voice"/> is not an installed flite voice.</summary>
    public string? CheckVoice(string voice)
    {
        if (StartupError is { } startup)
        {
            return $"TTS.Params.engine 'flite' is not available on this server: {startup}";
        }

        return _available.Contains(voice)
            ? null
            : $"TTS.Params.voice '{voice}' is not a flite voice; available: {string.Join(", ", _availableList)}.";
    }

    protected override void Initialize()
    {
        FliteNative.Init();

        // flite keeps feature-name pointers, so these live for the process lifetime.
        _streamingInfoName = (byte*)Marshal.StringToCoTaskMemUTF8("streaming_info");
        _durationStretchName = (byte*)Marshal.StringToCoTaskMemUTF8("duration_stretch");

        var registrations = new Dictionary<string, IntPtr>(StringComparer.Ordinal);
        foreach (var voice in KnownVoices)
        {
            if (NativeLibrary.TryLoad($"libflite_cmu_us_{voice}.so.1", out var library)
                && NativeLibrary.TryGetExport(library, $"register_cmu_us_{voice}", out var register))
            {
                registrations[voice] = register;
            }
        }

        if (registrations.Count == 0)
        {
            throw new InvalidOperationException("no flite voice library (libflite_cmu_us_*.so.1) could be loaded; install the Debian package flite.");
        }

        _registrations = registrations;
        _availableList = KnownVoices.Where(registrations.ContainsKey).ToArray();
        _available = _availableList.ToFrozenSet(StringComparer.Ordinal);
    }

    protected override void Synthesize(LocalTtsRequest request, string sentence)
    {
        var (voice, stretch) = GetVoice(request.Voice);
        var features = ((FliteNative.Voice*)voice)->Features;
        FliteNative.FeatSetFloat(features, _durationStretchName, (float)(stretch / request.Speed));

        var text = new byte[Encoding.UTF8.GetMaxByteCount(sentence.Length) + 1];
        Encoding.UTF8.GetBytes(sentence, text);
        t_current = request;
        try
        {
            fixed (byte* p = text)
            {
                var utterance = FliteNative.SynthText(p, voice);
                if (utterance != IntPtr.Zero)
                {
                    FliteNative.DeleteUtterance(utterance);
                }
            }
        }
        finally
        {
            t_current = null;
        }
    }

    private (IntPtr Voice, float Stretch) GetVoice(string name)
    {
        if (_voices.TryGetValue(name, out var cached))
        {
            return cached;
        }

        if (!_registrations.TryGetValue(name, out var register))
        {
            throw new ArgumentException($"TTS.Params.voice '{name}' is not a flite voice; available: {string.Join(", ", _availableList)}.");
        }

        var voice = ((delegate* unmanaged<byte*, IntPtr>)register)(null);
        if (voice == IntPtr.Zero)
        {
            throw new InvalidOperationException($"flite could not register the voice '{name}'.");
        }

        var info = FliteNative.NewAudioStreamingInfo();
        info->MinBufferSize = ChunkSamples;
        info->Callback = &OnAudio;
        var features = ((FliteNative.Voice*)voice)->Features;
        FliteNative.FeatSet(features, _streamingInfoName, FliteNative.AudioStreamingInfoVal(info));

        // Voices carry their own natural tempo (kal and kal16 use 1.1); speed scales it.
        var stretch = FliteNative.GetParamFloat(features, _durationStretchName, 1.0f);
        cached = (voice, stretch > 0 ? stretch : 1.0f);
        _voices[name] = cached;
        return cached;
    }

    [UnmanagedCallersOnly]
    private static int OnAudio(FliteNative.Wave* wave, int start, int size, int last, FliteNative.AudioStreamingInfo* info)
    {
        try
        {
            var request = t_current;
            if (request is null || request.IsCancelled)
            {
                return FliteNative.StreamStop;
            }

            request.SampleRate = wave->SampleRate;
            if (size > 0 && wave->Samples != null)
            {
                if (!request.TryWrite(new ReadOnlySpan<short>(wave->Samples + start, size)))
                {
                    return FliteNative.StreamStop;
                }
            }

            return FliteNative.StreamContinue;
        }
        catch
        {
            return FliteNative.StreamStop;
        }
    }
}
