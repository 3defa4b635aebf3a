using System.Collections.Frozen;
using System.Runtime.InteropServices;
using System.Text;

namespace Parley.Providers.Local;

/// <summary>
/// espeak-ng in-process in synchronous mode: the synth callback receives each buffer (about 60 ms) as it is
/// produced. The library is a process-wide singleton, so one dedicated worker thread owns it.
/// </summary>
internal sealed unsafe class EspeakNgEngine : LocalTtsWorker
{
    private const int BufferMilliseconds = 60;
    private const int BaseWordsPerMinute = 175;

    private static readonly Lazy<EspeakNgEngine> LazyShared = new(() => new EspeakNgEngine());

    [ThreadStatic]
    private static LocalTtsRequest? t_current;

    private FrozenSet<string> _voices = FrozenSet<string>.Empty;
    private string[] _languages = [];
    private string? _currentVoice;
    private int _sampleRate;

    private EspeakNgEngine()
        : base("espeak-ng-tts")
    {
    }

    public static EspeakNgEngine Shared => LazyShared.Value;

    /// <summary>Returns an error naming the field when <paramref name="voice"/> is not an espeak-ng voice or language.</summary>
    public string? CheckVoice(string voice)
    {
        if (StartupError is { } startup)
        {
            return $"TTS.Params.engine 'espeak-ng' is not available on this server: {startup}";
        }

        return _voices.Contains(voice)
            ? null
            : $"TTS.Params.voice '{voice}' is not an espeak-ng voice; available languages: {string.Join(", ", _languages)}.";
    }

    protected override void Initialize()
    {
        _sampleRate = EspeakNgNative.Initialize(EspeakNgNative.AudioOutputSynchronous, BufferMilliseconds, null, 0);
        if (_sampleRate <= 0)
        {
            throw new InvalidOperationException($"espeak_Initialize failed ({_sampleRate}); install the Debian package espeak-ng-data.");
        }

        EspeakNgNative.SetSynthCallback(&OnAudio);

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var languages = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        var list = EspeakNgNative.ListVoices(IntPtr.Zero);
        for (var entry = list; entry != null && *entry != null; entry++)
        {
            var voice = *entry;
            var identifier = Marshal.PtrToStringUTF8((IntPtr)voice->Identifier) ?? string.Empty;
            if (identifier.StartsWith("mb/", StringComparison.Ordinal))
            {
                continue; // MBROLA voices need separately installed databases
            }

            if (Marshal.PtrToStringUTF8((IntPtr)voice->Name) is { Length: > 0 } name)
            {
                names.Add(name);
            }

            if (identifier.Length > 0)
            {
                names.Add(identifier);
            }

            // Languages: (priority byte, NUL-terminated name) pairs ending with a zero priority byte.
            var p = voice->Languages;
            while (p != null && *p != 0)
            {
                var language = Marshal.PtrToStringUTF8((IntPtr)(p + 1)) ?? string.Empty;
                if (language.Length > 0)
                {
                    names.Add(language);
                    languages.Add(language);
                }

                p += 1 + Encoding.UTF8.GetByteCount(language) + 1;
            }
        }

        _voices = names.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        _languages = [.. languages];
    }

    protected override void Synthesize(LocalTtsRequest request, string sentence)
    {
        if (!string.Equals(_currentVoice, request.Voice, StringComparison.OrdinalIgnoreCase))
        {
            var name = Encoding.UTF8.GetBytes(request.Voice + "\0");
            fixed (byte* p = name)
            {
                var result = EspeakNgNative.SetVoiceByName(p);
                if (result != EspeakNgNative.ErrorOk)
                {
                    _currentVoice = null;
                    throw new ArgumentException($"TTS.Params.voice '{request.Voice}' could not be selected in espeak-ng (error {result}).");
                }
            }

            _currentVoice = request.Voice;
        }

        EspeakNgNative.SetParameter(EspeakNgNative.ParameterRate, (int)Math.Round(BaseWordsPerMinute * request.Speed), 0);
        request.SampleRate = _sampleRate;

        // espeakENDPAUSE: the sentence ends with its natural pause, so split sentences do not run together.
        var length = Encoding.UTF8.GetByteCount(sentence);
        var text = new byte[length + 1];
        Encoding.UTF8.GetBytes(sentence, text);
        t_current = request;
        try
        {
            fixed (byte* p = text)
            {
                var result = EspeakNgNative.Synth(p, (nuint)text.Length, 0, EspeakNgNative.PositionCharacter, 0, EspeakNgNative.CharsUtf8 | EspeakNgNative.EndPause, null, IntPtr.Zero);
                if (result != EspeakNgNative.ErrorOk && !request.IsCancelled)
                {
                    throw new InvalidOperationException($"espeak_Synth failed (error {result}).");
                }
            }
        }
        finally
        {
            t_current = null;
        }
    }

    [UnmanagedCallersOnly]
    private static int OnAudio(short* samples, int count, IntPtr events)
    {
        try
        {
            var request = t_current;
            if (request is null || request.IsCancelled)
            {
                return 1; // abort synthesis
            }

            if (samples != null && count > 0 && !request.TryWrite(new ReadOnlySpan<short>(samples, count)))
            {
                return 1;
            }

            return 0;
        }
        catch
        {
            return 1;
        }
    }
}
