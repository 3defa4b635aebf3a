using Parley.Media.Codecs;

namespace Parley.Media;

/// <summary>
/// "opus": one Opus packet per WebSocket binary message (10–60 ms, mono), at 8, 12, 16, 24 or 48 kHz, through
/// Debian's libopus. Played streams are sent as one 20 ms packet per message.
/// </summary>
internal sealed class OpusCodecFactory : IAudioCodecFactory
{
    /// <summary>The largest Opus packet (RFC 6716: 1275 bytes per frame, up to 3 frames of a 60 ms packet).</summary>
    private const int MaxPacketBytes = 4000;

    public string Name => "opus";

    public bool SupportsSampleRate(int sampleRate) => sampleRate is 8000 or 12000 or 16000 or 24000 or 48000;

    public IAudioDecoder CreateDecoder(int sampleRate) => new Decoder(sampleRate);

    public IAudioEncoder CreateEncoder(int sampleRate) => new Encoder(sampleRate);

    private sealed class Decoder(int sampleRate) : IAudioDecoder
    {
        private readonly OpusDecoder _opus = new(sampleRate);

        public int SampleRate => sampleRate;

        /// <summary>A packet's duration is not known from its size: at most 120 ms (the transport then refuses more than 60 ms).</summary>
        public int MaxSamplesFor(int payloadBytes) => sampleRate * 120 / 1000;

        public bool TryDecode(ReadOnlySpan<byte> payload, Span<short> pcm, out int samplesWritten, out string? error)
        {
            try
            {
                samplesWritten = _opus.Decode(payload, pcm);
                error = null;
                return true;
            }
            catch (Exception ex) when (ex is OpusException or ArgumentException)
            {
                samplesWritten = 0;
                error = $"opus packet does not decode: {ex.Message}";
                return false;
            }
        }

        public void Dispose() => _opus.Dispose();
    }

    private sealed class Encoder(int sampleRate) : IAudioEncoder
    {
        private readonly OpusEncoder _opus = new(sampleRate);

        public int SampleRate => sampleRate;

        public int MaxBytesFor(int samples) => MaxPacketBytes;

        public int FixedFrameSamples => sampleRate * 20 / 1000;

        public int Encode(ReadOnlySpan<short> pcm, Span<byte> payload) => _opus.Encode(pcm, payload);

        public void Dispose() => _opus.Dispose();
    }
}
