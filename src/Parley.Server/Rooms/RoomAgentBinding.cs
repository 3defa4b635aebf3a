using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Media;
using Parley.Abstractions.Speech;
using Parley.Core.Output;
using Parley.Core.Providers;
using Parley.Core.Text;
using Parley.Media;
using Parley.Rtc.Rooms;
using Parley.Server.Instances;
using Parley.Server.Zego;

namespace Parley.Server.Rooms;

/// <summary>Settings of agents in rooms (section <c>Parley:Rooms</c>).</summary>
public sealed class AgentRoomOptions
{
    public const string SectionName = "Parley:Rooms";

    /// <summary>An instance whose room has had no real user for this long is deleted with code 1202 (contract: 120 s).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>The TTS vendor used when an instance's vendor has no engine on this server (e.g. a ZEGO cloud vendor).</summary>
    public string FallbackTtsVendor { get; set; } = "Local";

    /// <summary>The ASR engine used when an instance's ASR has no Vendor, or one this server has no engine for.</summary>
    public string DefaultAsrVendor { get; set; } = "Local";

    /// <summary>
    /// How much of a sentence may still be playing when the next sentence's synthesis starts (0 = only after it has
    /// played). A cloud TTS takes 100–400 ms to its first audio: starting it during the end of the previous sentence
    /// keeps that delay out of the agent's speech. On an interruption in that window the sentence counts as heard.
    /// </summary>
    public TimeSpan SpeechLookahead { get; set; } = TimeSpan.FromMilliseconds(300);
}

/// <summary>
/// Puts agent instances into rooms of the room server: the agent joins <c>RoomId</c> as <c>AgentUserId</c>, publishes
/// <c>AgentStreamId</c> (its speech), plays <c>UserStreamId</c> (waiting for it when the user has not published yet).
/// Rooms are scoped by app: two apps using the same RoomId never meet.
/// </summary>
internal sealed partial class RoomAgentBinding(
    IRoomManager rooms,
    IOptions<AgentRoomOptions> options,
    TimeProvider time,
    ILoggerFactory loggers,
    IServiceProvider services) : IAgentRoomBinding
{
    private readonly ILogger _logger = loggers.CreateLogger<RoomAgentBinding>();

    public async ValueTask<IAgentRoomConnection> JoinAsync(AgentRoomJoin join, CancellationToken cancellationToken)
    {
        IRoomParticipant participant;
        try
        {
            participant = await rooms.JoinAsync(RoomIds.Scoped(join.AppId, join.RoomId), join.AgentUserId, isAgent: true, cancellationToken).ConfigureAwait(false);
        }
        catch (RoomException ex)
        {
            throw new AgentRoomException(InstanceCodes.RoomLoginFailed, $"the agent could not log into room '{join.RoomId}': {ex.Message}");
        }

        try
        {
            IRoomAudioOutput output;
            try
            {
                output = await participant.PublishAsync(join.AgentStreamId, join.StreamExtraInfo, cancellationToken).ConfigureAwait(false);
            }
            catch (RoomException ex)
            {
                throw new AgentRoomException(InstanceCodes.PublishFailed, $"the agent could not publish '{join.AgentStreamId}': {ex.Message}");
            }

            // The played stream goes into one gap-filled stream, so that RTC.UserStreamId can switch streams under a
            // running pipeline; its gaps are watched on the shared clock. Its reader, the agent's input pipeline, goes on
            // on the thread that hands it a frame (readerInline): a microphone frame reaches the pipeline with no hop.
            var userAudio = new GapFilledStream(time, CancellationToken.None, readerInline: true);
            var receiver = new RoomAgentConnection.UserStreamReceiver(userAudio);
            IRoomAudioInput input;
            try
            {
                input = await participant.PlayAsync(join.UserStreamId, receiver, cancellationToken).ConfigureAwait(false);
            }
            catch (RoomException ex)
            {
                userAudio.Dispose();
                await output.DisposeAsync().ConfigureAwait(false);
                throw new AgentRoomException(InstanceCodes.PlayFailed, $"the agent could not play '{join.UserStreamId}': {ex.Message}");
            }

            receiver.Start();
            return new RoomAgentConnection(participant, output, input, receiver, userAudio, join.UserId, join.MaxIdle ?? options.Value.IdleTimeout, time, _logger, join, services);
        }
        catch
        {
            await participant.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}

/// <summary>The agent's presence in its room: speech out, the user's audio in, room messages, and the watch for losing the room.</summary>
internal sealed partial class RoomAgentConnection : IAgentRoomConnection
{
    private readonly IRoomParticipant _participant;
    private readonly IRoomAudioOutput _output;
    private readonly GapFilledStream _userAudio; // the played stream, gaps filled with silence on the shared clock

    private readonly SemaphoreSlim _switch = new(1, 1);
    private readonly TimeSpan _idleTimeout;
    private readonly string _userId;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<int> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watch;
    private readonly AgentActionChannel? _actions;
    private ITimer? _idle;
    private IRoomAudioInput _input;
    private UserStreamReceiver _receiver;

    /// <param name="participant">The agent in its room.</param>
    /// <param name="output">The agent's published stream.</param>
    /// <param name="input">The user's played stream, played into <paramref name="receiver"/>.</param>
    /// <param name="receiver">Hands the played stream's frames to <paramref name="userAudio"/> (started).</param>
    /// <param name="userAudio">The user's audio as the pipeline reads it; the connection owns it.</param>
    /// <param name="userId">The instance's user: while it is absent from the room for <paramref name="idleTimeout"/>, the room is lost with 1202 (MaxIdleTime).</param>
    /// <param name="idleTimeout">How long the instance's user may be absent.</param>
    /// <param name="time">The server clock.</param>
    /// <param name="logger">The binding's logger.</param>
    /// <param name="join">Who the agent is (app, instance, user): the room action channel acts for it. Null: no action channel.</param>
    /// <param name="services">The root services the action channel runs actions with (with <paramref name="join"/>).</param>
    public RoomAgentConnection(
        IRoomParticipant participant, IRoomAudioOutput output, IRoomAudioInput input, UserStreamReceiver receiver, GapFilledStream userAudio, string userId,
        TimeSpan idleTimeout, TimeProvider time, ILogger logger, AgentRoomJoin? join = null, IServiceProvider? services = null)
    {
        _participant = participant;
        _userId = userId;
        _output = output;
        _input = input;
        _receiver = receiver;
        _userAudio = userAudio;
        AgentAudio = new RoomAudioSink(output);
        _idleTimeout = idleTimeout;
        _time = time;
        _logger = logger;
        if (!participant.InitialUsers.Any(u => u.UserId == userId))
        {
            StartIdleTimer();
        }

        UserAudio = _userAudio.Reader;
        if (join is not null && services is not null)
        {
            _actions = new AgentActionChannel(services, join.AppId, join.InstanceId, participant.UserId, SendReplyAsync, time, logger, _stop.Token);
        }

        _watch = Task.Run(WatchAsync);
    }

    public IAudioSink AgentAudio { get; }

    public ChannelReader<AudioChunk> UserAudio { get; }

    public Task<int> Lost => _lost.Task;

    public async ValueTask<bool> SendRoomMessageAsync(int cmd, long round, RoomMessageData data, CancellationToken cancellationToken)
    {
        if (_participant.Closed.IsCancellationRequested)
        {
            return true; // leaving the room: nobody to tell, and no failure to report
        }

        try
        {
            await _participant.SendRoomMessageAsync(cmd, round, data, null, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is RoomException or ObjectDisposedException or InvalidOperationException)
        {
            LogMessageFailed(_logger, ex, cmd);
            return false;
        }
    }

    public async ValueTask SwitchUserStreamAsync(string streamId, CancellationToken cancellationToken)
    {
        await _switch.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_stop.IsCancellationRequested || string.Equals(_input.StreamId, streamId, StringComparison.Ordinal))
            {
                return;
            }

            var receiver = new UserStreamReceiver(_userAudio); // not started: the new stream waits for the old one to stop
            IRoomAudioInput next;
            try
            {
                next = await _participant.PlayAsync(streamId, receiver, cancellationToken).ConfigureAwait(false);
            }
            catch (RoomException ex)
            {
                throw new AgentRoomException(InstanceCodes.PlayFailed, $"the agent could not play '{streamId}': {ex.Message}");
            }

            await StopPlayingAsync().ConfigureAwait(false);
            _input = next;
            _receiver = receiver;
            receiver.Start();
        }
        finally
        {
            _switch.Release();
        }
    }

    /// <summary>An action channel reply (msg_type 22) to the user who asked, as a raw room message.</summary>
    private async ValueTask SendReplyAsync(byte[] reply, string toUserId, CancellationToken cancellationToken)
    {
        if (_participant.Closed.IsCancellationRequested)
        {
            return;
        }

        try
        {
            await _participant.SendRawMessageAsync(reply, [toUserId], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RoomException or ObjectDisposedException or InvalidOperationException or ArgumentException)
        {
            LogReplyFailed(_logger, ex, toUserId);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _idle?.Dispose();
        _userAudio.Complete();
        await _switch.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        await StopPlayingAsync().ConfigureAwait(false);
        _userAudio.Dispose();

        _switch.Dispose();
        await _output.DisposeAsync().ConfigureAwait(false);
        await _participant.DisposeAsync().ConfigureAwait(false);
        await _watch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    /// <summary>Stops handing the played stream's frames on, and stops playing it.</summary>
    private ValueTask StopPlayingAsync()
    {
        _receiver.Stop();
        return _input.DisposeAsync();
    }

    /// <summary>
    /// Hands the played stream's frames to the user's audio on the sender's thread (the user's receive loop, for a
    /// microphone sent in real time): no pump task and no hop of its own per frame. The sender holds no lock then.
    /// When the room ends the playing (the agent left the room), the user's audio ends too; a stream switched away
    /// from, or stopped, ends nothing.
    /// </summary>
    internal sealed class UserStreamReceiver(GapFilledStream target) : IRoomAudioReceiver
    {
        private volatile bool _active;

        public void Start() => _active = true;

        public void Stop() => _active = false;

        public void OnFrame(AudioChunk frame)
        {
            if (_active)
            {
                target.Write(frame);
            }
            else
            {
                frame.Dispose();
            }
        }

        public void OnEnded()
        {
            if (_active)
            {
                // Called under the room's lock; the pipeline, which completing may run inline, goes on on the pool.
                ThreadPool.UnsafeQueueUserWorkItem(static t => t.Complete(), target, preferLocal: false);
            }
        }
    }

    private async Task WatchAsync()
    {
        try
        {
            await foreach (var e in _participant.Events.ReadAllAsync(_stop.Token).ConfigureAwait(false))
            {
                switch (e.Kind)
                {
                    // MaxIdleTime counts the absence of the instance's own user (ZEGO: "the creating user").
                    case RoomEventKind.UserLeft when e.UserId == _userId:
                        StartIdleTimer();
                        break;
                    case RoomEventKind.UserJoined when e.UserId == _userId:
                        _idle?.Dispose();
                        _idle = null;
                        break;
                    case RoomEventKind.Kicked:
                        _lost.TrySetResult(InstanceCodes.Kicked);
                        break;
                    case RoomEventKind.RoomMessage when e.Message is not null && _actions is not null:
                        // ZEGO's client → agent actions (msg_type 20): taken off this loop at once.
                        _actions.Offer(e.Message);
                        break;
                }
            }

            // The event stream ended without our leaving: the agent is no longer in the room.
            if (!_stop.IsCancellationRequested)
            {
                _lost.TrySetResult(_participant.LeaveReason == RoomLeaveReason.Kicked ? InstanceCodes.Kicked : InstanceCodes.Disconnected);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private void StartIdleTimer()
    {
        _idle?.Dispose();
        _idle = MediaTimer.For(_time).CreateTimer(static s => ((TaskCompletionSource<int>)s!).TrySetResult(InstanceCodes.RoomIdle), _lost, _idleTimeout, Timeout.InfiniteTimeSpan); // the shared clock
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Agent action reply to {UserId} could not be sent")]
    private static partial void LogReplyFailed(ILogger logger, Exception exception, string userId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Room message Cmd {Cmd} could not be sent")]
    private static partial void LogMessageFailed(ILogger logger, Exception exception, int cmd);
}

/// <summary>
/// The TTS engines of this server, by Vendor (case-insensitive), with the fallback for vendors it lacks. Its
/// <see cref="Vendors"/> registry is also the list the configuration validator accepts.
/// </summary>
internal sealed partial class TtsProviders
{
    /// <summary>The contract's cloud TTS vendors (spec 2.2): accepted everywhere, spoken with the fallback when this server has no engine.</summary>
    public static readonly IReadOnlyList<string> ZegoCloudVendors = ["Aliyun", "ByteDanceV3", "ByteDance", "ByteDanceFlowing", "MiniMax", "CosyVoice"];

    private readonly IOptions<AgentRoomOptions> _options;
    private readonly ILogger _logger;

    public TtsProviders(IEnumerable<ITextToSpeech> engines, IOptions<AgentRoomOptions> options, ILogger<TtsProviders> logger)
    {
        _options = options;
        _logger = logger;
        Vendors = new VendorRegistry<ITextToSpeech>(engines, e => e.Name, (e, p) => e.Validate(p), ZegoCloudVendors);
    }

    public VendorRegistry<ITextToSpeech> Vendors { get; }

    /// <summary>
    /// The engine's verdict on a (merged, already validated) TTS object's Params at configuration time, or null: the
    /// engine's own rules (<see cref="ITextToSpeech.ValidateConfiguration"/>). Vendors this server has no
    /// engine for speak with the fallback on its defaults, so their Params are not checked here.
    /// </summary>
    public string? ValidateConfiguration(JsonObject tts)
    {
        var vendor = tts["Vendor"] is JsonValue v && v.TryGetValue<string>(out var name) ? name : _options.Value.FallbackTtsVendor;
        return Vendors.Find(vendor)?.ValidateConfiguration(tts["Params"] as JsonObject);
    }

    /// <summary>
    /// The Exception an instance reports when its TTS object is spoken with the fallback engine instead of the vendor
    /// it names (no engine here: 2301; the engine refused the Params, e.g. missing credentials: 2302), or null.
    /// </summary>
    public VendorNotice? FallbackNotice(JsonObject tts)
    {
        var fallback = _options.Value.FallbackTtsVendor;
        var selection = Vendors.Select(tts["Vendor"] is JsonValue v && v.TryGetValue<string>(out var name) ? name : null, tts["Params"] as JsonObject, fallback);
        return selection.Fallback switch
        {
            VendorFallback.NoEngine => new VendorNotice(2301, $"TTS vendor {selection.Requested} is not available on this server; the agent speaks with the {fallback} engine instead"),
            VendorFallback.Refused => new VendorNotice(2302, $"TTS vendor {selection.Requested} cannot be used ({selection.Reason}); the agent speaks with the {fallback} engine instead"),
            _ => null,
        };
    }

    /// <summary>
    /// The engine, Params and text rules for an instance's merged TTS object. Params go to the engine whole, including
    /// the <c>app</c> credential block (cloud vendors such as CosyVoice need it; the Local engine ignores it).
    /// </summary>
    public TtsVoice Select(JsonObject tts)
    {
        var fallback = _options.Value.FallbackTtsVendor;
        var selection = Vendors.Select(tts["Vendor"]?.GetValue<string>(), tts["Params"] as JsonObject, fallback);
        if (selection.Fallback == VendorFallback.NoEngine)
        {
            // A ZEGO cloud vendor this server has no engine for: speak with the fallback engine on its defaults.
            LogFallback(_logger, selection.Requested, fallback);
        }
        else if (selection.Fallback == VendorFallback.Refused)
        {
            // A cloud vendor without usable credentials (e.g. ZEGO's trial placeholder): speak with the fallback engine.
            LogInvalid(_logger, selection.Requested, selection.Reason!, fallback);
        }

        var filters = new List<FilterSpan>();
        if (tts["FilterText"] is JsonArray items)
        {
            foreach (var item in items.OfType<JsonObject>())
            {
                if (item["BeginCharacters"]?.GetValue<string>() is { Length: > 0 } begin && item["EndCharacters"]?.GetValue<string>() is { Length: > 0 } end)
                {
                    filters.Add(new FilterSpan(begin, end));
                }
            }
        }

        var characters = tts["CharacterFilter"] is JsonArray removed
            ? removed.OfType<JsonValue>().Select(c => c.TryGetValue<string>(out var s) ? s : "").Where(s => s.Length > 0).ToList()
            : [];

        // TTS.Url is the named vendor's endpoint: not for the fallback engine speaking in its place.
        var endpoint = !selection.FellBack && tts["Url"] is JsonValue url && url.TryGetValue<string>(out var u) && Uri.TryCreate(u, UriKind.Absolute, out var uri) ? uri : null;
        return new TtsVoice(selection.Engine, selection.Parameters, filters, tts["TerminatorText"]?.GetValue<string>())
        {
            CharacterFilter = characters,
            Endpoint = endpoint,
        };
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "TTS vendor {Vendor} cannot be used ({Reason}); speaking with {Fallback}")]
    private static partial void LogInvalid(ILogger logger, string vendor, string reason, string fallback);

    [LoggerMessage(Level = LogLevel.Warning, Message = "TTS vendor {Vendor} has no engine on this server; speaking with {Fallback}")]
    private static partial void LogFallback(ILogger logger, string vendor, string fallback);
}

/// <summary>An Exception callback an instance owes its backend about its vendors (e.g. a fallback engine in use).</summary>
internal sealed record VendorNotice(int Code, string Message);
