using Parley.Abstractions.Text;
using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Audio;
using Parley.Media;
using Parley.Rtc.Rooms;
using Parley.Rtc.Tokens;
using Parley.Rtc.WebRtc;

namespace Parley.Rtc.WebSockets;

/// <summary>
/// One WebSocket client: a receive loop (JSON control messages and binary audio), a control sender draining a bounded
/// queue, and, while playing, an audio sender draining the player's drop-oldest queue. The two senders share a lock
/// because a WebSocket allows one send at a time. Nothing this connection does can block the room's pacers.
/// </summary>
internal sealed partial class RtcConnection
{
    private static readonly int[] SampleRates = [8000, 12000, 16000, 24000, 32000, 44100, 48000];
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(2);

    private readonly WebSocket _socket;
    private readonly RoomManager _rooms;
    private readonly Token04Verifier _verifier;
    private readonly AudioCodecRegistry _codecs;
    private readonly ParleyRtcOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<OutFrame> _control;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _cts = new();
    private readonly string _connectionId = Guid.NewGuid().ToString("N")[..12];

    private RoomParticipant? _participant;
    private Token04Grants _grants = Token04Grants.All;
    private Task _eventPump = Task.CompletedTask;

    private StreamPublication? _publication;
    private IAudioDecoder? _decoder;
    private StreamResampler? _inResampler;
    private short[] _decodeBuffer = [];
    private int _maxFrameSamples;

    private StreamPlayer? _player;
    private CancellationTokenSource? _playCts;
    private Task _audioSender = Task.CompletedTask;

    private WebRtcPeer? _peer;
    private Task _peerPump = Task.CompletedTask;

    private int _errors;
    private int _closing;
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string _closeDescription = "";

    public RtcConnection(WebSocket socket, RoomManager rooms, Token04Verifier verifier, AudioCodecRegistry codecs, ParleyRtcOptions options, TimeProvider time, ILogger logger)
    {
        _socket = socket;
        _rooms = rooms;
        _verifier = verifier;
        _codecs = codecs;
        _options = options;
        _time = time;
        _logger = logger;
        _control = Channel.CreateBounded<OutFrame>(new BoundedChannelOptions(Math.Max(8, options.SendQueueCapacity))
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    private readonly record struct OutFrame(byte[] Data, TaskCompletionSource? Sent);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var link = cancellationToken.UnsafeRegister(static s => ((RtcConnection)s!).RequestClose(WebSocketCloseStatus.EndpointUnavailable, "server shutting down"), this);
        var token = _cts.Token;
        LogOpened(_logger, _connectionId);
        var controlSender = Task.Run(() => SendControlLoopAsync(token), CancellationToken.None);
        using var loginTimer = _time.CreateTimer(
            static s =>
            {
                var c = (RtcConnection)s!;
                if (Volatile.Read(ref c._participant) is null)
                {
                    c.SendError(RtcCodes.NotLoggedIn, "no Login within the login timeout");
                    c.RequestClose(WebSocketCloseStatus.PolicyViolation, "login timeout");
                }
            },
            this,
            _options.LoginTimeout,
            Timeout.InfiniteTimeSpan);
        try
        {
            await ReceiveLoopAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (WebSocketException)
        {
        }
        catch (Exception ex)
        {
            LogFailed(_logger, _connectionId, ex);
        }
        finally
        {
            await CleanupAsync().ConfigureAwait(false);
            _control.Writer.TryComplete();
            if (!_cts.IsCancellationRequested)
            {
                _cts.CancelAfter(CloseGrace);
            }

            try
            {
                await controlSender.ConfigureAwait(false);
                await DrainUntilCloseAsync(_cts.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
            }

            _cts.Cancel();
            if (_socket.State is not (WebSocketState.Closed or WebSocketState.Aborted))
            {
                _socket.Abort();
            }

            _cts.Dispose();
            LogClosed(_logger, _connectionId);
        }
    }

    /// <summary>After our Close frame, reads (and ignores) until the client's Close arrives or the grace period ends.</summary>
    private async Task DrainUntilCloseAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[1024];
        while (_socket.State == WebSocketState.CloseSent)
        {
            var result = await _socket.ReceiveAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
        }
    }

    private async Task CleanupAsync()
    {
        await StopPlayingAsync(teardown: true).ConfigureAwait(false);
        if (_peer is { } peer)
        {
            // Disposing the peer completes ReceivedAudio, which ends the microphone pump.
            await peer.DisposeAsync().ConfigureAwait(false);
            try
            {
                await _peerPump.ConfigureAwait(false);
            }
            catch (Exception)
            {
            }
        }

        if (_publication is { } publication)
        {
            _publication = null;
            await publication.DisposeAsync().ConfigureAwait(false);
        }

        _decoder?.Dispose();
        _decoder = null;
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

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[Math.Max(1024, _options.MaxMessageBytes)];
        while (!cancellationToken.IsCancellationRequested)
        {
            var count = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                if (count == buffer.Length)
                {
                    SendError(RtcCodes.BadMessage, $"message larger than {buffer.Length} bytes");
                    RequestClose(WebSocketCloseStatus.MessageTooBig, "message too big");
                    return;
                }

                result = await _socket.ReceiveAsync(buffer.AsMemory(count), cancellationToken).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    RequestClose(WebSocketCloseStatus.NormalClosure, "");
                    return;
                }

                count += result.Count;
            }
            while (!result.EndOfMessage);

            if (result.MessageType == WebSocketMessageType.Text)
            {
                await HandleTextAsync(buffer.AsMemory(0, count)).ConfigureAwait(false);
            }
            else
            {
                HandleAudio(buffer.AsSpan(0, count));
            }

            if (Volatile.Read(ref _closing) != 0)
            {
                return;
            }
        }
    }

    // ---- control messages -------------------------------------------------------------------------------------

    private async ValueTask HandleTextAsync(ReadOnlyMemory<byte> text)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            SendError(RtcCodes.BadMessage, "text frame is not a JSON object");
            return;
        }

        using (document)
        {
            var root = document.RootElement;

            // Strings that cannot be read as text (unpaired surrogate escapes) and fields given twice: answered before
            // any field is read (reading such a string or name throws, which used to end the connection).
            var problem = JsonTextCheck.Find(root);
            if (!problem.IsNone)
            {
                SendError(RtcCodes.BadMessage, problem.Describe());
                return;
            }

            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("Type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                SendError(RtcCodes.BadMessage, "a control message must be a JSON object with a string field Type");
                return;
            }

            var type = typeElement.GetString();
            if (type != "Login" && type != "Ping" && _participant is null)
            {
                if (type is "Publish" or "Play" or "StopPublish" or "StopPlay" or "RoomMessage" or "Logout" or "WebRtcOffer")
                {
                    SendError(RtcCodes.NotLoggedIn, $"{type} before Login");
                    return;
                }
            }

            switch (type)
            {
                case "Login":
                    HandleLogin(root);
                    break;
                case "Publish":
                    HandlePublish(root);
                    break;
                case "Play":
                    HandlePlay(root);
                    break;
                case "StopPublish":
                    await HandleStopPublishAsync().ConfigureAwait(false);
                    break;
                case "StopPlay":
                    await HandleStopPlayAsync().ConfigureAwait(false);
                    break;
                case "RoomMessage":
                    HandleRoomMessage(root);
                    break;
                case "WebRtcOffer":
                    await HandleWebRtcOfferAsync(root).ConfigureAwait(false);
                    break;
                case "Ping":
                    Enqueue(Build(static (w, _) =>
                    {
                        w.WriteString("Type", "Pong");
                    }, this));
                    break;
                case "Logout":
                    RequestClose(WebSocketCloseStatus.NormalClosure, "logout");
                    break;
                default:
                    SendError(RtcCodes.UnknownType, $"unknown Type '{Truncate(type, 64)}'");
                    break;
            }
        }
    }

    private void HandleLogin(JsonElement root)
    {
        if (_participant is not null)
        {
            SendResult("LoginResult", RtcCodes.AlreadyLoggedIn, "already logged in; one login per connection");
            return;
        }

        var roomId = GetString(root, "RoomId");
        var userId = GetString(root, "UserId");
        var token = GetString(root, "Token");
        if ((RoomIds.ValidateRoomId(roomId) ?? RoomIds.ValidateUserId(userId)) is { } idError)
        {
            SendResult("LoginResult", RtcCodes.InvalidId, idError);
            CountError();
            return;
        }

        uint? appId = null;
        if (root.TryGetProperty("AppId", out var appElement) && appElement.ValueKind != JsonValueKind.Null)
        {
            if (appElement.ValueKind == JsonValueKind.Number && appElement.TryGetUInt32(out var number))
            {
                appId = number;
            }
            else if (appElement.ValueKind == JsonValueKind.String && uint.TryParse(appElement.GetString(), out var parsed))
            {
                appId = parsed;
            }
            else
            {
                SendResult("LoginResult", RtcCodes.BadMessage, "AppId must be a 32-bit unsigned number");
                CountError();
                return;
            }
        }

        uint? scope = appId;
        if (string.IsNullOrEmpty(token) && !_options.RequireToken)
        {
            _grants = Token04Grants.All;
        }
        else
        {
            var check = _verifier.VerifyLogin(token, appId, userId!, roomId!);
            if (!check.IsValid)
            {
                LogLoginRefused(_logger, _connectionId, check.Error);
                SendResult("LoginResult", RtcCodes.Of(check.Error), check.Message);
                CountError();
                return;
            }

            _grants = check.Grants ?? Token04Grants.All;
            scope = check.Claims?.AppId ?? appId;
        }

        RoomParticipant participant;
        try
        {
            participant = _rooms.Join(RoomIds.Scoped(scope, roomId!), userId!, isAgent: false, new RoomUserKey(scope, userId!));
        }
        catch (RoomException ex)
        {
            SendResult("LoginResult", RtcCodes.Of(ex.Code), ex.Message);
            return;
        }
        catch (ObjectDisposedException)
        {
            SendResult("LoginResult", RtcCodes.InternalError, "the room server is shutting down");
            return;
        }

        Volatile.Write(ref _participant, participant);
        Enqueue(Build((w, p) =>
        {
            w.WriteString("Type", "LoginResult");
            w.WriteNumber("Code", RtcCodes.Ok);
            w.WriteString("Message", "ok");
            w.WriteString("RoomId", roomId);
            w.WriteString("UserId", p.UserId);
            w.WriteStartArray("Streams");
            foreach (var stream in p.InitialStreams)
            {
                w.WriteStartObject();
                w.WriteString("StreamId", stream.StreamId);
                w.WriteString("UserId", stream.UserId);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("Users");
            foreach (var user in p.InitialUsers)
            {
                w.WriteStartObject();
                w.WriteString("UserId", user.UserId);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }, participant));
        _eventPump = Task.Run(() => PumpEventsAsync(participant, _cts.Token));
    }

    private void HandlePublish(JsonElement root)
    {
        if (_publication is not null)
        {
            SendResult("PublishResult", RtcCodes.AlreadyPublishing, $"already publishing '{_publication.StreamId}'; one published stream per connection");
            return;
        }

        var streamId = GetString(root, "StreamId");
        if (!TryGetFormat(root, "PublishResult", out var factory, out var rate))
        {
            return;
        }

        if (RoomIds.ValidateStreamId(streamId) is { } idError)
        {
            SendResult("PublishResult", RtcCodes.InvalidId, idError);
            return;
        }

        var grant = _grants.CheckPublish(streamId!);
        if (!grant.IsValid)
        {
            SendResult("PublishResult", RtcCodes.Of(grant.Error), grant.Message);
            return;
        }

        try
        {
            _publication = _participant!.Publish(streamId!, live: true);
        }
        catch (RoomException ex)
        {
            SendResult("PublishResult", RtcCodes.Of(ex.Code), ex.Message);
            return;
        }

        _decoder = factory.CreateDecoder(rate);
        _inResampler = new StreamResampler(rate, StreamPublication.SampleRate);
        _maxFrameSamples = rate * 60 / 1000;
        _decodeBuffer = new short[Math.Max(_maxFrameSamples, _decoder.MaxSamplesFor(_options.MaxMessageBytes))];
        SendResult("PublishResult", RtcCodes.Ok, "ok", streamId);
    }

    private void HandlePlay(JsonElement root)
    {
        if (_player is not null)
        {
            SendResult("PlayResult", RtcCodes.AlreadyPlaying, $"already playing '{_player.StreamId}'; one played stream per connection");
            return;
        }

        var streamId = GetString(root, "StreamId");
        if (!TryGetFormat(root, "PlayResult", out var factory, out var rate))
        {
            return;
        }

        if (RoomIds.ValidateStreamId(streamId) is { } idError)
        {
            SendResult("PlayResult", RtcCodes.InvalidId, idError);
            return;
        }

        StreamPlayer player;
        try
        {
            player = _participant!.Play(streamId!);
        }
        catch (RoomException ex)
        {
            SendResult("PlayResult", RtcCodes.Of(ex.Code), ex.Message);
            return;
        }

        _player = player;
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var published = _rooms.GetStreams(_participant!.RoomId).Any(s => s.StreamId == streamId);
        Enqueue(Build(static (w, state) =>
        {
            w.WriteString("Type", "PlayResult");
            w.WriteNumber("Code", RtcCodes.Ok);
            w.WriteString("Message", "ok");
            w.WriteString("StreamId", state.streamId);
            w.WriteBoolean("Published", state.published);
        }, (streamId, published)), sent);
        _playCts = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        var encoder = factory.CreateEncoder(rate);
        var resampler = new StreamResampler(StreamPublication.SampleRate, rate);
        var token = _playCts.Token;
        _audioSender = Task.Run(() => SendAudioLoopAsync(player, encoder, resampler, sent.Task, token), CancellationToken.None);
    }

    // ---- WebRTC media -----------------------------------------------------------------------------------------

    /// <summary>
    /// <c>WebRtcOffer</c>: answers the browser's SDP offer with a server-side <see cref="WebRtcPeer"/> whose microphone audio
    /// is published to PublishStreamId and which plays PlayStreamId. It counts as this connection's publish and play.
    /// </summary>
    private async ValueTask HandleWebRtcOfferAsync(JsonElement root)
    {
        const string Result = "WebRtcAnswer";
        if (!_options.WebRtc.Enabled)
        {
            SendResult(Result, RtcCodes.WebRtcDisabled, "WebRTC is disabled on this server (Parley:Rtc:WebRtc:Enabled)");
            return;
        }

        if (_peer is not null)
        {
            SendResult(Result, RtcCodes.WebRtcAlreadyActive, "a WebRTC peer is already active on this connection; one per connection (reconnect to renegotiate)");
            return;
        }

        var sdp = GetString(root, "Sdp");
        if (string.IsNullOrWhiteSpace(sdp))
        {
            SendResult(Result, RtcCodes.BadSdp, "WebRtcOffer needs a string field Sdp (the browser's offer)");
            CountError();
            return;
        }

        var publishId = GetString(root, "PublishStreamId");
        var playId = GetString(root, "PlayStreamId");
        if (string.IsNullOrEmpty(publishId) && string.IsNullOrEmpty(playId))
        {
            SendResult(Result, RtcCodes.BadMessage, "WebRtcOffer needs PublishStreamId, PlayStreamId or both");
            CountError();
            return;
        }

        if (!string.IsNullOrEmpty(publishId))
        {
            if (_publication is not null)
            {
                SendResult(Result, RtcCodes.AlreadyPublishing, $"already publishing '{_publication.StreamId}'; one published stream per connection");
                return;
            }

            if (RoomIds.ValidateStreamId(publishId) is { } idError)
            {
                SendResult(Result, RtcCodes.InvalidId, "PublishStreamId: " + idError);
                return;
            }

            var grant = _grants.CheckPublish(publishId);
            if (!grant.IsValid)
            {
                SendResult(Result, RtcCodes.Of(grant.Error), grant.Message);
                return;
            }
        }

        if (!string.IsNullOrEmpty(playId))
        {
            if (_player is not null)
            {
                SendResult(Result, RtcCodes.AlreadyPlaying, $"already playing '{_player.StreamId}'; one played stream per connection");
                return;
            }

            if (RoomIds.ValidateStreamId(playId) is { } idError)
            {
                SendResult(Result, RtcCodes.InvalidId, "PlayStreamId: " + idError);
                return;
            }
        }

        WebRtcPeer peer;
        string answer;
        try
        {
            peer = new WebRtcPeer(_options.WebRtc.ToPeerOptions(), logger: null, _time);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            LogWebRtcFailed(_logger, _connectionId, ex);
            SendResult(Result, RtcCodes.InternalError, "the server's WebRTC settings are invalid");
            return;
        }

        try
        {
            answer = await peer.CreateAnswerAsync(sdp, _cts.Token).ConfigureAwait(false);
        }
        catch (SdpException ex)
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            SendResult(Result, RtcCodes.BadSdp, "Sdp: " + ex.Message);
            CountError();
            return;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            await peer.DisposeAsync().ConfigureAwait(false);
            LogWebRtcFailed(_logger, _connectionId, ex);
            SendResult(Result, RtcCodes.InternalError, "the server could not set up WebRTC media");
            return;
        }

        StreamPublication? publication = null;
        if (!string.IsNullOrEmpty(publishId))
        {
            try
            {
                publication = _participant!.Publish(publishId, live: true);
            }
            catch (RoomException ex)
            {
                await peer.DisposeAsync().ConfigureAwait(false);
                SendResult(Result, RtcCodes.Of(ex.Code), ex.Message);
                return;
            }
        }

        StreamPlayer? player = null;
        if (!string.IsNullOrEmpty(playId))
        {
            try
            {
                player = _participant!.Play(playId);
            }
            catch (RoomException ex)
            {
                if (publication is not null)
                {
                    await publication.DisposeAsync().ConfigureAwait(false);
                }

                await peer.DisposeAsync().ConfigureAwait(false);
                SendResult(Result, RtcCodes.Of(ex.Code), ex.Message);
                return;
            }
        }

        _peer = peer;
        _publication = publication;
        _peerPump = Task.Run(() => PumpMicrophoneAsync(peer, publication), CancellationToken.None);
        if (player is not null)
        {
            _player = player;
            _playCts = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
            var token = _playCts.Token;
            _audioSender = Task.Run(() => SendWebRtcAudioLoopAsync(player, peer, token), CancellationToken.None);
        }

        // The peer ending (ICE/DTLS failure, consent lost, browser closed) ends the connection, as closing the WebSocket ends the peer.
        _ = peer.Closed.ContinueWith(
            static (t, s) =>
            {
                var c = (RtcConnection)s!;
                LogWebRtcClosed(c._logger, c._connectionId, t.Result);
                c.RequestClose(WebSocketCloseStatus.NormalClosure, "WebRTC peer closed");
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion,
            TaskScheduler.Default);

        Enqueue(Build(static (w, s) =>
        {
            w.WriteString("Type", "WebRtcAnswer");
            w.WriteNumber("Code", RtcCodes.Ok);
            w.WriteString("Message", "ok");
            w.WriteString("Sdp", s.answer);
            if (!string.IsNullOrEmpty(s.publishId))
            {
                w.WriteString("PublishStreamId", s.publishId);
            }

            if (!string.IsNullOrEmpty(s.playId))
            {
                w.WriteString("PlayStreamId", s.playId);
            }
        }, (answer, publishId, playId)));
    }

    /// <summary>Moves the browser's microphone (16 kHz chunks from the peer) into the publication, like binary WebSocket audio.</summary>
    private async Task PumpMicrophoneAsync(WebRtcPeer peer, StreamPublication? publication)
    {
        var reader = peer.ReceivedAudio;
        try
        {
            while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (reader.TryRead(out var chunk))
                {
                    // After StopPublish (or without a publish stream) the audio is dropped.
                    if (publication is not null && ReferenceEquals(Volatile.Read(ref _publication), publication))
                    {
                        publication.TryWriteLive(chunk);
                    }
                    else
                    {
                        chunk.Dispose();
                    }
                }
            }
        }
        catch (ChannelClosedException)
        {
        }
    }

    /// <summary>Sends the played stream's paced 20 ms frames into the peer (Opus over SRTP).</summary>
    private static async Task SendWebRtcAudioLoopAsync(StreamPlayer player, WebRtcPeer peer, CancellationToken cancellationToken)
    {
        var reader = player.Audio;
        try
        {
            // No token on the wait: the player's queue completes when playing stops.
            while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (reader.TryRead(out var chunk))
                {
                    using (chunk)
                    {
                        await peer.SendAsync(chunk.Memory, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async ValueTask HandleStopPublishAsync()
    {
        if (_publication is not { } publication)
        {
            SendError(RtcCodes.NotPublishing, "StopPublish while not publishing");
            return;
        }

        _publication = null;
        _decoder?.Dispose();
        _decoder = null;
        await publication.DisposeAsync().ConfigureAwait(false);
        SendResult("StopPublishResult", RtcCodes.Ok, "ok", publication.StreamId);
    }

    private async ValueTask HandleStopPlayAsync()
    {
        if (_player is not { } player)
        {
            SendError(RtcCodes.NotPlaying, "StopPlay while not playing");
            return;
        }

        await StopPlayingAsync().ConfigureAwait(false);
        SendResult("StopPlayResult", RtcCodes.Ok, "ok", player.StreamId);
    }

    /// <summary>
    /// Stops playing: completing the player's queue ends the audio sender after its current frame. Only at teardown is
    /// the sender's token cancelled (cancelling a WebSocket send aborts the socket).
    /// </summary>
    private async ValueTask StopPlayingAsync(bool teardown = false)
    {
        if (_player is not { } player)
        {
            return;
        }

        _player = null;
        await player.DisposeAsync().ConfigureAwait(false);
        if (teardown)
        {
            _playCts?.Cancel();
        }

        try
        {
            await _audioSender.ConfigureAwait(false);
        }
        catch (Exception)
        {
        }

        _playCts?.Dispose();
        _playCts = null;
    }

    private void HandleRoomMessage(JsonElement root)
    {
        if (!root.TryGetProperty("Message", out var message) || message.ValueKind != JsonValueKind.Object)
        {
            SendError(RtcCodes.BadMessage, "RoomMessage needs a JSON object field Message");
            return;
        }

        List<string>? targets = null;
        if (root.TryGetProperty("ToUserIds", out var to) && to.ValueKind == JsonValueKind.Array)
        {
            targets = [];
            foreach (var item in to.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    SendError(RtcCodes.BadMessage, "ToUserIds must be an array of strings");
                    return;
                }

                targets.Add(item.GetString()!);
            }
        }

        var json = Encoding.UTF8.GetBytes(message.GetRawText());
        if (json.Length > _options.MaxRoomMessageBytes)
        {
            SendError(RtcCodes.RoomMessageTooLarge, $"Message is larger than {_options.MaxRoomMessageBytes} bytes");
            return;
        }

        try
        {
            _participant!.SendRaw(json, targets);
        }
        catch (RoomException ex)
        {
            SendError(RtcCodes.Of(ex.Code), ex.Message);
        }
    }

    private bool TryGetFormat(JsonElement root, string resultType, out IAudioCodecFactory factory, out int rate)
    {
        var codec = GetString(root, "Codec") ?? "pcm16";
        rate = 16000;
        if (root.TryGetProperty("SampleRate", out var rateElement) && rateElement.ValueKind != JsonValueKind.Null)
        {
            if (rateElement.ValueKind != JsonValueKind.Number || !rateElement.TryGetInt32(out rate))
            {
                factory = null!;
                SendResult(resultType, RtcCodes.BadMessage, "SampleRate must be an integer");
                return false;
            }
        }

        if (!_codecs.TryGet(codec, out factory))
        {
            SendResult(resultType, RtcCodes.UnsupportedCodec, $"Codec '{Truncate(codec, 32)}' is not supported (supported: {string.Join(", ", _codecs.Names)})");
            return false;
        }

        if (Array.IndexOf(SampleRates, rate) < 0 || !factory.SupportsSampleRate(rate))
        {
            SendResult(resultType, RtcCodes.UnsupportedSampleRate, $"SampleRate {rate} is not supported for {factory.Name} (supported: {string.Join(", ", SampleRates)})");
            return false;
        }

        return true;
    }

    // ---- audio in ---------------------------------------------------------------------------------------------

    private void HandleAudio(ReadOnlySpan<byte> payload)
    {
        if (_publication is not { } publication || _decoder is null || _inResampler is null)
        {
            SendError(
                RtcCodes.AudioBeforePublish,
                _publication is not null ? $"'{_publication.StreamId}' is published over WebRTC; binary audio frames are not accepted for it" : "binary audio frame before a successful Publish");
            return;
        }

        if (payload.IsEmpty || _decoder.MaxSamplesFor(payload.Length) > _decodeBuffer.Length)
        {
            SendError(RtcCodes.BadAudioFrame, payload.IsEmpty ? "empty audio frame" : "audio frame longer than 60 ms");
            return;
        }

        if (!_decoder.TryDecode(payload, _decodeBuffer, out var samples, out var error))
        {
            SendError(RtcCodes.BadAudioFrame, error ?? "audio frame does not decode");
            return;
        }

        if (samples > _maxFrameSamples)
        {
            SendError(RtcCodes.BadAudioFrame, $"audio frame of {samples} samples is longer than 60 ms");
            return;
        }

        if (samples == 0)
        {
            return;
        }

        var buffer = ArrayPool<short>.Shared.Rent(_inResampler.MaxOutputFor(samples));
        var written = _inResampler.Process(_decodeBuffer.AsSpan(0, samples), buffer);
        if (written == 0)
        {
            ArrayPool<short>.Shared.Return(buffer);
            return;
        }

        publication.TryWriteLive(new AudioChunk(buffer, written, StreamPublication.SampleRate));
    }

    // ---- sending ----------------------------------------------------------------------------------------------

    private async Task SendAudioLoopAsync(StreamPlayer player, IAudioEncoder encoder, StreamResampler resampler, Task playResultSent, CancellationToken cancellationToken)
    {
        using var _ = encoder;
        var pcm = new short[resampler.MaxOutputFor(StreamPublication.FrameSamples)];
        var bytes = new byte[encoder.MaxBytesFor(pcm.Length)];
        using var frames = encoder.FixedFrameSamples > 0 ? new FrameAssembler(encoder.FixedFrameSamples) : null;
        var frame = new short[Math.Max(encoder.FixedFrameSamples, 1)];
        try
        {
            await playResultSent.WaitAsync(cancellationToken).ConfigureAwait(false);
            var reader = player.Audio;

            // No token on the wait: a cancellable wait allocates per frame; the player's queue completes when playing stops.
            while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (reader.TryRead(out var chunk))
                {
                    if (Volatile.Read(ref _closing) != 0)
                    {
                        chunk.Dispose();
                        return;
                    }

                    int samples;
                    using (chunk)
                    {
                        if (resampler.MaxOutputFor(chunk.Length) > pcm.Length)
                        {
                            // Frames are 20 ms; a longer chunk (rare) grows the buffers once.
                            pcm = new short[resampler.MaxOutputFor(chunk.Length)];
                            bytes = new byte[Math.Max(bytes.Length, encoder.MaxBytesFor(pcm.Length))];
                        }

                        samples = resampler.Process(chunk.Samples, pcm);
                    }

                    if (samples == 0)
                    {
                        continue;
                    }

                    if (frames is null)
                    {
                        await SendEncodedAsync(encoder, pcm.AsMemory(0, samples), bytes, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    // Codecs that need whole frames (Opus): the resampler's output varies by a few samples per frame.
                    frames.Write(pcm.AsSpan(0, samples));
                    while (frames.TryReadFrame(frame))
                    {
                        await SendEncodedAsync(encoder, frame, bytes, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (WebSocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async ValueTask SendEncodedAsync(IAudioEncoder encoder, ReadOnlyMemory<short> pcm, byte[] bytes, CancellationToken cancellationToken)
    {
        var length = encoder.Encode(pcm.Span, bytes);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(bytes.AsMemory(0, length), WebSocketMessageType.Binary, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task SendControlLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            var reader = _control.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var frame))
                {
                    await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
                    try
                    {
                        await _socket.SendAsync(frame.Data, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        _sendLock.Release();
                    }

                    frame.Sent?.TrySetResult();
                }
            }

            // The queue completed: the connection is closing. The audio sender stops at its next frame; say goodbye.
            await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await _socket.CloseOutputAsync(_closeStatus, _closeDescription, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                _sendLock.Release();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (WebSocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task PumpEventsAsync(RoomParticipant participant, CancellationToken cancellationToken)
    {
        try
        {
            var reader = participant.Events;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var roomEvent))
                {
                    switch (roomEvent.Kind)
                    {
                        case RoomEventKind.UserJoined:
                        case RoomEventKind.UserLeft:
                            Enqueue(Build(static (w, e) =>
                            {
                                w.WriteString("Type", e.Kind == RoomEventKind.UserJoined ? "UserJoined" : "UserLeft");
                                w.WriteString("UserId", e.UserId);
                            }, roomEvent));
                            break;
                        case RoomEventKind.StreamAdded:
                        case RoomEventKind.StreamRemoved:
                            Enqueue(Build(static (w, e) =>
                            {
                                w.WriteString("Type", e.Kind == RoomEventKind.StreamAdded ? "StreamAdded" : "StreamRemoved");
                                w.WriteString("StreamId", e.StreamId);
                                w.WriteString("UserId", e.UserId);
                            }, roomEvent));
                            break;
                        case RoomEventKind.RoomMessage:
                            Enqueue(Build(static (w, e) =>
                            {
                                w.WriteString("Type", "RoomMessage");
                                w.WriteString("FromUserId", e.Message!.FromUserId);
                                w.WritePropertyName("Message");
                                w.WriteRawValue(e.Message.JsonBytes, skipInputValidation: true);
                            }, roomEvent));
                            break;
                        case RoomEventKind.Kicked:
                            Enqueue(Build(static (w, _) =>
                            {
                                w.WriteString("Type", "Kicked");
                                w.WriteNumber("Code", RtcCodes.Kicked);
                                w.WriteString("Message", "another login with the same UserId replaced this one");
                            }, roomEvent));
                            RequestClose(WebSocketCloseStatus.NormalClosure, "kicked");
                            break;
                        case RoomEventKind.RealUserCountChanged:
                            break;
                    }
                }
            }

            switch (participant.LeaveReason)
            {
                case RoomLeaveReason.EventQueueOverflow:
                    RequestClose(WebSocketCloseStatus.PolicyViolation, "slow consumer");
                    break;
                case RoomLeaveReason.Shutdown:
                    RequestClose(WebSocketCloseStatus.EndpointUnavailable, "server shutting down");
                    break;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void SendError(int code, string message)
    {
        CountError();
        Enqueue(Build(static (w, s) =>
        {
            w.WriteString("Type", "Error");
            w.WriteNumber("Code", s.code);
            w.WriteString("Message", s.message);
        }, (code, message)));
    }

    private void CountError()
    {
        if (Interlocked.Increment(ref _errors) == _options.MaxErrorsPerConnection)
        {
            RequestClose(WebSocketCloseStatus.PolicyViolation, "too many errors");
        }
    }

    private void SendResult(string type, int code, string message, string? streamId = null) =>
        Enqueue(Build(static (w, s) =>
        {
            w.WriteString("Type", s.type);
            w.WriteNumber("Code", s.code);
            w.WriteString("Message", s.message);
            if (s.streamId is not null)
            {
                w.WriteString("StreamId", s.streamId);
            }
        }, (type, code, message, streamId)));

    private static byte[] Build<TState>(Action<Utf8JsonWriter, TState> write, TState state)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer, state);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private void Enqueue(byte[] frame, TaskCompletionSource? sent = null)
    {
        if (!_control.Writer.TryWrite(new OutFrame(frame, sent)))
        {
            if (Volatile.Read(ref _closing) == 0)
            {
                LogSlowConsumer(_logger, _connectionId);
                Abort();
            }

            sent?.TrySetCanceled();
        }
    }

    /// <summary>Closes after the queued control messages: the Close frame follows them; the socket is aborted if the client does not answer within 2 s.</summary>
    private void RequestClose(WebSocketCloseStatus status, string description)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        _closeStatus = status;
        _closeDescription = description;
        _control.Writer.TryComplete();
        try
        {
            _cts.CancelAfter(CloseGrace);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Abort()
    {
        Interlocked.Exchange(ref _closing, 1);
        _control.Writer.TryComplete();
        _socket.Abort();
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static string? GetString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Truncate(string? value, int max) => value is null ? "" : value.Length <= max ? value : value[..max] + "…";

    [LoggerMessage(EventId = 200, Level = LogLevel.Debug, Message = "RTC connection {ConnectionId} opened")]
    private static partial void LogOpened(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 201, Level = LogLevel.Debug, Message = "RTC connection {ConnectionId} closed")]
    private static partial void LogClosed(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "RTC connection {ConnectionId}: login refused ({Reason})")]
    private static partial void LogLoginRefused(ILogger logger, string connectionId, Token04Error reason);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "RTC connection {ConnectionId}: send queue overflow, disconnecting a slow client")]
    private static partial void LogSlowConsumer(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 205, Level = LogLevel.Warning, Message = "RTC connection {ConnectionId}: WebRTC setup failed")]
    private static partial void LogWebRtcFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(EventId = 206, Level = LogLevel.Debug, Message = "RTC connection {ConnectionId}: WebRTC peer closed ({Reason})")]
    private static partial void LogWebRtcClosed(ILogger logger, string connectionId, string reason);

    [LoggerMessage(EventId = 204, Level = LogLevel.Error, Message = "RTC connection {ConnectionId} failed")]
    private static partial void LogFailed(ILogger logger, string connectionId, Exception exception);
}
