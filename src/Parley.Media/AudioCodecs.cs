using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Parley.Media;

/// <summary>
/// Turns one transport payload (one WebSocket binary frame, one RTP payload) into PCM16 mono samples.
/// One decoder per published stream: decoders may keep state between payloads (Opus does).
/// </summary>
public interface IAudioDecoder : IDisposable
{
    /// <summary>The sample rate of the PCM this decoder produces.</summary>
    int SampleRate { get; }

    /// <summary>An upper bound of the samples <see cref="TryDecode"/> writes for a payload of <paramref name="payloadBytes"/> bytes.</summary>
    int MaxSamplesFor(int payloadBytes);

    /// <summary>Decodes <paramref name="payload"/> into <paramref name="pcm"/>; on bad input returns false with a reason naming the problem.</summary>
    bool TryDecode(ReadOnlySpan<byte> payload, Span<short> pcm, out int samplesWritten, out string? error);
}

/// <summary>Turns PCM16 mono samples into one transport payload. One encoder per played stream.</summary>
public interface IAudioEncoder : IDisposable
{
    /// <summary>The sample rate of the PCM this encoder expects.</summary>
    int SampleRate { get; }

    /// <summary>An upper bound of the payload bytes <see cref="Encode"/> writes for <paramref name="samples"/> samples.</summary>
    int MaxBytesFor(int samples);

    /// <summary>Encodes <paramref name="pcm"/> into <paramref name="payload"/> and returns the bytes written.</summary>
    int Encode(ReadOnlySpan<short> pcm, Span<byte> payload);

    /// <summary>Samples per call when the codec needs whole frames (Opus: 20 ms); 0 when any length is fine.</summary>
    int FixedFrameSamples => 0;
}

/// <summary>
/// A codec picked by the <c>Codec</c> name of a Publish/Play request (case-insensitive). Register more with
/// <c>services.AddSingleton&lt;IAudioCodecFactory, MyCodecFactory&gt;()</c>: Opus and G.711 plug in here.
/// </summary>
public interface IAudioCodecFactory
{
    /// <summary>The codec name clients use, e.g. "pcm16", "opus".</summary>
    string Name { get; }

    /// <summary>True when the codec can run at <paramref name="sampleRate"/> (mono).</summary>
    bool SupportsSampleRate(int sampleRate);

    IAudioDecoder CreateDecoder(int sampleRate);

    IAudioEncoder CreateEncoder(int sampleRate);
}

/// <summary>Finds a codec factory by name among the registered <see cref="IAudioCodecFactory"/> services.</summary>
public sealed class AudioCodecRegistry
{
    private readonly Dictionary<string, IAudioCodecFactory> _factories = new(StringComparer.OrdinalIgnoreCase);

    public AudioCodecRegistry(IEnumerable<IAudioCodecFactory> factories)
    {
        foreach (var factory in factories)
        {
            _factories[factory.Name] = factory;
        }
    }

    /// <summary>The registered codec names.</summary>
    public IReadOnlyCollection<string> Names => _factories.Keys;

    public bool TryGet(string name, out IAudioCodecFactory factory) => _factories.TryGetValue(name, out factory!);
}

/// <summary>"pcm16": raw 16-bit little-endian signed mono samples, any of the sample rates the transport accepts.</summary>
internal sealed class Pcm16CodecFactory : IAudioCodecFactory
{
    public string Name => "pcm16";

    public bool SupportsSampleRate(int sampleRate) => sampleRate is >= 8000 and <= 48000;

    public IAudioDecoder CreateDecoder(int sampleRate) => new Pcm16Codec(sampleRate);

    public IAudioEncoder CreateEncoder(int sampleRate) => new Pcm16Codec(sampleRate);

    private sealed class Pcm16Codec(int sampleRate) : IAudioDecoder, IAudioEncoder
    {
        public int SampleRate { get; } = sampleRate;

        public int MaxSamplesFor(int payloadBytes) => payloadBytes / 2;

        public int MaxBytesFor(int samples) => samples * 2;

        public bool TryDecode(ReadOnlySpan<byte> payload, Span<short> pcm, out int samplesWritten, out string? error)
        {
            samplesWritten = 0;
            if ((payload.Length & 1) != 0)
            {
                error = $"pcm16 payload has an odd length ({payload.Length} bytes); samples are 2 bytes each";
                return false;
            }

            var samples = payload.Length / 2;
            if (pcm.Length < samples)
            {
                error = "pcm16 payload is larger than the decode buffer";
                return false;
            }

            if (BitConverter.IsLittleEndian)
            {
                MemoryMarshal.Cast<byte, short>(payload).CopyTo(pcm);
            }
            else
            {
                for (var i = 0; i < samples; i++)
                {
                    pcm[i] = BinaryPrimitives.ReadInt16LittleEndian(payload[(2 * i)..]);
                }
            }

            samplesWritten = samples;
            error = null;
            return true;
        }

        public int Encode(ReadOnlySpan<short> pcm, Span<byte> payload)
        {
            if (BitConverter.IsLittleEndian)
            {
                MemoryMarshal.AsBytes(pcm).CopyTo(payload);
            }
            else
            {
                for (var i = 0; i < pcm.Length; i++)
                {
                    BinaryPrimitives.WriteInt16LittleEndian(payload[(2 * i)..], pcm[i]);
                }
            }

            return pcm.Length * 2;
        }

        public void Dispose()
        {
        }
    }
}
