using Microsoft.Extensions.DependencyInjection;
using Parley.Abstractions.Audio;
using Parley.Rtc.Rooms;
using Parley.Server.Instances;
using Parley.Testing;

namespace Parley.Server.Tests.Instances;

/// <summary>UpdateAgentInstance <c>RTC.UserStreamId</c>: the agent's room connection stops playing one stream and plays another.</summary>
public sealed class UserStreamSwitchTests
{
    private const int Frame = 320;
    private const short QuietLevel = 300;
    private const short LoudLevel = 10000;

    [Fact]
    public async Task Switch_StopsTheOldStream_AndPlaysTheNew_OnTheSameUserAudio()
    {
        var app = new TestApp(4500001, "c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4");
        await using var server = await ParleyTestServer.StartAsync([app]);
        var rooms = server.Services.GetRequiredService<IRoomManager>();
        var binding = server.Services.GetRequiredService<IAgentRoomBinding>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        // Two publishers: stream "first" is quiet, stream "second" loud, so each frame tells where it came from.
        await using var first = await rooms.JoinAsync(RoomIds.Scoped(app.AppId, "room_s"), "user_a", isAgent: true, stop.Token);
        await using var second = await rooms.JoinAsync(RoomIds.Scoped(app.AppId, "room_s"), "user_b", isAgent: true, stop.Token);
        await using var firstOut = await first.PublishAsync("first", stop.Token);
        var agent = await binding.JoinAsync(new AgentRoomJoin(app.AppId, "inst", "room_s", "agent", "agent_s", "first", "user_a"), stop.Token);
        await using var agentConnection = agent;
        var writers = Task.WhenAll(WriteToneAsync(firstOut, QuietLevel, stop.Token));

        await ReadUntilAsync(agent, QuietLevel, stop.Token);

        // Switch to a stream that is published only afterwards.
        await agent.SwitchUserStreamAsync("second", stop.Token);
        await using var secondOut = await second.PublishAsync("second", stop.Token);
        var secondWriter = WriteToneAsync(secondOut, LoudLevel, stop.Token);
        await ReadUntilAsync(agent, LoudLevel, stop.Token);

        // From now on only the second stream (or gap silence) is heard, although the first keeps publishing.
        for (var i = 0; i < 50; i++)
        {
            using var chunk = await agent.UserAudio.ReadAsync(stop.Token);
            Assert.NotEqual(QuietLevel, Classify(chunk.Samples));
        }

        Assert.False(writers.IsFaulted || secondWriter.IsFaulted);
        await stop.CancelAsync();
        await Task.WhenAll(writers, secondWriter).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private static async Task ReadUntilAsync(IAgentRoomConnection agent, short level, CancellationToken cancellationToken)
    {
        // Bounded by the token: the stream's audio must arrive within the test's time.
        while (true)
        {
            using var chunk = await agent.UserAudio.ReadAsync(cancellationToken);
            if (Classify(chunk.Samples) == level)
            {
                return;
            }
        }
    }

    /// <summary>QuietLevel or LoudLevel by the frame's peak, 0 for silence.</summary>
    private static short Classify(ReadOnlySpan<short> samples)
    {
        var peak = 0;
        foreach (var s in samples)
        {
            peak = Math.Max(peak, Math.Abs((int)s));
        }

        return peak > 3000 ? LoudLevel : peak > 100 ? QuietLevel : (short)0;
    }

    private static async Task WriteToneAsync(IRoomAudioOutput output, short level, CancellationToken cancellationToken)
    {
        try
        {
            for (var n = 0; !cancellationToken.IsCancellationRequested; n++)
            {
                var chunk = AudioChunk.Rent(Frame, 16000);
                var span = chunk.WritableSpan;
                for (var i = 0; i < span.Length; i++)
                {
                    span[i] = (short)(level * Math.Sin(2 * Math.PI * 440 * ((n * Frame) + i) / 16000.0));
                }

                // The output paces in real time: this waits while its queue is full.
                await output.WriteAsync(chunk, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
