using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Audio;
using Parley.Media;
using Parley.Media.Codecs;
using Parley.Rtc.Rooms;
using Parley.Rtc.Transports;

namespace Parley.Rtc.Tests.Transports;

/// <summary>
/// A telephony-style transport (μ-law at 8 kHz, 20 ms packets) built on <see cref="TransportBridge"/> with the public
/// API only, as a transport in another assembly would be: <c>AddParleyRtc</c>, <see cref="IRoomManager"/>,
/// <see cref="IRoomParticipant"/> and the <c>Parley.Media</c> codec interfaces. Paced on a fake clock.
/// </summary>
public sealed class TransportBridgeTests
{
    private const int PhoneRate = 8000;
    private const int PhoneFrame = PhoneRate / 50;
    private static readonly TimeSpan Frame = TimeSpan.FromMilliseconds(20);

    [Fact]
    public async Task MuLawCall_CallerAudioReachesTheAgentAt16kHz_AndTheAgentsAudioReachesTheCallerAsMuLaw20msPackets()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        await using var services = Services(clock);
        var rooms = services.GetRequiredService<IRoomManager>();
        await using var agent = await rooms.JoinAsync("call_1", "agent", isAgent: true, CancellationToken.None);
        await using var caller = await rooms.JoinAsync("call_1", "caller", isAgent: false, CancellationToken.None);
        var phone = new FakePhoneLine();
        await using var bridge = new TransportBridge(caller, phone, maxPayloadBytes: 1024);

        // The agent listens to the caller and speaks a 1 kHz tone (2 s, more than the test plays).
        await using var heard = await agent.PlayAsync("caller_mic", CancellationToken.None);
        await using var voice = await agent.PublishAsync("agent_voice", CancellationToken.None);

        // The caller's line: 1 s of a 440 Hz tone as fifty 20 ms μ-law packets, and the agent's voice played back as μ-law.
        await bridge.PublishAsync("caller_mic", new MuLaw(PhoneRate), CancellationToken.None);
        await bridge.PlayAsync("agent_voice", new MuLaw(PhoneRate), frameSamples: PhoneFrame, startAfter: null, CancellationToken.None);
        await voice.WriteAsync(AudioChunk.CopyOf(Tone(16000, 1000, 32000), 16000), CancellationToken.None);
        Assert.Equal("caller_mic", bridge.PublishedStreamId);
        Assert.Equal("agent_voice", bridge.PlayedStreamId);
        var callerTone = Tone(PhoneRate, 440, PhoneRate);
        var packet = new byte[PhoneFrame];
        for (var i = 0; i < 50; i++)
        {
            G711.EncodeMuLaw(callerTone.AsSpan(i * PhoneFrame, PhoneFrame), packet);
            Assert.Equal(TransportAudioResult.Accepted, bridge.WriteAudio(packet, out var error));
            Assert.Null(error);
        }

        // One room frame per 20 ms of the fake clock, each way. Before each step both pacers (caller_mic, agent_voice)
        // must have armed their wait for the next frame on the shared clock: a pacer that reads the clock after the step
        // (it computed its delay before, or it took the caller's first, partial frame while the packets were still being
        // written) would put that frame a whole step later, and the step that would send it never comes.
        var timer = MediaTimer.For(clock);
        var agentHeard = new List<short>();
        for (var k = 0; k < 45; k++)
        {
            await WaitUntilAsync(() => timer.Scheduled == 2, () => $"both pacers waiting before step {k} (scheduled: {timer.Scheduled})");
            clock.Advance(Frame);
            using (var frame = await heard.Audio.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)))
            {
                Assert.Equal(16000, frame.SampleRate);
                Assert.Equal(320, frame.Length);
                agentHeard.AddRange(frame.Samples.ToArray());
            }

            await phone.WaitForPacketsAsync(k - 1).WaitAsync(TimeSpan.FromSeconds(10));
        }

        // Ingress: the agent hears the caller's tone at the room's 16 kHz (μ-law and resampling keep pitch and level).
        var steady = agentHeard.ToArray().AsSpan(640);
        Assert.InRange(ZeroCrossingHz(steady, 16000), 420, 460);
        Assert.InRange(Rms(steady), 0.6 * Rms(callerTone), 1.1 * Rms(callerTone));

        // Egress: the caller gets whole 160-byte μ-law packets that decode to the agent's tone at 8 kHz.
        var packets = phone.Packets.ToArray();
        Assert.True(packets.Length >= 40, $"{packets.Length} packets");
        Assert.All(packets, p => Assert.Equal(PhoneFrame, p.Length));
        var decoded = new short[packets.Length * PhoneFrame];
        for (var i = 0; i < packets.Length; i++)
        {
            G711.DecodeMuLaw(packets[i], decoded.AsSpan(i * PhoneFrame));
        }

        var callerHeard = decoded.AsSpan(2 * PhoneFrame);
        Assert.InRange(ZeroCrossingHz(callerHeard, PhoneRate), 960, 1040);
        Assert.InRange(Rms(callerHeard), 0.6 * 12000 / Math.Sqrt(2), 1.1 * 12000 / Math.Sqrt(2));

        // Bad input is refused with a reason and the stream goes on; stopping unpublishes and ends the egress.
        Assert.Equal(TransportAudioResult.BadFrame, bridge.WriteAudio([], out var empty));
        Assert.Equal("empty audio frame", empty);
        Assert.Equal(TransportAudioResult.BadFrame, bridge.WriteAudio(new byte[PhoneRate], out var tooLong));
        Assert.Contains("longer than 60 ms", tooLong, StringComparison.Ordinal);
        Assert.True(await bridge.StopPublishingAsync());
        Assert.Equal(TransportAudioResult.NotPublishing, bridge.WriteAudio(packet, out _));
        Assert.DoesNotContain(rooms.GetStreams("call_1"), s => s.StreamId == "caller_mic");
        Assert.True(await bridge.StopPlayingAsync());
        Assert.False(await bridge.StopPlayingAsync());
        Assert.Null(bridge.PlayedStreamId);
    }

    [Fact]
    public async Task WriteAudio_AllocatesNothingPerPacket()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        await using var services = Services(clock);
        var rooms = services.GetRequiredService<IRoomManager>();
        await using var caller = await rooms.JoinAsync("call_2", "caller", isAgent: false, CancellationToken.None);
        await using var bridge = new TransportBridge(caller, new FakePhoneLine(), maxPayloadBytes: 1024);
        await bridge.PublishAsync("caller_mic", new MuLaw(PhoneRate), CancellationToken.None);
        var packet = new byte[PhoneFrame];
        G711.EncodeMuLaw(Tone(PhoneRate, 440, PhoneFrame), packet);

        // The clock stands still, so the live queue fills and then drops its oldest chunk (pooled) per packet.
        for (var i = 0; i < 300; i++)
        {
            bridge.WriteAudio(packet, out _);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            bridge.WriteAudio(packet, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task WriteAudio_OfA20msFrame_RentsAFrameSizedBuffer_OnAConnectionThatAllowsLongFrames()
    {
        // 16 kHz PCM (decoded straight into the pooled chunk) on connections allowing 64 KB payloads. Many frames are in
        // flight at once (50 callers' live queues fill while the clock stands still), so the pool runs dry and a frame's
        // buffer is often a fresh array: what is allocated per frame is what the ingress rents. A 20 ms frame needs 320
        // samples (a 512-sample, 1 KB array); renting for the longest allowed frame cost 64 KB per frame (issue 15).
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        await using var services = Services(clock);
        var rooms = services.GetRequiredService<IRoomManager>();
        var bridges = new List<TransportBridge>();
        var callers = new List<IRoomParticipant>();
        try
        {
            for (var c = 0; c < 50; c++)
            {
                var caller = await rooms.JoinAsync($"wide_{c}", "caller", isAgent: false, CancellationToken.None);
                callers.Add(caller);
                var bridge = new TransportBridge(caller, new FakePhoneLine(), maxPayloadBytes: 65536);
                bridges.Add(bridge);
                await bridge.PublishAsync("caller_mic", new Pcm16(16000), CancellationToken.None);
            }

            var packet = new byte[640];
            var before = GC.GetAllocatedBytesForCurrentThread();
            var packets = 0;
            for (var round = 0; round < 20; round++)
            {
                foreach (var bridge in bridges)
                {
                    Assert.Equal(TransportAudioResult.Accepted, bridge.WriteAudio(packet, out var error));
                    Assert.Null(error);
                    packets++;
                }
            }

            var perPacket = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)packets;
            Assert.True(perPacket < 2048, $"{perPacket:0} bytes allocated per 20 ms packet");
        }
        finally
        {
            foreach (var bridge in bridges)
            {
                await bridge.DisposeAsync();
            }

            foreach (var caller in callers)
            {
                await caller.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Publish_OfAStreamSomeoneElsePublishes_IsRefusedByTheRoom_AndTheDecoderIsDisposed()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        await using var services = Services(clock);
        var rooms = services.GetRequiredService<IRoomManager>();
        await using var agent = await rooms.JoinAsync("call_3", "agent", isAgent: true, CancellationToken.None);
        await using var caller = await rooms.JoinAsync("call_3", "caller", isAgent: false, CancellationToken.None);
        await using var taken = await agent.PublishAsync("s", CancellationToken.None);
        await using var bridge = new TransportBridge(caller, new FakePhoneLine());
        var decoder = new MuLaw(PhoneRate);
        await Assert.ThrowsAsync<RoomException>(() => bridge.PublishAsync("s", decoder, CancellationToken.None).AsTask());
        Assert.True(decoder.Disposed);
        Assert.Null(bridge.PublishedStreamId);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, Func<string> what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"not reached in 10 s: {what()}");
            await Task.Yield();
        }
    }

    private static ServiceProvider Services(TimeProvider clock)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(clock);
        services.AddParleyRtc(new ConfigurationBuilder().Build());
        return services.BuildServiceProvider();
    }

    private static short[] Tone(int rate, double hz, int samples, double amplitude = 12000)
    {
        var tone = new short[samples];
        for (var i = 0; i < samples; i++)
        {
            tone[i] = (short)(amplitude * Math.Sin(2 * Math.PI * hz * i / rate));
        }

        return tone;
    }

    private static double ZeroCrossingHz(ReadOnlySpan<short> samples, int rate)
    {
        var crossings = 0;
        for (var i = 1; i < samples.Length; i++)
        {
            if ((samples[i - 1] < 0) != (samples[i] < 0))
            {
                crossings++;
            }
        }

        return crossings / 2.0 / samples.Length * rate;
    }

    private static double Rms(ReadOnlySpan<short> samples)
    {
        double sum = 0;
        foreach (var s in samples)
        {
            sum += (double)s * s;
        }

        return Math.Sqrt(sum / samples.Length);
    }

    /// <summary>The phone side of the call: records every packet the bridge sends.</summary>
    private sealed class FakePhoneLine : ITransportAudioSender
    {
        private readonly SemaphoreSlim _arrived = new(0);

        public ConcurrentQueue<byte[]> Packets { get; } = new();

        public ValueTask<bool> SendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            Packets.Enqueue(payload.ToArray());
            _arrived.Release();
            return ValueTask.FromResult(true);
        }

        /// <summary>Completes once at least <paramref name="count"/> packets have arrived.</summary>
        public async Task WaitForPacketsAsync(int count)
        {
            while (Packets.Count < count)
            {
                await _arrived.WaitAsync();
            }
        }
    }

    /// <summary>PCM16 little-endian at the room's rate: the ingress decodes it straight into the pooled chunk.</summary>
    private sealed class Pcm16(int sampleRate) : IAudioDecoder
    {
        public int SampleRate => sampleRate;

        public int MaxSamplesFor(int payloadBytes) => payloadBytes / 2;

        public bool TryDecode(ReadOnlySpan<byte> payload, Span<short> pcm, out int samplesWritten, out string? error)
        {
            samplesWritten = payload.Length / 2;
            for (var i = 0; i < samplesWritten; i++)
            {
                pcm[i] = (short)(payload[2 * i] | (payload[(2 * i) + 1] << 8));
            }

            error = null;
            return true;
        }

        public void Dispose()
        {
        }
    }

    /// <summary>G.711 μ-law as a <c>Parley.Media</c> codec: one byte per sample.</summary>
    private sealed class MuLaw(int sampleRate) : IAudioDecoder, IAudioEncoder
    {
        public bool Disposed { get; private set; }

        public int SampleRate => sampleRate;

        public int MaxSamplesFor(int payloadBytes) => payloadBytes;

        public int MaxBytesFor(int samples) => samples;

        public bool TryDecode(ReadOnlySpan<byte> payload, Span<short> pcm, out int samplesWritten, out string? error)
        {
            G711.DecodeMuLaw(payload, pcm);
            samplesWritten = payload.Length;
            error = null;
            return true;
        }

        public int Encode(ReadOnlySpan<short> pcm, Span<byte> payload)
        {
            G711.EncodeMuLaw(pcm, payload);
            return pcm.Length;
        }

        public void Dispose() => Disposed = true;
    }
}
