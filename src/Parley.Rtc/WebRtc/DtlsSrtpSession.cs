using Microsoft.Extensions.Logging;
using Org.BouncyCastle.Tls;

namespace Parley.Rtc.WebRtc;

/// <summary>
/// The DTLS 1.2 server (passive, use_srtp) of one peer over the selected ICE pair, and the SRTP contexts its keys give:
/// <see cref="Inbound"/> (the browser's key) and <see cref="Outbound"/> (ours), both null until the handshake is done.
/// The handshake and the alert reader run on a dedicated thread (BouncyCastle's DTLS API is blocking).
/// </summary>
internal sealed class DtlsSrtpSession
{
    private readonly DtlsDatagramTransport _transport;
    private readonly DtlsCertificate _certificate;
    private readonly string _remoteFingerprint;
    private readonly ILogger _logger;
    private readonly Action _connected;
    private readonly Action<string, bool> _closed;
    private readonly CancellationToken _stop;
    private DtlsTransport? _dtls;
    private volatile SrtpContext? _inbound;
    private volatile SrtpContext? _outbound;
    private Task _run = Task.CompletedTask;

    /// <param name="send">Sends one DTLS datagram to the selected pair.</param>
    /// <param name="connected">Called once the SRTP keys are in place.</param>
    /// <param name="closed">Called with the reason when the session ends, and whether that is a failure.</param>
    public DtlsSrtpSession(
        DtlsCertificate certificate, string remoteFingerprint, Action<ReadOnlySpan<byte>> send, ILogger logger, Action connected, Action<string, bool> closed, CancellationToken stop)
    {
        _certificate = certificate;
        _remoteFingerprint = remoteFingerprint;
        _logger = logger;
        _connected = connected;
        _closed = closed;
        _stop = stop;
        _transport = new DtlsDatagramTransport(send);
    }

    public SrtpContext? Inbound => _inbound;

    public SrtpContext? Outbound => _outbound;

    /// <summary>Completes when the handshake thread has ended.</summary>
    public Task Completion => _run;

    /// <summary>A DTLS record from the selected pair (RFC 7983: first byte 20–63).</summary>
    public void Deliver(ReadOnlySpan<byte> record) => _transport.Deliver(record);

    /// <summary>Starts the handshake (once, when ICE selects the first pair).</summary>
    public void Start() => _run = Task.Factory.StartNew(Run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Wakes the handshake thread so that it ends (the peer is closing).</summary>
    public void Abort() => _transport.Close();

    /// <summary>Sends close_notify if connected and releases the SRTP contexts; call after <see cref="Completion"/>.</summary>
    public void CloseNotify()
    {
        try
        {
            _dtls?.Close();
        }
        catch (Exception ex) when (ex is TlsException or IOException)
        {
        }
    }

    public void DisposeKeys()
    {
        _inbound?.Dispose();
        _outbound?.Dispose();
    }

    private void Run()
    {
        try
        {
            var server = new DtlsSrtpServer(_certificate, _remoteFingerprint, message => WebRtcLog.DtlsTrace(_logger, message));
            var dtls = new DtlsServerProtocol().Accept(server, _transport);
            var keys = server.Keys ?? throw new InvalidOperationException("DTLS finished without SRTP keys.");
            _dtls = dtls;
            _inbound = new SrtpContext(keys.ClientKey, keys.ClientSalt);
            _outbound = new SrtpContext(keys.ServerKey, keys.ServerSalt);
            WebRtcLog.Connected(_logger);
            _connected();

            // Keep reading so that alerts (close_notify) are processed; DTLS application data is not used.
            var buffer = new byte[2048];
            while (!_stop.IsCancellationRequested)
            {
                dtls.Receive(buffer, 0, buffer.Length, 1000);
            }
        }
        catch (TlsFatalAlert alert) when (_stop.IsCancellationRequested || alert.AlertDescription == AlertDescription.close_notify)
        {
            _closed("DTLS closed", false);
        }
        catch (TlsFatalAlertReceived received)
        {
            _closed($"DTLS alert from the browser: {AlertDescription.GetText(received.AlertDescription)}", true);
        }
        catch (Exception ex) when (ex is TlsException or IOException or InvalidOperationException)
        {
            _closed($"DTLS failed: {ex.Message}", true);
        }
    }
}
