namespace Parley.Media.Codecs;

/// <summary>
/// An Opus encoder (libopus, VoIP application) for PCM16 frames of 10, 20, 40 or 60 ms. Not thread-safe:
/// one encoder per stream. <see cref="Encode"/> allocates nothing.
/// </summary>
public sealed class OpusEncoder : IDisposable
{
    private readonly OpusEncoderHandle _handle;

    public OpusEncoder(int sampleRate, int channels = 1, int bitrate = 24000)
    {
        OpusFrames.CheckSampleRate(sampleRate, nameof(sampleRate));
        OpusFrames.CheckChannels(channels, nameof(channels));
        if (bitrate is < 6000 or > 510000)
        {
            throw new ArgumentOutOfRangeException(nameof(bitrate), bitrate, "Opus bitrate must be between 6000 and 510000 bit/s.");
        }

        _handle = OpusNative.EncoderCreate(sampleRate, channels, OpusNative.ApplicationVoip, out var error);
        if (error != 0 || _handle.IsInvalid)
        {
            _handle.Dispose();
            throw new OpusException($"opus_encoder_create failed: {OpusNative.ErrorText(error)}", error);
        }

        var result = OpusNative.EncoderCtl(_handle, OpusNative.SetBitrateRequest, bitrate);
        if (result != 0)
        {
            _handle.Dispose();
            throw new OpusException($"Setting the Opus bitrate to {bitrate} failed: {OpusNative.ErrorText(result)}", result);
        }

        SampleRate = sampleRate;
        Channels = channels;
        Bitrate = bitrate;
    }

    public int SampleRate { get; }

    public int Channels { get; }

    public int Bitrate { get; }

    /// <summary>Encodes one frame (interleaved when stereo) into <paramref name="destination"/>; returns the bytes written.</summary>
    /// <exception cref="ArgumentException">The frame is not 10, 20, 40 or 60 ms long.</exception>
    public unsafe int Encode(ReadOnlySpan<short> pcmFrame, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (pcmFrame.Length % Channels != 0 || !OpusFrames.IsValidFrame(pcmFrame.Length / Channels, SampleRate))
        {
            throw new ArgumentException(
                $"Opus frame has {pcmFrame.Length} samples; at {SampleRate} Hz x {Channels} channel(s) a frame must be 10, 20, 40 or 60 ms "
                + $"({SampleRate / 100 * Channels}, {SampleRate / 50 * Channels}, {SampleRate / 25 * Channels} or {SampleRate * 6 / 100 * Channels} samples).",
                nameof(pcmFrame));
        }

        if (destination.IsEmpty)
        {
            throw new ArgumentException("The destination buffer is empty.", nameof(destination));
        }

        int written;
        fixed (short* pcm = pcmFrame)
        fixed (byte* data = destination)
        {
            written = OpusNative.Encode(_handle, pcm, pcmFrame.Length / Channels, data, destination.Length);
        }

        if (written < 0)
        {
            throw new OpusException($"opus_encode failed: {OpusNative.ErrorText(written)}", written);
        }

        return written;
    }

    public void Dispose() => _handle.Dispose();
}
