using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
    private int _payloadType;
    private IceLiteAgent? _ice;
    private DtlsSrtpSession? _dtls;
    private Task _receiveLoop = Task.CompletedTask;
    private Task _monitor = Task.CompletedTask;
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

    public bool IsConnected => _dtls?.Outbound is not null && !_closed.Task.IsCompleted;

    /// <summary>The bound UDP endpoint (after <see cref="CreateAnswerAsync"/>).</summary>
    public IPEndPoint? LocalEndPoint => _socket?.LocalEndPoint as IPEndPoint;

    /// <summary>The browser's address of the selected candidate pair (null until ICE picks one).</summary>
    public IPEndPoint? RemoteEndPoint => _ice?.Selected is { } selected ? (IPEndPoint)new IPEndPoint(IPAddress.Any, 0).Create(selected) : null;

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

        _payloadType = audio.OpusPayloadType!.Value;
        _remoteSsrc = audio.Ssrc;
        var ice = new IceLiteAgent(audio.IceUfrag!, _time, _logger);
        var certificate = _options.Certificate ?? DtlsCertificate.Generate(_time);

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
        _ice = ice;
        _dtls = new DtlsSrtpSession(certificate, audio.Fingerprint!, SendDtls, _logger, () => _connected.TrySetResult(), Close, _stop.Token);
        _receiveLoop = Task.Run(() => ReceiveLoopAsync(_stop.Token), CancellationToken.None);
        _monitor = Task.Run(() => MonitorAsync(_stop.Token), CancellationToken.None);
        var answer = SdpAnswer.Build(
            offer, audio, ice.LocalUfrag, ice.LocalPwd, certificate.Sha256Fingerprint, LocalSsrc, _options.CandidateAddresses.ToArray(), port,
            RandomNumberGenerator.GetInt32(1, int.MaxValue));
        WebRtcLog.Answered(_logger, port, audio.Mid ?? "-", _payloadType);
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

        var srtp = _dtls?.Outbound;
        var target = _ice?.Selected;
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
            WebRtcLog.SendFailed(_logger, ex.SocketErrorCode.ToString());
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
                WebRtcLog.PacketDropped(_logger, ex.Message);
            }
        }
    }

    /// <summary>RFC 7983 demultiplexing by the first byte.</summary>
    private void Dispatch(Span<byte> packet, SocketAddress from)
    {
        var first = packet[0];
        var ice = _ice!;
        if (first <= 3)
        {
            if (ice.HandleStun(packet, from, _socket!))
            {
                _dtls!.Start();
            }
        }
        else if (first is >= 20 and <= 63)
        {
            if (ice.IsSelected(from))
            {
                _dtls!.Deliver(packet);
            }
        }
        else if (first is >= 128 and <= 191)
        {
            if (_dtls!.Inbound is not { } srtp || !ice.IsSelected(from))
            {
                return;
            }

            if (RtpPacket.IsRtcp(packet))
            {
                HandleRtcp(packet, srtp);
            }
            else
            {
                HandleRtp(packet, srtp);
            }
        }
    }

    private void SendDtls(ReadOnlySpan<byte> datagram)
    {
        if (_ice?.Selected is { } target && _socket is { } socket)
        {
            try
            {
                socket.SendTo(datagram, SocketFlags.None, target);
            }
            catch (SocketException ex)
            {
                WebRtcLog.SendFailed(_logger, ex.SocketErrorCode.ToString());
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private void HandleRtcp(Span<byte> packet, SrtpContext srtp)
    {
        var length = srtp.UnprotectRtcp(packet, packet.Length);
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

    private void HandleRtp(Span<byte> packet, SrtpContext srtp)
    {
        var length = srtp.UnprotectRtp(packet, packet.Length);
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

                if (_ice!.SinceConsent > _options.ConsentTimeout)
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
                WebRtcLog.Failed(_logger, reason);
            }
            else
            {
                WebRtcLog.Closed(_logger, reason);
            }

            _connected.TrySetException(new InvalidOperationException($"The WebRTC peer closed before connecting: {reason}"));
            _ = _connected.Task.Exception; // observed
            _stop.Cancel();
            _dtls?.Abort();
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
        _dtls?.CloseNotify();
        _socket?.Dispose();
        await Task.WhenAll(_receiveLoop, _monitor).ConfigureAwait(false);
        if (_dtls is { } dtls)
        {
            await dtls.Completion.ConfigureAwait(false);
        }

        await _sendLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        _encoder.Dispose();
        _decoder.Dispose();
        _dtls?.DisposeKeys();
        while (_received.Reader.TryRead(out var chunk))
        {
            chunk.Dispose();
        }
    }
}
