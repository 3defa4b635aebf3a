using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Audio;
using Parley.Media;
using Parley.Rtc.Rooms;

namespace Parley.Rtc.Tests.Rooms;

public sealed class RoomManagerTests
{
    private static RoomManager Create(TimeProvider time, Action<ParleyRtcOptions>? configure = null)
    {
        var options = new ParleyRtcOptions();
        configure?.Invoke(options);
        return new RoomManager(Options.Create(options), time, NullLogger<RoomManager>.Instance);
    }

    private static async Task<AudioChunk?> ReadWithin(IRoomAudioInput input, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await input.Audio.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>
    /// Waits until <paramref name="pacers"/> pacers wait for their next frame on the shared clock of <paramref name="clock"/>.
    /// A step of the fake clock before a pacer armed its wait would put that frame a whole step later (the pacer computes
    /// its delay, or its start, from a clock read after the step), and a test waiting for it would wait for nothing.
    /// </summary>
    private static async Task WaitUntilPacingAsync(TimeProvider clock, int pacers)
    {
        var timer = MediaTimer.For(clock);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (timer.Scheduled != pacers)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{pacers} pacer(s) not waiting on the clock within 10 s (scheduled: {timer.Scheduled})");
            await Task.Yield();
        }
    }

    [Fact]
    public async Task Pacer_SendsOne20msFramePerFakeClockPeriod_AndNothingWhileTimeStandsStill()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(55));
        using var rooms = Create(clock);
        await using var agent = await rooms.JoinAsync("r", "agent", true, CancellationToken.None);
        await using var user = await rooms.JoinAsync("r", "user", false, CancellationToken.None);
        await using var input = await user.PlayAsync("agent_stream", CancellationToken.None);
        await using var output = await agent.PublishAsync("agent_stream", CancellationToken.None);

        await output.WriteAsync(AudioChunk.CopyOf(new short[1600], 16000), CancellationToken.None); // 100 ms
        using (var first = await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException("no first frame"))
        {
            Assert.Equal(320, first.Length);
        }

        Assert.Null(await ReadWithin(input, TimeSpan.FromMilliseconds(150)));
        for (var i = 1; i < 5; i++)
        {
            await WaitUntilPacingAsync(clock, 1);
            clock.Advance(TimeSpan.FromMilliseconds(20));
            using var frame = await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException($"no frame {i}");
            Assert.Equal(320, frame.Length);
        }

        await WaitUntilPacingAsync(clock, 1);
        clock.Advance(TimeSpan.FromMilliseconds(20));
        Assert.Null(await ReadWithin(input, TimeSpan.FromMilliseconds(150))); // drained: no silence is sent
        await output.WaitUntilPlayedAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.Zero, output.Pending);
    }

    [Fact]
    public async Task LivePacer_PublisherCatchingUpAfterAHiccup_IsSentAtOnce_NotHeldAsAStandingDelay()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(55));
        using var rooms = Create(clock);
        await using var agent = await rooms.JoinAsync("r", "agent", true, CancellationToken.None);
        await using var user = (RoomParticipant)await rooms.JoinAsync("r", "user", false, CancellationToken.None);
        await using var input = await agent.PlayAsync("user_stream", CancellationToken.None);
        var microphone = user.Publish("user_stream", live: true);

        Assert.True(microphone.TryWriteLive(AudioChunk.CopyOf(new short[320], 16000)));
        (await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException("no first frame")).Dispose();
        await WaitUntilParkedAsync(microphone);

        // The microphone stalls for 100 ms (the pacer runs dry), then catches up with the five frames it owes.
        clock.Advance(TimeSpan.FromMilliseconds(100));
        for (var i = 0; i < 5; i++)
        {
            Assert.True(microphone.TryWriteLive(AudioChunk.CopyOf(new short[320], 16000)));
        }

        // They are late already: all go out without the clock moving (a restarted clock would hold each 20 ms longer, for good).
        for (var i = 0; i < 5; i++)
        {
            using var frame = await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException($"frame {i} was held back");
            Assert.Equal(320, frame.Length);
        }

        // Caught up: the next frame may go one frame period early (the lead), the one after waits for its period.
        Assert.True(microphone.TryWriteLive(AudioChunk.CopyOf(new short[320], 16000)));
        (await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException("the frame within the lead was held")).Dispose();
        Assert.True(microphone.TryWriteLive(AudioChunk.CopyOf(new short[320], 16000)));
        Assert.Null(await ReadWithin(input, TimeSpan.FromMilliseconds(150)));
        await WaitUntilPacingAsync(clock, 1);
        clock.Advance(TimeSpan.FromMilliseconds(20));
        (await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException("the next frame never came")).Dispose();
        await microphone.DisposeAsync();
    }

    /// <summary>Waits until the live pacer of <paramref name="stream"/> waits for data (so on-time frames are passed on by their writer).</summary>
    private static async Task WaitUntilParkedAsync(StreamPublication stream)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!stream.IsParked)
        {
            Assert.True(DateTime.UtcNow < deadline, "the live pacer did not park within 10 s");
            await Task.Yield();
        }
    }

    [Fact]
    public async Task LivePacer_AMicrophoneInRealTime_IsPassedOnByItsWritersThread_WithNoTimerPerFrame()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(55));
        using var rooms = Create(clock);
        await using var agent = await rooms.JoinAsync("r", "agent", true, CancellationToken.None);
        await using var user = (RoomParticipant)await rooms.JoinAsync("r", "user", false, CancellationToken.None);
        await using var input = await agent.PlayAsync("user_stream", CancellationToken.None);
        var microphone = user.Publish("user_stream", live: true);
        await WaitUntilParkedAsync(microphone);
        var timer = MediaTimer.For(clock);

        for (short i = 1; i <= 50; i++)
        {
            // Jitter of a real client: every other frame comes 15 ms early (within the lead), the next one on time.
            clock.Advance(TimeSpan.FromMilliseconds(i % 2 == 1 ? 35 : 5));
            Assert.True(microphone.TryWriteLive(AudioChunk.CopyOf(Enumerable.Repeat(i, 320).ToArray(), 16000)));

            // Already in the player's queue when the write returns: no pacer hop, no wait armed on the shared clock.
            Assert.True(input.Audio.TryRead(out var frame), $"frame {i} was not passed on at once");
            Assert.Equal(i, frame.Samples[0]);
            frame.Dispose();
            Assert.Equal(0, timer.Scheduled);
            Assert.True(microphone.IsParked);
        }

        Assert.Equal(50, microphone.FramesSent);
        Assert.Equal(0, microphone.DroppedChunks);
        await microphone.DisposeAsync();
    }

    [Fact]
    public async Task LivePacer_ARealTimeMicrophoneWhoseFirstFrameCameLate_IsSoonPassedOnAtOnce_NotHeldForGood()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(55));
        using var rooms = Create(clock);
        await using var agent = await rooms.JoinAsync("r", "agent", true, CancellationToken.None);
        await using var user = (RoomParticipant)await rooms.JoinAsync("r", "user", false, CancellationToken.None);
        await using var input = await agent.PlayAsync("user_stream", CancellationToken.None);
        var microphone = user.Publish("user_stream", live: true);
        await WaitUntilParkedAsync(microphone);
        static AudioChunk Frame(int marker) => AudioChunk.CopyOf(Enumerable.Repeat((short)marker, 320).ToArray(), 16000);

        // The first frame was held up on the way by 40 ms: it comes with the two sent after it, and starts the clock.
        for (var i = 1; i <= 3; i++)
        {
            Assert.True(microphone.TryWriteLive(Frame(i)));
        }

        var heard = new List<short>();
        while (input.Audio.TryRead(out var early))
        {
            heard.Add(early.Samples[0]);
            early.Dispose();
        }

        Assert.Equal([(short)1, 2], heard); // a burst: the third waits for its slot
        await WaitUntilPacingAsync(clock, 1);

        // Then frames come every 20 ms, on time: "early" by the first frame's delay. The clock moves to them (bounded
        // by LiveAnchorCorrection): from the fifth on, each is passed on at once, with no wait on the clock.
        for (var i = 4; i <= 25; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(20));
            if (i >= 5)
            {
                await WaitUntilParkedAsync(microphone);
            }

            Assert.True(microphone.TryWriteLive(Frame(i)));
            if (i >= 5)
            {
                Assert.True(input.Audio.TryRead(out var now), $"frame {i} was held");
                heard.Add(now.Samples[0]);
                now.Dispose();
                Assert.Equal(0, MediaTimer.For(clock).Scheduled);
            }
            else
            {
                for (var n = 0; n < 2; n++)
                {
                    using var frame = await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException($"no frame {heard.Count + 1}");
                    heard.Add(frame.Samples[0]);
                }
            }
        }

        Assert.Equal(Enumerable.Range(1, 25).Select(i => (short)i), heard);
        await microphone.DisposeAsync();
    }

    [Fact]
    public async Task LivePacer_APublisherFasterThanRealTime_IsPlayedInRealTime_InOrder_AtMostOneFrameAhead()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(55));
        using var rooms = Create(clock);
        await using var agent = await rooms.JoinAsync("r", "agent", true, CancellationToken.None);
        await using var user = (RoomParticipant)await rooms.JoinAsync("r", "user", false, CancellationToken.None);
        await using var input = await agent.PlayAsync("user_stream", CancellationToken.None);
        var microphone = user.Publish("user_stream", live: true);
        await WaitUntilParkedAsync(microphone);

        // Ten frames at once: the first goes out at once and the second within the lead; the rest wait in the queue.
        for (short i = 1; i <= 10; i++)
        {
            Assert.True(microphone.TryWriteLive(AudioChunk.CopyOf(Enumerable.Repeat(i, 320).ToArray(), 16000)));
        }

        var heard = new List<short>();
        while (input.Audio.TryRead(out var early))
        {
            heard.Add(early.Samples[0]);
            early.Dispose();
        }

        Assert.Equal([(short)1, 2], heard);
        Assert.Null(await ReadWithin(input, TimeSpan.FromMilliseconds(100)));

        // One frame per 20 ms after that. A frame written on time meanwhile queues behind them (it does not overtake).
        for (var step = 0; step < 8; step++)
        {
            await WaitUntilPacingAsync(clock, 1);
            clock.Advance(TimeSpan.FromMilliseconds(20));
            if (step == 3)
            {
                Assert.True(microphone.TryWriteLive(AudioChunk.CopyOf(Enumerable.Repeat((short)11, 320).ToArray(), 16000)));
            }

            using var frame = await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException($"no frame at step {step}");
            heard.Add(frame.Samples[0]);
            Assert.False(input.Audio.TryRead(out _), $"more than one frame at step {step}");
        }

        await WaitUntilPacingAsync(clock, 1);
        clock.Advance(TimeSpan.FromMilliseconds(20));
        using (var last = await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException("no last frame"))
        {
            heard.Add(last.Samples[0]);
        }

        Assert.Equal([(short)1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], heard);
        await WaitUntilParkedAsync(microphone);
        await microphone.DisposeAsync();
    }

    [Fact]
    public async Task Pause_StopsSendingAndKeepsTheQueue_ResumeGoesOnWithTheNextFrame_ClearEndsAPause()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(55));
        using var rooms = Create(clock);
        await using var agent = await rooms.JoinAsync("r", "agent", true, CancellationToken.None);
        await using var user = await rooms.JoinAsync("r", "user", false, CancellationToken.None);
        await using var input = await user.PlayAsync("s", CancellationToken.None);
        await using var output = await agent.PublishAsync("s", CancellationToken.None);
        var samples = new short[1600]; // five 20 ms frames, numbered 1..5
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (short)(i / 320 + 1);
        }

        await output.WriteAsync(AudioChunk.CopyOf(samples, 16000), CancellationToken.None);
        var markers = new List<short>();
        using (var first = await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException("no first frame"))
        {
            markers.Add(first.Samples[0]);
        }

        output.Pause();
        for (var i = 0; i < 10; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(20));
            if (await ReadWithin(input, TimeSpan.FromMilliseconds(50)) is { } frame)
            {
                markers.Add(frame.Samples[0]);
                frame.Dispose();
            }
        }

        // At most the frame already due when the pause came; the rest waits in the queue.
        Assert.InRange(markers.Count, 1, 2);
        Assert.True(output.Pending >= TimeSpan.FromMilliseconds(60), $"pending {output.Pending}");

        output.Resume();
        while (markers.Count < 5)
        {
            await WaitUntilPacingAsync(clock, 1); // resumed: the frame due goes out at once, the next one waits for the clock
            clock.Advance(TimeSpan.FromMilliseconds(20));
            using var frame = await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException($"no frame after {string.Join(",", markers)}");
            markers.Add(frame.Samples[0]);
        }

        Assert.Equal([(short)1, 2, 3, 4, 5], markers);

        // A clear while paused drops the queue and ends the pause: the next audio plays.
        await output.WriteAsync(AudioChunk.CopyOf(new short[640], 16000), CancellationToken.None);
        output.Pause();
        output.Clear();
        await output.WriteAsync(AudioChunk.CopyOf(Enumerable.Repeat((short)9, 320).ToArray(), 16000), CancellationToken.None);
        clock.Advance(TimeSpan.FromMilliseconds(20));
        short next = 0;
        for (var i = 0; i < 5 && next != 9; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(20));
            if (await ReadWithin(input, TimeSpan.FromSeconds(1)) is { } frame)
            {
                next = frame.Samples[0];
                frame.Dispose();
            }
        }

        Assert.Equal(9, next);
    }

    [Fact]
    public async Task Clear_DropsQueuedAudio_AndCompletesWaitUntilPlayed()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(55));
        using var rooms = Create(clock);
        await using var agent = await rooms.JoinAsync("r", "agent", true, CancellationToken.None);
        await using var user = await rooms.JoinAsync("r", "user", false, CancellationToken.None);
        await using var input = await user.PlayAsync("s", CancellationToken.None);
        await using var output = await agent.PublishAsync("s", CancellationToken.None);
        await output.WriteAsync(AudioChunk.CopyOf(new short[16000], 16000), CancellationToken.None);
        (await ReadWithin(input, TimeSpan.FromSeconds(5)))?.Dispose();
        var played = output.WaitUntilPlayedAsync(CancellationToken.None);
        Assert.False(played.IsCompleted);

        output.Clear();
        clock.Advance(TimeSpan.FromMilliseconds(20));
        await played.WaitAsync(TimeSpan.FromSeconds(5));
        clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Null(await ReadWithin(input, TimeSpan.FromMilliseconds(150)));
    }

    [Fact]
    public async Task SlowPlayer_DropsOldestFrames_WithoutHoldingBackOtherPlayers()
    {
        using var rooms = Create(TimeProvider.System, o => o.PlayerQueueFrames = 5);
        await using var agent = await rooms.JoinAsync("r", "agent", true, CancellationToken.None);
        await using var slow = await rooms.JoinAsync("r", "slow", false, CancellationToken.None);
        await using var fast = await rooms.JoinAsync("r", "fast", false, CancellationToken.None);
        await using var slowInput = await slow.PlayAsync("s", CancellationToken.None);
        await using var fastInput = await fast.PlayAsync("s", CancellationToken.None);
        await using var output = await agent.PublishAsync("s", CancellationToken.None);
        await output.WriteAsync(AudioChunk.CopyOf(new short[6400], 16000), CancellationToken.None); // 20 frames
        var received = 0;
        while (await ReadWithin(fastInput, TimeSpan.FromMilliseconds(500)) is { } frame)
        {
            frame.Dispose();
            received++;
        }

        // The publisher paced all 20 frames in about 400 ms although one player never reads.
        await output.WaitUntilPlayedAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(1));
        Assert.Equal(15, slowInput.DroppedFrames);
        Assert.Equal(20, received + fastInput.DroppedFrames);
        Assert.True(received >= 5);
    }

    [Fact]
    public async Task Player_WaitsForStream_AndContinuesAfterRepublish()
    {
        using var rooms = Create(TimeProvider.System);
        await using var user = await rooms.JoinAsync("r", "user", false, CancellationToken.None);
        await using var input = await user.PlayAsync("s", CancellationToken.None);
        await using var agent = await rooms.JoinAsync("r", "agent", true, CancellationToken.None);
        for (var round = 0; round < 2; round++)
        {
            await using var output = await agent.PublishAsync("s", CancellationToken.None);
            await output.WriteAsync(AudioChunk.CopyOf(Enumerable.Repeat((short)(round + 1), 320).ToArray(), 16000), CancellationToken.None);
            using var frame = await ReadWithin(input, TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException($"no audio in round {round}");
            Assert.Equal(round + 1, frame.Samples[0]);
        }
    }

    [Fact]
    public async Task Events_JoinPublishMessageLeave_ArriveInOrder_AndRoomIsRemovedWhenEmpty()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_765_510_379_113));
        using var rooms = Create(clock);
        var agent = await rooms.JoinAsync("r", "agent", true, CancellationToken.None);
        Assert.Equal(0, agent.RealUserCount);
        var user = await rooms.JoinAsync("r", "user", false, CancellationToken.None);
        var output = await user.PublishAsync("u", CancellationToken.None);
        var seq = await user.SendRoomMessageAsync(1, 3, new JsonObject { ["SpeakStatus"] = 1, ["UserId"] = "user" }, null, CancellationToken.None);
        Assert.Equal(1, seq);
        Assert.Equal(2, await user.SendRoomMessageAsync(1, 3, null, null, CancellationToken.None));
        await output.DisposeAsync();
        await user.DisposeAsync();

        var kinds = new List<RoomEventKind>();
        RoomMessage? message = null;
        while (agent.Events.TryRead(out var e))
        {
            kinds.Add(e.Kind);
            message ??= e.Message;
        }

        Assert.Equal(
            [RoomEventKind.UserJoined, RoomEventKind.RealUserCountChanged, RoomEventKind.StreamAdded, RoomEventKind.RoomMessage,
             RoomEventKind.RoomMessage, RoomEventKind.StreamRemoved, RoomEventKind.UserLeft, RoomEventKind.RealUserCountChanged],
            kinds);
        var json = message!.ToJsonElement();
        Assert.Equal(1765510379, json.GetProperty("Timestamp").GetInt64());
        Assert.Equal(1765510379113, json.GetProperty("TimestampMs").GetInt64());
        Assert.Equal(1, json.GetProperty("SeqId").GetInt64());
        Assert.Equal(1, json.GetProperty("Data").GetProperty("SpeakStatus").GetInt32());

        Assert.Equal(1, rooms.RoomCount);
        await agent.DisposeAsync();
        Assert.Equal(0, rooms.RoomCount);
        Assert.Equal(RoomLeaveReason.Left, agent.LeaveReason);
        Assert.True(agent.Closed.IsCancellationRequested);
    }

    [Fact]
    public async Task SecondJoin_WithSameUserId_KicksFirst()
    {
        using var rooms = Create(TimeProvider.System);
        var first = await rooms.JoinAsync("r", "agent_user", true, CancellationToken.None);
        await using var firstOutput = await first.PublishAsync("agent_stream", CancellationToken.None);
        await using var second = await rooms.JoinAsync("r", "agent_user", true, CancellationToken.None);
        Assert.True(first.Closed.IsCancellationRequested);
        Assert.Equal(RoomLeaveReason.Kicked, first.LeaveReason);
        var events = new List<RoomEventKind>();
        await foreach (var e in first.Events.ReadAllAsync())
        {
            events.Add(e.Kind);
        }

        Assert.Equal([RoomEventKind.Kicked], events);
        Assert.Empty(rooms.GetStreams("r"));
        await using var secondOutput = await second.PublishAsync("agent_stream", CancellationToken.None);
    }

    [Fact]
    public async Task StalledEventReader_IsRemovedOnOverflow()
    {
        using var rooms = Create(TimeProvider.System, o => o.EventQueueCapacity = 4);
        var deaf = await rooms.JoinAsync("r", "deaf", false, CancellationToken.None);
        await using var talker = await rooms.JoinAsync("r", "talker", false, CancellationToken.None);
        for (var i = 0; i < 10; i++)
        {
            try
            {
                await talker.SendRoomMessageAsync(4, 1, null, null, CancellationToken.None);
            }
            catch (RoomException)
            {
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(5), deaf.Closed).ContinueWith(_ => { });
        Assert.Equal(RoomLeaveReason.EventQueueOverflow, deaf.LeaveReason);
        Assert.Equal(1, talker.RealUserCount);
    }

    [Theory]
    [InlineData("room/1", "u")]
    [InlineData("r", "user with space")]
    [InlineData("r", "123456789012345678901234567890123")]
    [InlineData("", "u")]
    public async Task Join_WithInvalidIds_IsRefusedNamingTheField(string roomId, string userId)
    {
        using var rooms = Create(TimeProvider.System);
        var error = await Assert.ThrowsAsync<RoomException>(async () => await rooms.JoinAsync(roomId, userId, false, CancellationToken.None));
        Assert.Equal(RoomErrorCode.InvalidId, error.Code);
        Assert.Matches("RoomId|UserId", error.Message);
    }

    [Fact]
    public async Task SendRawMessage_DeliversTheClientsJsonAsIs_AndRefusesWhatIsNotOneJsonObject()
    {
        using var rooms = Create(new FakeTimeProvider());
        await using var agent = await rooms.JoinAsync("r", "agent", true, CancellationToken.None);
        await using var user = await rooms.JoinAsync("r", "user", false, CancellationToken.None);
        while (agent.Events.TryRead(out _))
        {
        }

        await user.SendRawMessageAsync("{\"Hello\":[1,2]}"u8.ToArray(), null, CancellationToken.None);
        var message = await agent.Events.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(RoomEventKind.RoomMessage, message.Kind);
        Assert.Equal("user", message.Message!.FromUserId);
        Assert.Equal("{\"Hello\":[1,2]}", System.Text.Encoding.UTF8.GetString(message.Message.Json.Span));

        foreach (var bad in new[] { "[1]", "{\"a\":1", "{\"a\":1,\"a\":2}", "{} {}" })
        {
            await Assert.ThrowsAsync<ArgumentException>(async () => await user.SendRawMessageAsync(System.Text.Encoding.UTF8.GetBytes(bad), null, CancellationToken.None));
        }

        Assert.False(agent.Events.TryRead(out _));
    }
}
