using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Org.BouncyCastle.Tls;
using Parley.Abstractions.Audio;
using Parley.Media;
using Parley.Media.Codecs;

namespace Parley.Rtc.WebRtc;

/// <summary>
/// One browser's WebRTC audio connection, server side: answers an SDP offer (audio only, ICE-lite, DTLS passive), runs
/// ICE-lite STUN, a DTLS 1.2 server with use_srtp, SRTP, and Opus in both directions. Received audio comes out as 16 kHz
/// <see cref="AudioChunk"/>s on <see cref="ReceivedAudio"/>; <see cref="SendAsync"/> takes 16 kHz PCM16 and sends one
/// 20 ms Opus packet per 20 ms of audio (the caller paces). Each peer owns one UDP socket.
/// </summary>
public sealed partial class WebRtcPeer : IAsyncDisposable
{
    private const int SampleRate48 = 48000;
    private const int Frame48 = 960;
    private const int Frame16 = 320;
    private const int MaxDatagram = 1500;

    private readonly WebRtcOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<AudioChunk> _received;
    private readonly SemaphoreSlim _sendLock = new(1, 1);

    // Receive path state (receive loop only).
    private readonly byte[] _receiveBuffer = new byte[MaxDatagram + 64];
    private readonly byte[] _stunResponse = new byte[256];
    private readonly JitterBuffer _jitter;
    private readonly OpusDecoder _decoder = new(SampleRate48, 1);
    private readonly Resampler _downsampler = new(SampleRate48, 16000);
    private readonly short[] _decoded = new short[SampleRate48 * 120 / 1000];
    private readonly short[] _downsampled;
    private int _lastFrameSamples = Frame48;
    private uint? _remoteSsrc;

    // Send path state (under _sendLock).
    private readonly OpusEncoder _encoder;
    private readonly Resampler _upsampler = new(16000, SampleRate48);
    private readonly short[] _pending48 = new short[Frame48 * 8];
    private readonly short[] _upsampled;
    private readonly byte[] _sendBuffer = new byte[MaxDatagram];
    private int _pendingCount;
    private ushort _sequence;
    private uint _timestamp;
    private long _lastSendTicks;
    private bool _talkspurtStart = true;
    private long _packetsSent;
    private long _octetsSent;
    private readonly byte[] _rtcpBuffer = new byte[128];

    private Socket? _socket;
    private SdpMediaSection? _remote;
    private string _localUfrag = string.Empty;
    private byte[] _localPwd = [];
    private byte[] _expectedUsername = [];
    private int _payloadType;
    private DtlsCertificate? _certificate;
    private volatile SocketAddress? _selected;
    private DtlsDatagramTransport? _dtlsTransport;
    private DtlsTransport? _dtls;
    private volatile SrtpContext? _srtpIn;
    private volatile SrtpContext? _srtpOut;
    private long _lastConsentTicks;
    private Task _receiveLoop = Task.CompletedTask;
    private Task _monitor = Task.CompletedTask;
    private Task _dtlsTask = Task.CompletedTask;
    private int _answered;
    private int _disposed;

    public WebRtcPeer(WebRtcOptions? options = null, ILogger<WebRtcPeer>? logger = null, TimeProvider? timeProvider = null)
    {
        _options = options ?? new WebRtcOptions();
        _options.Validate();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _jitter = new JitterBuffer(_options.JitterDepth);
        _encoder = new OpusEncoder(SampleRate48, 1, _options.OpusBitrate);
        _downsampled = new short[_downsampler.MaxOutputSamples(_decoded.Length)];
        _upsampled = new short[_upsampler.MaxOutputSamples(16000 * 120 / 1000)];
        _received = Channel.CreateBounded<AudioChunk>(
            new BoundedChannelOptions(_options.ReceiveQueueChunks) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = false },
            static dropped => dropped.Dispose());
        LocalSsrc = (uint)RandomNumberGenerator.GetInt32(1, int.MaxValue);
        _sequence = (ushort)RandomNumberGenerator.GetInt32(0, 65536);
        _timestamp = (uint)RandomNumberGenerator.GetInt32(0, int.MaxValue);
    }

    /// <summary>16 kHz mono PCM16 from the browser, ~20 ms per chunk. The reader owns (and disposes) each chunk.</summary>
    public ChannelReader<AudioChunk> ReceivedAudio => _received.Reader;

    /// <summary>Completes when ICE and the DTLS handshake are done and media can flow.</summary>
    public Task Connected => _connected.Task;

    /// <summary>Completes with the reason when the peer is closed (disposed, consent lost, RTCP BYE, handshake failure).</summary>
    public Task<string> Closed => _closed.Task;

    public bool IsConnected => _srtpOut is not null && !_closed.Task.IsCompleted;

    /// <summary>The bound UDP endpoint (after <see cref="CreateAnswerAsync"/>).</summary>
    public IPEndPoint? LocalEndPoint => _socket?.LocalEndPoint as IPEndPoint;

    /// <summary>The browser's address of the selected candidate pair (null until ICE picks one).</summary>
    public IPEndPoint? RemoteEndPoint => _selected is { } selected ? (IPEndPoint)new IPEndPoint(IPAddress.Any, 0).Create(selected) : null;

    /// <summary>SSRC of the audio this peer sends.</summary>
    public uint LocalSsrc { get; }

    /// <summary>RTP packets received and accepted (after SRTP authentication).</summary>
    public long PacketsReceived { get; private set; }

    /// <summary>RTP packets sent.</summary>
    public long PacketsSent => Interlocked.Read(ref _packetsSent);

    /// <summary>Received packets declared lost and concealed by the jitter buffer.</summary>
    public long PacketsConcealed => _jitter.Lost;

    /// <summary>
    /// Parses the browser's offer, binds the UDP socket, starts ICE-lite/DTLS and returns the answer SDP.
    /// Throws <see cref="SdpException"/> when the offer lacks an Opus audio section, ICE credentials or a DTLS fingerprint.
    /// </summary>
    public Task<string> CreateAnswerAsync(string offerSdp, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var offer = SdpOffer.Parse(offerSdp);
        var audio = offer.Audio ?? throw new SdpException("The offer has no audio m= section offering opus/48000.");
        if (string.IsNullOrEmpty(audio.IceUfrag) || string.IsNullOrEmpty(audio.IcePwd))
        {
            throw new SdpException("The offer's audio section has no a=ice-ufrag / a=ice-pwd.");
        }

        if (audio.FingerprintAlgorithm != "sha-256" || string.IsNullOrEmpty(audio.Fingerprint))
        {
            throw new SdpException("The offer has no a=fingerprint:sha-256 (DTLS certificate fingerprint).");
        }

        if (audio.Setup is "passive")
        {
            throw new SdpException("The offer's a=setup:passive is not supported: this server is always DTLS passive (server).");
        }

        if (!audio.RtcpMux)
        {
            throw new SdpException("The offer's audio section lacks a=rtcp-mux, which this server requires.");
        }

        if (Interlocked.Exchange(ref _answered, 1) != 0)
        {
            throw new InvalidOperationException("CreateAnswerAsync was already called; renegotiation is not supported (create a new WebRtcPeer).");
        }

        _remote = audio;
        _payloadType = audio.OpusPayloadType!.Value;
        _remoteSsrc = audio.Ssrc;
        _localUfrag = RandomToken(8);
        var pwd = RandomToken(24);
        _localPwd = Encoding.ASCII.GetBytes(pwd);
        _expectedUsername = Encoding.ASCII.GetBytes($"{_localUfrag}:{audio.IceUfrag}");
        _certificate = _options.Certificate ?? DtlsCertificate.Generate(_time);

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(new IPEndPoint(_options.EffectiveBindAddress, _options.Port));
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new InvalidOperationException($"Binding the WebRTC UDP socket to {_options.EffectiveBindAddress}:{_options.Port} failed: {ex.Message}", ex);
        }

        _socket = socket;
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        _lastConsentTicks = _time.GetTimestamp();
        _dtlsTransport = new DtlsDatagramTransport(SendDtls);
        _receiveLoop = Task.Run(() => ReceiveLoopAsync(_stop.Token), CancellationToken.None);
        _monitor = Task.Run(() => MonitorAsync(_stop.Token), CancellationToken.None);
        var answer = SdpAnswer.Build(
            offer, audio, _localUfrag, pwd, _certificate.Sha256Fingerprint, LocalSsrc, _options.CandidateAddresses.ToArray(), port,
            RandomNumberGenerator.GetInt32(1, int.MaxValue));
        Log.Answered(_logger, port, audio.Mid ?? "-", _payloadType);
        return Task.FromResult(answer);
    }

    /// <summary>
    /// Encodes and sends 16 kHz mono PCM16 (normally one 20 ms frame of 320 samples; any length up to 120 ms is accepted and
    /// split into 20 ms Opus packets at 48 kHz). Audio given before the connection is up is dropped.
    /// </summary>
    public async ValueTask SendAsync(ReadOnlyMemory<short> pcm16k, CancellationToken cancellationToken)
    {
        if (pcm16k.Length > _upsampled.Length / 3 - 8)
        {
            throw new ArgumentException($"At most 120 ms ({16000 * 120 / 1000} samples at 16 kHz) per call; got {pcm16k.Length}.", nameof(pcm16k));
        }

        var srtp = _srtpOut;
        var target = _selected;
        if (srtp is null || target is null || _closed.Task.IsCompleted || pcm16k.IsEmpty)
        {
            return;
        }

        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = _time.GetTimestamp();
            if (_lastSendTicks != 0)
            {
                var gap = _time.GetElapsedTime(_lastSendTicks, now);
                if (gap > TimeSpan.FromMilliseconds(200))
                {
                    // A pause: keep the RTP clock in step with the wall clock and flag the new talkspurt.
                    _timestamp += (uint)(gap.TotalSeconds * SampleRate48) / Frame48 * Frame48;
                    _talkspurtStart = true;
                }
            }

            _lastSendTicks = now;
            var produced = _upsampler.Process(pcm16k.Span, _upsampled);
            var space = _pending48.Length - _pendingCount;
            if (produced > space)
            {
                // The caller sent faster than it could be packetised: keep the newest audio.
                _pendingCount = 0;
                produced = Math.Min(produced, _pending48.Length);
            }

            _upsampled.AsSpan(0, produced).CopyTo(_pending48.AsSpan(_pendingCount));
            _pendingCount += produced;
            while (_pendingCount >= Frame48)
            {
                var length = BuildRtp(srtp);
                _pending48.AsSpan(Frame48, _pendingCount - Frame48).CopyTo(_pending48);
                _pendingCount -= Frame48;
                await _socket!.SendToAsync(_sendBuffer.AsMemory(0, length), SocketFlags.None, target, cancellationToken).ConfigureAwait(false);
                if (_packetsSent % 250 == 1)
                {
                    await SendSenderReportAsync(srtp, target, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (SocketException ex)
        {
            Log.SendFailed(_logger, ex.SocketErrorCode.ToString());
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private int BuildRtp(SrtpContext srtp)
    {
        const int header = RtpPacket.FixedHeaderLength;
        var payload = _encoder.Encode(_pending48.AsSpan(0, Frame48), _sendBuffer.AsSpan(header, _sendBuffer.Length - header - SrtpContext.TagLength));
        RtpPacket.WriteHeader(_sendBuffer, _talkspurtStart, (byte)_payloadType, _sequence, _timestamp, LocalSsrc);
        _talkspurtStart = false;
        _sequence++;
        _timestamp += Frame48;
        Interlocked.Increment(ref _packetsSent);
        _octetsSent += payload;
        return srtp.ProtectRtp(_sendBuffer, header + payload);
    }

    /// <summary>An RTCP sender report (RFC 3550 6.4.1) so the browser can sync and report; sent every ~5 s of audio.</summary>
    private async ValueTask SendSenderReportAsync(SrtpContext srtp, SocketAddress target, CancellationToken cancellationToken)
    {
        var buffer = _rtcpBuffer;
        buffer[0] = 0x80;
        buffer[1] = 200;
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), 6);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(4), LocalSsrc);
        var unix = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var ntpSeconds = (ulong)(unix / 1000) + 2208988800UL;
        var ntpFraction = (ulong)(unix % 1000) * 0x100000000UL / 1000;
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(8), (uint)ntpSeconds);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(12), (uint)ntpFraction);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(16), _timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(20), (uint)_packetsSent);
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(24), (uint)_octetsSent);
        var length = srtp.ProtectRtcp(buffer, 28);
        await _socket!.SendToAsync(buffer.AsMemory(0, length), SocketFlags.None, target, cancellationToken).ConfigureAwait(false);
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        var socket = _socket!;
        var from = new SocketAddress(AddressFamily.InterNetwork);
        while (!cancellationToken.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await socket.ReceiveFromAsync(_receiveBuffer.AsMemory(0, MaxDatagram), SocketFlags.None, from, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize)
            {
                continue;
            }
            catch (SocketException ex)
            {
                Close($"UDP receive failed: {ex.SocketErrorCode}", failure: true);
                return;
            }

            if (length == 0)
            {
                continue;
            }

            try
            {
                Dispatch(_receiveBuffer.AsSpan(0, length), from);
            }
            catch (Exception ex) when (ex is OpusException or ArgumentException)
            {
                Log.PacketDropped(_logger, ex.Message);
            }
        }
    }

    /// <summary>RFC 7983 demultiplexing by the first byte.</summary>
    private void Dispatch(Span<byte> packet, SocketAddress from)
    {
        var first = packet[0];
        if (first <= 3)
        {
            HandleStun(packet, from);
        }
        else if (first is >= 20 and <= 63)
        {
            if (_selected is { } selected && selected.Equals(from))
            {
                _dtlsTransport?.Deliver(packet);
            }
        }
        else if (first is >= 128 and <= 191)
        {
            if (_srtpIn is null || _selected is not { } selected || !selected.Equals(from))
            {
                return;
            }

            if (RtpPacket.IsRtcp(packet))
            {
                HandleRtcp(packet);
            }
            else
            {
                HandleRtp(packet);
            }
        }
    }

    private void HandleStun(Span<byte> packet, SocketAddress from)
    {
        if (!Stun.TryParse(packet, out var message) || message.Type != Stun.BindingRequest)
        {
            return;
        }

        if (!message.Username(packet).SequenceEqual(_expectedUsername)
            || !Stun.VerifyIntegrity(packet, message, _localPwd)
            || !Stun.VerifyFingerprint(packet, message))
        {
            Log.StunRejected(_logger);
            return;
        }

        var endpoint = (IPEndPoint)new IPEndPoint(IPAddress.Any, 0).Create(from);

        // A peer bound to loopback serves this machine only: checks from the host's other addresses are not answered,
        // so the browser settles on its loopback candidate and media never leaves 127.0.0.0/8.
        if (_socket?.LocalEndPoint is IPEndPoint { } local && IPAddress.IsLoopback(local.Address) && !IPAddress.IsLoopback(endpoint.Address))
        {
            return;
        }

        var length = Stun.WriteBindingSuccess(packet, endpoint, _localPwd, _stunResponse);
        try
        {
            _socket!.SendTo(_stunResponse.AsSpan(0, length), SocketFlags.None, from);
        }
        catch (SocketException ex)
        {
            Log.SendFailed(_logger, ex.SocketErrorCode.ToString());
            return;
        }

        _lastConsentTicks = _time.GetTimestamp();
        var current = _selected;
        if (current is null || (message.UseCandidate && !current.Equals(from)))
        {
            var copy = new SocketAddress(from.Family, from.Size);
            from.Buffer.Span[..from.Size].CopyTo(copy.Buffer.Span);
            _selected = copy;
            Log.PairSelected(_logger, endpoint.ToString(), message.UseCandidate);
            if (current is null)
            {
                _dtlsTask = Task.Factory.StartNew(RunDtls, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }
        }
    }

    private void SendDtls(ReadOnlySpan<byte> datagram)
    {
        if (_selected is { } target && _socket is { } socket)
        {
            try
            {
                socket.SendTo(datagram, SocketFlags.None, target);
            }
            catch (SocketException ex)
            {
                Log.SendFailed(_logger, ex.SocketErrorCode.ToString());
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private void RunDtls()
    {
        var transport = _dtlsTransport!;
        try
        {
            var server = new DtlsSrtpServer(_certificate!, _remote!.Fingerprint!, message => Log.DtlsTrace(_logger, message));
            var dtls = new DtlsServerProtocol().Accept(server, transport);
            var keys = server.Keys ?? throw new InvalidOperationException("DTLS finished without SRTP keys.");
            _dtls = dtls;
            _srtpIn = new SrtpContext(keys.ClientKey, keys.ClientSalt);
            _srtpOut = new SrtpContext(keys.ServerKey, keys.ServerSalt);
            Log.Connected(_logger);
            _connected.TrySetResult();

            // Keep reading so that alerts (close_notify) are processed; DTLS application data is not used.
            var buffer = new byte[2048];
            while (!_stop.IsCancellationRequested)
            {
                dtls.Receive(buffer, 0, buffer.Length, 1000);
            }
        }
        catch (TlsFatalAlert alert) when (_stop.IsCancellationRequested || alert.AlertDescription == AlertDescription.close_notify)
        {
            Close("DTLS closed");
        }
        catch (TlsFatalAlertReceived received)
        {
            Close($"DTLS alert from the browser: {AlertDescription.GetText(received.AlertDescription)}", failure: true);
        }
        catch (Exception ex) when (ex is TlsException or IOException or InvalidOperationException)
        {
            Close($"DTLS failed: {ex.Message}", failure: true);
        }
    }

    private void HandleRtcp(Span<byte> packet)
    {
        var length = _srtpIn!.UnprotectRtcp(packet, packet.Length);
        if (length < 0)
        {
            return;
        }

        // Walk the compound packet; a BYE (203) from the browser ends the session.
        var offset = 0;
        while (offset + 4 <= length)
        {
            if (packet[offset + 1] == 203)
            {
                Close("RTCP BYE from the browser");
                return;
            }

            offset += 4 * (BinaryPrimitives.ReadUInt16BigEndian(packet[(offset + 2)..]) + 1);
        }
    }

    private void HandleRtp(Span<byte> packet)
    {
        var length = _srtpIn!.UnprotectRtp(packet, packet.Length);
        if (length < 0)
        {
            return;
        }

        var rtp = packet[..length];
        if ((rtp[1] & 0x7F) != _payloadType)
        {
            return;
        }

        var ssrc = BinaryPrimitives.ReadUInt32BigEndian(rtp[8..]);
        _remoteSsrc ??= ssrc;
        if (ssrc != _remoteSsrc)
        {
            return;
        }

        var header = RtpPacket.HeaderLength(rtp);
        var end = RtpPacket.PayloadEnd(rtp, header);
        if (header < 0 || end <= header)
        {
            return;
        }

        PacketsReceived++;
        _jitter.Insert(BinaryPrimitives.ReadUInt16BigEndian(rtp[2..]), rtp[header..end]);
        while (true)
        {
            var result = _jitter.TryTake(out var payload);
            int samples;
            if (result == JitterResult.Packet)
            {
                samples = _decoder.Decode(payload, _decoded);
                _lastFrameSamples = samples;
            }
            else if (result == JitterResult.Lost)
            {
                samples = _decoder.DecodeLoss(_decoded, _lastFrameSamples);
            }
            else
            {
                break;
            }

            var produced = _downsampler.Process(_decoded.AsSpan(0, samples), _downsampled);
            if (produced > 0)
            {
                var chunk = AudioChunk.CopyOf(_downsampled.AsSpan(0, produced), 16000);
                if (!_received.Writer.TryWrite(chunk))
                {
                    chunk.Dispose();
                }
            }
        }
    }

    private async Task MonitorAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), _time, cancellationToken).ConfigureAwait(false);
                if (!_connected.Task.IsCompleted && _time.GetElapsedTime(started) > _options.ConnectTimeout)
                {
                    Close($"not connected within {_options.ConnectTimeout.TotalSeconds:0} s (ICE/DTLS)", failure: true);
                    return;
                }

                if (_time.GetElapsedTime(Interlocked.Read(ref _lastConsentTicks)) > _options.ConsentTimeout)
                {
                    Close($"no STUN consent for {_options.ConsentTimeout.TotalSeconds:0} s", failure: true);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <param name="failure">ICE, DTLS or consent failed (logged as a warning); otherwise an orderly end.</param>
    private void Close(string reason, bool failure = false)
    {
        if (_closed.TrySetResult(reason))
        {
            if (failure)
            {
                Log.Failed(_logger, reason);
            }
            else
            {
                Log.Closed(_logger, reason);
            }

            _connected.TrySetException(new InvalidOperationException($"The WebRTC peer closed before connecting: {reason}"));
            _ = _connected.Task.Exception; // observed
            _stop.Cancel();
            _dtlsTransport?.Close();
            _received.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Close("disposed");
        try
        {
            _dtls?.Close();
        }
        catch (Exception ex) when (ex is TlsException or IOException)
        {
        }

        _socket?.Dispose();
        await Task.WhenAll(_receiveLoop, _monitor, _dtlsTask).ConfigureAwait(false);
        await _sendLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        _encoder.Dispose();
        _decoder.Dispose();
        _srtpIn?.Dispose();
        _srtpOut?.Dispose();
        while (_received.Reader.TryRead(out var chunk))
        {
            chunk.Dispose();
        }
    }

    private static string RandomToken(int length)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        return RandomNumberGenerator.GetString(alphabet, length);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "WebRTC answer ready on UDP port {Port} (mid {Mid}, Opus payload type {PayloadType})")]
        public static partial void Answered(ILogger logger, int port, string mid, int payloadType);

        [LoggerMessage(2, LogLevel.Debug, "ICE candidate pair selected: remote {Remote} (USE-CANDIDATE {Nominated})")]
        public static partial void PairSelected(ILogger logger, string remote, bool nominated);

        [LoggerMessage(3, LogLevel.Information, "WebRTC peer connected (DTLS-SRTP established)")]
        public static partial void Connected(ILogger logger);

        [LoggerMessage(4, LogLevel.Information, "WebRTC peer closed: {Reason}")]
        public static partial void Closed(ILogger logger, string reason);

        [LoggerMessage(10, LogLevel.Warning, "WebRTC peer failed: {Reason}")]
        public static partial void Failed(ILogger logger, string reason);

        [LoggerMessage(6, LogLevel.Debug, "STUN request rejected (username, integrity or fingerprint mismatch)")]
        public static partial void StunRejected(ILogger logger);

        [LoggerMessage(7, LogLevel.Debug, "UDP send failed: {Error}")]
        public static partial void SendFailed(ILogger logger, string error);

        [LoggerMessage(9, LogLevel.Debug, "DTLS: {Message}")]
        public static partial void DtlsTrace(ILogger logger, string message);

        [LoggerMessage(8, LogLevel.Debug, "Media packet dropped: {Error}")]
        public static partial void PacketDropped(ILogger logger, string error);
    }
}
