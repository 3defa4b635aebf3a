using Microsoft.Extensions.Logging;
using Parley.Media;
using Parley.Rtc.Rooms;
using Parley.Rtc.Tokens;
using Parley.Rtc.Transports;
using Parley.Rtc.WebRtc;

namespace Parley.Rtc.WebSockets;

/// <summary>
/// The room side of one WebSocket client: login (Token04 and its grants), the one stream it may publish and the one it
/// may play (over WebSocket binary frames or over WebRTC), and its room messages. Called from the connection's
/// receive loop only, except <see cref="IsLoggedIn"/>.
/// </summary>
internal sealed partial class RtcRoomSession : IAsyncDisposable
{
    private readonly RtcConnection _connection;
    private readonly RoomManager _rooms;
    private readonly Token04Verifier _verifier;
    private readonly AudioCodecRegistry _codecs;
    private readonly ParleyRtcOptions _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly IRoomLocator? _locator;

    private IRoomParticipant? _participant;
    private StreamRequestRules _rules = new(Token04Grants.All);
    private Task _eventPump = Task.CompletedTask;

    /// <summary>Binary WebSocket audio: decode → resample → publish, and play → encode → send (after login).</summary>
    private TransportBridge? _media;

    private WebRtcMediaBridge? _webRtc;

    public RtcRoomSession(RtcConnection connection, RoomManager rooms, Token04Verifier verifier, AudioCodecRegistry codecs, ParleyRtcOptions options, TimeProvider time, ILoggerFactory loggers, IRoomLocator? locator = null)
    {
        _locator = locator;
        _connection = connection;
        _rooms = rooms;
        _verifier = verifier;
        _codecs = codecs;
        _options = options;
        _time = time;
        _loggers = loggers;
    }

    public bool IsLoggedIn => Volatile.Read(ref _participant) is not null;

    private ILogger Logger => _connection.Logger;

    private string ConnectionId => _connection.ConnectionId;

    public async ValueTask LoginAsync(LoginRequest request)
    {
        const string Result = "LoginResult";
        if (_participant is not null)
        {
            _connection.SendResult(Result, RtcCodes.AlreadyLoggedIn, "already logged in; one login per connection");
            return;
        }

        var (roomId, userId, token) = (request.RoomId, request.UserId, request.Token);
        if ((RoomIds.ValidateRoomId(roomId) ?? RoomIds.ValidateUserId(userId)) is { } idError)
        {
            _connection.SendResult(Result, RtcCodes.InvalidId, idError);
            _connection.CountError();
            return;
        }

        if (request.AppIdInvalid)
        {
            _connection.SendResult(Result, RtcCodes.BadMessage, "AppId must be a 32-bit unsigned number");
            _connection.CountError();
            return;
        }

        var appId = request.AppId;
        uint? scope = appId;
        var grants = Token04Grants.All;
        if (!string.IsNullOrEmpty(token) || _options.RequireToken)
        {
            var check = _verifier.VerifyLogin(token, appId, userId!, roomId!);
            if (!check.IsValid)
            {
                LogLoginRefused(Logger, ConnectionId, check.Error);
                _connection.SendResult(Result, RtcCodes.Of(check.Error), check.Message);
                _connection.CountError();
                return;
            }

            grants = check.Grants ?? Token04Grants.All;
            scope = check.Claims?.AppId ?? appId;
        }

        // In a cluster the room's media is on the node hosting its agent: send the client there (one extra round trip).
        if (_locator is not null && scope is { } app)
        {
            Uri? owner = null;
            try
            {
                owner = await _locator.FindOtherOwnerAsync(app, roomId!, _connection.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogLocatorFailed(Logger, ex, ConnectionId);
            }

            if (owner is not null)
            {
                var ws = new UriBuilder(new Uri(owner, "rtc/ws")) { Scheme = owner.Scheme == Uri.UriSchemeHttps ? "wss" : "ws" }.Uri;
                _connection.Send(RtcSignaling.LoginRedirect(roomId!, ws));
                return;
            }
        }

        RoomParticipant participant;
        try
        {
            participant = _rooms.Join(RoomIds.Scoped(scope, roomId!), userId!, isAgent: false, new RoomUserKey(scope, userId!));
        }
        catch (RoomException ex)
        {
            _connection.SendResult(Result, RtcCodes.Of(ex.Code), ex.Message);
            return;
        }
        catch (ObjectDisposedException)
        {
            _connection.SendResult(Result, RtcCodes.InternalError, "the room server is shutting down");
            return;
        }

        _rules = new StreamRequestRules(grants);
        _media = new TransportBridge(participant, _connection, _options.MaxMessageBytes);
        Volatile.Write(ref _participant, participant);
        _connection.Send(RtcSignaling.LoginResult(roomId!, participant));
        var cancellation = _connection.Token;
        _eventPump = Task.Run(() => RoomEventForwarder.RunAsync(participant, _connection, cancellation));
    }

    public async ValueTask PublishAsync(StreamRequest request)
    {
        const string Result = "PublishResult";
        var format = CheckFormat(request, out var factory);
        if (_rules.CheckPublish(PublishedStreamId, request.StreamId, format) is { } refusal)
        {
            _connection.SendResult(Result, refusal);
            return;
        }

        try
        {
            await _media!.PublishAsync(request.StreamId!, factory!.CreateDecoder(request.SampleRate), _connection.Token).ConfigureAwait(false);
        }
        catch (RoomException ex)
        {
            _connection.SendResult(Result, RtcCodes.Of(ex.Code), ex.Message);
            return;
        }

        _connection.SendResult(Result, RtcCodes.Ok, "ok", request.StreamId);
    }

    public async ValueTask PlayAsync(StreamRequest request)
    {
        const string Result = "PlayResult";
        var format = CheckFormat(request, out var factory);
        if (_rules.CheckPlay(PlayedStreamId, request.StreamId, format) is { } refusal)
        {
            _connection.SendResult(Result, refusal);
            return;
        }

        // Audio starts once PlayResult is on the wire.
        var streamId = request.StreamId!;
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await _media!.PlayAsync(streamId, factory!.CreateEncoder(request.SampleRate), frameSamples: 0, startAfter: sent.Task, _connection.Token).ConfigureAwait(false);
        }
        catch (RoomException ex)
        {
            _connection.SendResult(Result, RtcCodes.Of(ex.Code), ex.Message);
            return;
        }

        var published = _rooms.GetStreams(_participant!.RoomId).Any(s => s.StreamId == streamId);
        _connection.Send(RtcSignaling.PlayResult(streamId, published), sent);
    }

    /// <summary>
    /// <c>WebRtcOffer</c>: answers the browser's SDP offer with a server-side <see cref="WebRtcPeer"/> whose microphone audio
    /// is published to PublishStreamId and which plays PlayStreamId. It counts as this connection's publish and play.
    /// </summary>
    public async ValueTask OfferWebRtcAsync(WebRtcOfferRequest request)
    {
        const string Result = "WebRtcAnswer";
        if (!_options.WebRtc.Enabled)
        {
            _connection.SendResult(Result, RtcCodes.WebRtcDisabled, "WebRTC is disabled on this server (Parley:Rtc:WebRtc:Enabled)");
            return;
        }

        if (_webRtc is not null)
        {
            _connection.SendResult(Result, RtcCodes.WebRtcAlreadyActive, "a WebRTC peer is already active on this connection; one per connection (reconnect to renegotiate)");
            return;
        }

        var (sdp, publishId, playId) = (request.Sdp, request.PublishStreamId, request.PlayStreamId);
        if (string.IsNullOrWhiteSpace(sdp))
        {
            _connection.SendResult(Result, RtcCodes.BadSdp, "WebRtcOffer needs a string field Sdp (the browser's offer)");
            _connection.CountError();
            return;
        }

        if (string.IsNullOrEmpty(publishId) && string.IsNullOrEmpty(playId))
        {
            _connection.SendResult(Result, RtcCodes.BadMessage, "WebRtcOffer needs PublishStreamId, PlayStreamId or both");
            _connection.CountError();
            return;
        }

        var refusal = string.IsNullOrEmpty(publishId) ? null : _rules.CheckPublish(PublishedStreamId, publishId, idLabel: "PublishStreamId: ");
        refusal ??= string.IsNullOrEmpty(playId) ? null : _rules.CheckPlay(PlayedStreamId, playId, idLabel: "PlayStreamId: ");
        if (refusal is { } refused)
        {
            _connection.SendResult(Result, refused);
            return;
        }

        var media = await WebRtcMediaBridge.StartAsync(_connection, _participant!, _options.WebRtc, _time, _loggers, sdp, publishId, playId).ConfigureAwait(false);
        if (media is null)
        {
            return;
        }

        _webRtc = media;
        _connection.Send(RtcSignaling.WebRtcAnswer(media.Answer, publishId, playId));
    }

    public async ValueTask StopPublishAsync()
    {
        var streamId = PublishedStreamId;
        if (streamId is null || !(await _media!.StopPublishingAsync().ConfigureAwait(false) || await _webRtc!.StopPublishingAsync().ConfigureAwait(false)))
        {
            _connection.SendError(RtcCodes.NotPublishing, "StopPublish while not publishing");
            return;
        }

        _connection.SendResult("StopPublishResult", RtcCodes.Ok, "ok", streamId);
    }

    public async ValueTask StopPlayAsync()
    {
        // Completing the player's queue ends the sender after its current frame (its send is not cancelled: that would abort the socket).
        var streamId = PlayedStreamId;
        if (streamId is null || !(await _media!.StopPlayingAsync().ConfigureAwait(false) || await _webRtc!.StopPlayingAsync().ConfigureAwait(false)))
        {
            _connection.SendError(RtcCodes.NotPlaying, "StopPlay while not playing");
            return;
        }

        _connection.SendResult("StopPlayResult", RtcCodes.Ok, "ok", streamId);
    }

    public async ValueTask SendRoomMessageAsync(RoomMessageRequest request)
    {
        if (request.Json.Length > _options.MaxRoomMessageBytes)
        {
            _connection.SendError(RtcCodes.RoomMessageTooLarge, $"Message is larger than {_options.MaxRoomMessageBytes} bytes");
            return;
        }

        try
        {
            await _participant!.SendRawMessageAsync(request.Json, request.ToUserIds, _connection.Token).ConfigureAwait(false);
        }
        catch (RoomException ex)
        {
            _connection.SendError(RtcCodes.Of(ex.Code), ex.Message);
        }
    }

    private string? PublishedStreamId => _media?.PublishedStreamId ?? _webRtc?.PublishedStreamId;

    private string? PlayedStreamId => _media?.PlayedStreamId ?? _webRtc?.PlayedStreamId;

    /// <summary>Codec and SampleRate of a Publish or Play: null when the registry has the codec at that rate.</summary>
    private RtcRefusal? CheckFormat(StreamRequest request, out IAudioCodecFactory? factory)
    {
        factory = null;
        if (request.SampleRateInvalid)
        {
            return new RtcRefusal(RtcCodes.BadMessage, "SampleRate must be an integer");
        }

        if (!_codecs.TryGet(request.Codec, out var found))
        {
            return new RtcRefusal(RtcCodes.UnsupportedCodec, $"Codec '{RtcSignaling.Truncate(request.Codec, 32)}' is not supported (supported: {string.Join(", ", _codecs.Names)})");
        }

        var rate = request.SampleRate;
        if (Array.IndexOf(StreamRequestRules.SampleRates, rate) < 0 || !found.SupportsSampleRate(rate))
        {
            return new RtcRefusal(RtcCodes.UnsupportedSampleRate, $"SampleRate {rate} is not supported for {found.Name} (supported: {string.Join(", ", StreamRequestRules.SampleRates)})");
        }

        factory = found;
        return null;
    }

    /// <summary>A binary frame: audio of the stream published over the WebSocket.</summary>
    public void HandleAudio(ReadOnlySpan<byte> payload)
    {
        string? error = null;
        switch (_media?.WriteAudio(payload, out error))
        {
            case TransportAudioResult.Accepted:
                break;
            case TransportAudioResult.BadFrame:
                _connection.SendError(RtcCodes.BadAudioFrame, error!);
                break;
            default:
                _connection.SendError(
                    RtcCodes.AudioBeforePublish,
                    _webRtc?.PublishedStreamId is { } overWebRtc
                        ? $"'{overWebRtc}' is published over WebRTC; binary audio frames are not accepted for it"
                        : "binary audio frame before a successful Publish");
                break;
        }
    }

    /// <summary>Leaves the room: stops playing, ends the WebRTC peer, unpublishes, and waits for the event forwarder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_media is { } media)
        {
            await media.StopPlayingAsync(abort: true).ConfigureAwait(false);
        }

        if (_webRtc is { } webRtc)
        {
            await webRtc.DisposeAsync().ConfigureAwait(false);
        }

        if (_media is { } published)
        {
            await published.DisposeAsync().ConfigureAwait(false);
        }

        if (_participant is { } participant)
        {
            await participant.DisposeAsync().ConfigureAwait(false);
            try
            {
                await _eventPump.ConfigureAwait(false);
            }
            catch (Exception)
            {
            }
        }
    }

    [LoggerMessage(EventId = 214, Level = LogLevel.Warning, Message = "RTC connection {ConnectionId}: the room locator failed; the login is served here")]
    private static partial void LogLocatorFailed(ILogger logger, Exception exception, string connectionId);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "RTC connection {ConnectionId}: login refused ({Reason})")]
    private static partial void LogLoginRefused(ILogger logger, string connectionId, Token04Error reason);
}

/// <summary>
/// The rules a Publish, Play or WebRtcOffer must pass before the room is asked, in one place for both media paths:
/// one published and one played stream per connection, a valid StreamId, and (for publishing) the token's grant.
/// </summary>
internal sealed class StreamRequestRules(Token04Grants grants)
{
    /// <summary>The sample rates a WebSocket client may publish or play at.</summary>
    public static readonly int[] SampleRates = [8000, 12000, 16000, 24000, 32000, 44100, 48000];

    /// <param name="publishing">The stream this connection already publishes, if any.</param>
    /// <param name="format">The request's codec/rate refusal, checked after the one-stream rule (WebSocket Publish only).</param>
    /// <param name="idLabel">Prefix of an invalid-id message ("PublishStreamId: " for WebRTC).</param>
    public RtcRefusal? CheckPublish(string? publishing, string? streamId, RtcRefusal? format = null, string idLabel = "")
    {
        if (publishing is not null)
        {
            return new RtcRefusal(RtcCodes.AlreadyPublishing, $"already publishing '{publishing}'; one published stream per connection");
        }

        if (format is not null)
        {
            return format;
        }

        if (RoomIds.ValidateStreamId(streamId) is { } idError)
        {
            return new RtcRefusal(RtcCodes.InvalidId, idLabel + idError);
        }

        var grant = grants.CheckPublish(streamId!);
        return grant.IsValid ? null : new RtcRefusal(RtcCodes.Of(grant.Error), grant.Message);
    }

    /// <param name="playing">The stream this connection already plays, if any.</param>
    public RtcRefusal? CheckPlay(string? playing, string? streamId, RtcRefusal? format = null, string idLabel = "")
    {
        if (playing is not null)
        {
            return new RtcRefusal(RtcCodes.AlreadyPlaying, $"already playing '{playing}'; one played stream per connection");
        }

        if (format is not null)
        {
            return format;
        }

        return RoomIds.ValidateStreamId(streamId) is { } idError ? new RtcRefusal(RtcCodes.InvalidId, idLabel + idError) : null;
    }
}
