using Parley.Media.Codecs;

namespace Parley.Rtc.Tests.WebSockets;

/// <summary>Opus as the second WebSocket codec: one packet per binary message, both directions.</summary>
public sealed class RtcOpusTests
{
    [Fact]
    public async Task OpusPublisher_ToOpusPlayer_KeepsTheTone_InTwentyMillisecondPackets()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var player = await server.LoginAsync("room1", "bob");
        await player.SendJsonAsync(new { Type = "Play", StreamId = "s1", Codec = "opus", SampleRate = 48000 });
        Assert.Equal(0, (await player.ExpectAsync("PlayResult")).GetProperty("Code").GetInt32());
        await using var publisher = await server.LoginAsync("room1", "alice");
        await publisher.SendJsonAsync(new { Type = "Publish", StreamId = "s1", Codec = "OPUS", SampleRate = 16000 });
        Assert.Equal(0, (await publisher.ExpectAsync("PublishResult")).GetProperty("Code").GetInt32());

        var collecting = player.CollectAudioAsync(TimeSpan.FromMilliseconds(600), TimeSpan.FromSeconds(15));
        var tone = Tone.Make(16000, 1000, frequency: 500);
        using (var encoder = new OpusEncoder(16000))
        {
            var packet = new byte[4000];
            for (var i = 0; i < tone.Length; i += 320)
            {
                var length = encoder.Encode(tone.AsSpan(i, 320), packet);
                await publisher.SendBinaryAsync(packet.AsMemory(0, length).ToArray());
            }
        }

        var packets = await collecting;
        using var decoder = new OpusDecoder(48000);
        var pcm = new List<short>();
        var buffer = new short[decoder.MaxFrameSamples];
        foreach (var (data, _) in packets)
        {
            var samples = decoder.Decode(data, buffer);
            Assert.Equal(960, samples);
            pcm.AddRange(buffer.AsSpan(0, samples).ToArray());
        }

        Assert.InRange(pcm.Count, 46 * 960, 51 * 960);
        Assert.InRange(Tone.Frequency(pcm.Skip(4800).Take(24000).ToArray(), 48000), 480, 520);
    }

    [Fact]
    public async Task CorruptOpusPacket_GetsAnError_AndTheConnectionKeepsWorking()
    {
        await using var server = await RtcTestServer.StartAsync();
        await using var publisher = await server.LoginAsync("room1", "alice");
        await publisher.SendJsonAsync(new { Type = "Publish", StreamId = "s1", Codec = "opus", SampleRate = 48000 });
        Assert.Equal(0, (await publisher.ExpectAsync("PublishResult")).GetProperty("Code").GetInt32());
        await publisher.SendBinaryAsync(new byte[] { 0xff, 0xff, 0xff, 0xff, 0x01 });
        var error = await publisher.ExpectAsync("Error");
        Assert.Contains("opus", error.GetProperty("Message").GetString());
        await publisher.SendJsonAsync(new { Type = "Ping" });
        await publisher.ExpectAsync("Pong");
    }
}
