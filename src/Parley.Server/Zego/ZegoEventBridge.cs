using System.Text.Json.Nodes;
using System.Threading.Channels;
using Parley.Core.Sessions;
using Parley.Server.Callbacks;
using Parley.Server.Instances;

namespace Parley.Server.Zego;

/// <summary>
/// Carries a session's events to ZEGO's two outputs on separate lanes, so live subtitles never wait behind durable
/// callback writes: one pump reads the session's events and hands each to the room-message lane (Cmd 1–6 to the room,
/// fast and in order) and to the callback lane (the signed callbacks, written to the durable outbox), each a bounded
/// channel with its own consumer, and to the observers (per-turn metrics and log line). Room messages before the agent
/// is in its room are dropped (nobody could receive them).
/// </summary>
internal sealed class ZegoEventBridge : IAsyncDisposable
{
    /// <summary>How many events each lane may hold before the pump waits (a stalled callback store holds back both).</summary>
    public const int LaneCapacity = 4096;

    private readonly Channel<SessionEvent> _roomLane = Lane();
    private readonly Channel<SessionEvent> _callbackLane = Lane();
    private readonly RoomMessageMapper _messages;
    private readonly CallbackMapper _callbacks;
    private readonly Func<string, JsonObject, Task> _publish;
    private readonly Action<SessionEvent> _observe;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;
    private readonly Task _roomConsumer;
    private readonly Task _callbackConsumer;
    private IAgentRoomConnection? _room;
    private bool _sendFailing;

    /// <summary>Exception code for a room message that could not be sent (callbacks/exception-codes.mdx).</summary>
    public const int RoomMessageFailedCode = 1208;

    /// <param name="events">The session's events (read until completed).</param>
    /// <param name="spec">The instance (its user and callback flags).</param>
    /// <param name="publish">Publishes one callback (event name, Data); must not throw.</param>
    /// <param name="observe">Sees every event after it was handed to both lanes (metrics, logs); must not throw.</param>
    public ZegoEventBridge(ChannelReader<SessionEvent> events, InstanceSpec spec, Func<string, JsonObject, Task> publish, Action<SessionEvent> observe)
    {
        _messages = new RoomMessageMapper(spec.UserId, spec.AgentUserId);
        _callbacks = new CallbackMapper(spec.CallbackFlags, spec.UserId);
        _publish = publish;
        _observe = observe;
        _pump = Task.Run(() => PumpAsync(events));
        _roomConsumer = Task.Run(() => SendRoomMessagesAsync(_stop.Token));
        _callbackConsumer = Task.Run(PublishCallbacksAsync);
    }

    /// <summary>The agent is in its room: room messages go there from now on.</summary>
    public void AttachRoom(IAgentRoomConnection room) => Volatile.Write(ref _room, room);

    /// <summary>Waits until every event of the (completed) session has been handed on, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        await _pump.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _roomLane.Writer.TryComplete();
        _callbackLane.Writer.TryComplete();
        await _callbackConsumer.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _roomConsumer.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _stop.CancelAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private static Channel<SessionEvent> Lane() => Channel.CreateBounded<SessionEvent>(new BoundedChannelOptions(LaneCapacity)
    {
        SingleReader = true,
        SingleWriter = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private async Task PumpAsync(ChannelReader<SessionEvent> events)
    {
        await foreach (var e in events.ReadAllAsync().ConfigureAwait(false))
        {
            await _roomLane.Writer.WriteAsync(e).ConfigureAwait(false);
            await _callbackLane.Writer.WriteAsync(e).ConfigureAwait(false);
            _observe(e);
        }
    }

    private async Task SendRoomMessagesAsync(CancellationToken cancellationToken)
    {
        await foreach (var e in _roomLane.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            // Mapped even before the join, so the mapper's per-reply state stays right.
            if (_messages.TryMap(e, out var message))
            {
                var (cmd, round, data) = message;
                if (Volatile.Read(ref _room) is { } room)
                {
                    var sent = await room.SendRoomMessageAsync(cmd, round, data, cancellationToken).ConfigureAwait(false);
                    if (!sent && !_sendFailing)
                    {
                        // Exception 1208 (failed to send a room message): once per run of failures, not per message.
                        await _publish(CallbackEvents.Exception, new JsonObject
                        {
                            ["Code"] = RoomMessageFailedCode,
                            ["Message"] = $"failed to send a room message (Cmd {cmd}) to the room",
                            ["Round"] = round,
                        }).ConfigureAwait(false);
                    }

                    _sendFailing = !sent;
                }
            }
        }
    }

    private async Task PublishCallbacksAsync()
    {
        await foreach (var e in _callbackLane.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (_callbacks.Map(e) is { } callback)
            {
                await _publish(callback.Event, callback.Data).ConfigureAwait(false);
            }
        }
    }
}
