using Parley.Media.Codecs;

namespace Parley.Media.Tests.Codecs;

public sealed class OpusTests
{
    [Theory]
    [InlineData(48000, 20)]
    [InlineData(16000, 20)]
    [InlineData(16000, 60)]
    [InlineData(8000, 10)]
    public void Opus_ToneRoundTrip_KeepsEnergyAndFrequency(int sampleRate, int frameMs)
    {
        var tone = Signal.Tone(440, sampleRate, 1.0);
        var frame = sampleRate * frameMs / 1000;
        using var encoder = new OpusEncoder(sampleRate, bitrate: 32000);
        using var decoder = new OpusDecoder(sampleRate);
        var packet = new byte[1500];
        var decoded = new short[tone.Length];
        var pcm = new short[decoder.MaxFrameSamples];
        var total = 0;
        for (var offset = 0; offset + frame <= tone.Length; offset += frame)
        {
            var bytes = encoder.Encode(tone.AsSpan(offset, frame), packet);
            Assert.InRange(bytes, 1, 1500);
            var samples = decoder.Decode(packet.AsSpan(0, bytes), pcm);
            Assert.Equal(frame, samples);
            pcm.AsSpan(0, samples).CopyTo(decoded.AsSpan(total));
            total += samples;
        }

        // Skip the codec's start-up; the decoded signal keeps the tone's level and its energy stays at 440 Hz.
        var steady = decoded.AsSpan(sampleRate / 5, total - (sampleRate / 5));
        var inputRms = Signal.Rms(tone);
        Assert.InRange(Signal.Rms(steady) / inputRms, 0.85, 1.15);
        var at440 = Signal.AmplitudeAt(steady, 440, sampleRate);
        Assert.InRange(at440, 8500, 11500);
        Assert.True(Signal.AmplitudeAt(steady, 880, sampleRate) < at440 * 0.05);
        Assert.True(Signal.AmplitudeAt(steady, 300, sampleRate) < at440 * 0.05);
    }

    [Fact]
    public void Opus_CorruptPacket_ThrowsOpusException()
    {
        using var decoder = new OpusDecoder(16000);
        var pcm = new short[decoder.MaxFrameSamples];

        // TOC code 3 ("arbitrary number of frames") with a frame count of zero is invalid by RFC 6716.
        var error = Assert.Throws<OpusException>(() => decoder.Decode(new byte[] { 0x03, 0x00 }, pcm));
        Assert.Equal(-4, error.ErrorCode);
        Assert.Contains("could not be decoded", error.Message);

        // Code 3 with 48 frames of 20 ms (960 ms) exceeds the 120 ms limit.
        Assert.Throws<OpusException>(() => decoder.Decode(new byte[] { 0x0B, 0x30, 0x01, 0x02 }, pcm));
        Assert.Throws<ArgumentException>(() => decoder.Decode(ReadOnlySpan<byte>.Empty, pcm));
    }

    [Fact]
    public void Opus_BadFrameSize_ThrowsNamingFrame()
    {
        using var encoder = new OpusEncoder(16000);
        var error = Assert.Throws<ArgumentException>(() => encoder.Encode(new short[300], new byte[1500]));
        Assert.Equal("pcmFrame", error.ParamName);
        Assert.Contains("320", error.Message);
    }

    [Fact]
    public void Opus_DecodeLoss_ConcealsFrame()
    {
        using var encoder = new OpusEncoder(16000);
        using var decoder = new OpusDecoder(16000);
        var tone = Signal.Tone(300, 16000, 0.2);
        var packet = new byte[1500];
        var pcm = new short[320];
        for (var offset = 0; offset < tone.Length; offset += 320)
        {
            var bytes = encoder.Encode(tone.AsSpan(offset, 320), packet);
            decoder.Decode(packet.AsSpan(0, bytes), pcm);
        }

        Assert.Equal(320, decoder.DecodeLoss(pcm, 320));
        Assert.True(Signal.Rms(pcm) > 100, "concealment continues the signal instead of silence");
        Assert.Throws<ArgumentOutOfRangeException>(() => decoder.DecodeLoss(pcm, 7));
    }

    [Fact]
    public void Opus_EncodeDecode_AllocatesNothingPerFrame()
    {
        using var encoder = new OpusEncoder(48000);
        using var decoder = new OpusDecoder(48000);
        var tone = Signal.Tone(440, 48000, 0.02);
        var packet = new byte[1500];
        var pcm = new short[960];
        decoder.Decode(packet.AsSpan(0, encoder.Encode(tone, packet)), pcm);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 200; i++)
        {
            var bytes = encoder.Encode(tone, packet);
            decoder.Decode(packet.AsSpan(0, bytes), pcm);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Opus_UnsupportedRate_ThrowsNamingParameter()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new OpusEncoder(44100));
        Assert.Equal("sampleRate", error.ParamName);
    }
}
