namespace Parley.Media.Codecs;

/// <summary>
/// An Opus decoder (libopus) to PCM16. Not thread-safe: one decoder per stream. Decoding allocates nothing.
/// </summary>
public sealed class OpusDecoder : IDisposable
{
    private readonly OpusDecoderHandle _handle;

    public OpusDecoder(int sampleRate, int channels = 1)
    {
        OpusFrames.CheckSampleRate(sampleRate, nameof(sampleRate));
        OpusFrames.CheckChannels(channels, nameof(channels));
        _handle = OpusNative.DecoderCreate(sampleRate, channels, out var error);
        if (error != 0 || _handle.IsInvalid)
        {
            _handle.Dispose();
            throw new OpusException($"opus_decoder_create failed: {OpusNative.ErrorText(error)}", error);
        }

        SampleRate = sampleRate;
        Channels = channels;
    }

    public int SampleRate { get; }

    public int Channels { get; }

    /// <summary>Samples per channel of the longest Opus packet (120 ms) at this rate: a destination this large always fits.</summary>
    public int MaxFrameSamples => SampleRate * 120 / 1000;

    /// <summary>Decodes one packet into <paramref name="destination"/> (interleaved when stereo); returns samples per channel.</summary>
    /// <exception cref="OpusException">The packet is corrupt or the destination is too small.</exception>
    public unsafe int Decode(ReadOnlySpan<byte> packet, Span<short> destination)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (packet.IsEmpty)
        {
            throw new ArgumentException("The Opus packet is empty; use DecodeLoss for a lost packet.", nameof(packet));
        }

        int samples;
        fixed (byte* data = packet)
        fixed (short* pcm = destination)
        {
            samples = OpusNative.Decode(_handle, data, packet.Length, pcm, destination.Length / Channels, 0);
        }

        if (samples < 0)
        {
            throw new OpusException($"Opus packet of {packet.Length} bytes could not be decoded: {OpusNative.ErrorText(samples)}", samples);
        }

        return samples;
    }

    /// <summary>Conceals one lost packet of <paramref name="frameSamples"/> samples per channel; returns samples per channel.</summary>
    public unsafe int DecodeLoss(Span<short> destination, int frameSamples)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (frameSamples <= 0 || frameSamples % (SampleRate / 400) != 0 || frameSamples > MaxFrameSamples)
        {
            throw new ArgumentOutOfRangeException(nameof(frameSamples), frameSamples, $"frameSamples must be a multiple of 2.5 ms up to 120 ms at {SampleRate} Hz.");
        }

        if (destination.Length < frameSamples * Channels)
        {
            throw new ArgumentException($"The destination holds {destination.Length} samples but {frameSamples * Channels} are needed.", nameof(destination));
        }

        int samples;
        fixed (short* pcm = destination)
        {
            samples = OpusNative.Decode(_handle, null, 0, pcm, frameSamples, 0);
        }

        if (samples < 0)
        {
            throw new OpusException($"Opus loss concealment failed: {OpusNative.ErrorText(samples)}", samples);
        }

        return samples;
    }

    public void Dispose() => _handle.Dispose();
}
