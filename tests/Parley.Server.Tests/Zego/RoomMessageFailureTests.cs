using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Media;
using Parley.Core.Sessions;
using Parley.Server.Callbacks;
using Parley.Server.Instances;
using Parley.Server.Zego;

namespace Parley.Server.Tests.Zego;

/// <summary>Exception 1208 (callbacks/exception-codes.mdx): a room message that could not be sent, reported once per run of failures.</summary>
public sealed class RoomMessageFailureTests
{
    [Fact]
    public async Task FailedRoomMessages_AreReportedAs1208_OncePerRunOfFailures()
    {
        var events = Channel.CreateUnbounded<SessionEvent>();
        var published = new ConcurrentQueue<(string Event, JsonObject Data)>();
        var spec = new InstanceSpec { InstanceId = "i", AppId = 1, UserId = "u", AgentUserId = "a" };
        var bridge = new ZegoEventBridge(events.Reader, spec, (name, data) => { published.Enqueue((name, data)); return Task.CompletedTask; }, _ => { });
        var room = new ScriptedRoom([false, false, false, true, false]);
        bridge.AttachRoom(room);

        // Each speaking change is one room message (Cmd 1 / 2): five messages, sent, failing as scripted.
        for (var i = 0; i < 5; i++)
        {
            events.Writer.TryWrite(new UserSpeakingChangedEvent(7, i % 2 == 0));
        }

        events.Writer.TryComplete();
        await bridge.DisposeAsync();

        Assert.True(room.Sent >= 5, $"only {room.Sent} room messages were sent");
        var failures = published.Where(p => p.Event == CallbackEvents.Exception && p.Data["Code"]!.GetValue<int>() == 1208).ToList();
        Assert.Equal(2, failures.Count);
        Assert.All(failures, f => Assert.Equal(7, f.Data["Round"]!.GetValue<long>()));
    }

    private sealed class ScriptedRoom(bool[] results) : IAgentRoomConnection
    {
        private int _sent;

        public int Sent => _sent;

        public IAudioSink AgentAudio => throw new NotSupportedException();

        public ChannelReader<AudioChunk> UserAudio => Channel.CreateUnbounded<AudioChunk>().Reader;

        public Task<int> Lost => new TaskCompletionSource<int>().Task;

        public ValueTask<bool> SendRoomMessageAsync(int cmd, long round, RoomMessageData data, CancellationToken cancellationToken)
        {
            var n = Interlocked.Increment(ref _sent) - 1;
            return ValueTask.FromResult(n >= results.Length || results[n]);
        }

        public ValueTask SwitchUserStreamAsync(string streamId, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
