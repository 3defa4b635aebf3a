using System.Collections.Concurrent;
using System.Security.Cryptography;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Operators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using Org.BouncyCastle.X509;

namespace Parley.Rtc.WebRtc;

/// <summary>A self-signed ECDSA P-256 certificate for DTLS, with its SHA-256 fingerprint as SDP carries it.</summary>
public sealed class DtlsCertificate
{
    private DtlsCertificate(X509Certificate certificate, AsymmetricKeyParameter privateKey)
    {
        Certificate = certificate;
        PrivateKey = privateKey;
        Sha256Fingerprint = FormatFingerprint(SHA256.HashData(certificate.GetEncoded()));
    }

    internal X509Certificate Certificate { get; }

    internal AsymmetricKeyParameter PrivateKey { get; }

    /// <summary>Upper-case hex pairs separated by colons, e.g. "AB:CD:...".</summary>
    public string Sha256Fingerprint { get; }

    /// <summary>Generates a fresh key pair and a certificate valid from yesterday for 30 days.</summary>
    public static DtlsCertificate Generate(TimeProvider? timeProvider = null)
    {
        var random = new SecureRandom();
        // Named-curve parameters (OID prime256v1): browsers reject certificates whose key carries explicit curve parameters.
        var generator = new ECKeyPairGenerator();
        generator.Init(new ECKeyGenerationParameters(X9ObjectIdentifiers.Prime256v1, random));
        var pair = generator.GenerateKeyPair();

        var now = (timeProvider ?? TimeProvider.System).GetUtcNow().UtcDateTime;
        var builder = new X509V3CertificateGenerator();
        var name = new X509Name("CN=parley");
        builder.SetSerialNumber(new BigInteger(64, random).Add(BigInteger.One));
        builder.SetIssuerDN(name);
        builder.SetSubjectDN(name);
        builder.SetNotBefore(now.AddDays(-1));
        builder.SetNotAfter(now.AddDays(30));
        builder.SetPublicKey(pair.Public);
        var certificate = builder.Generate(new Asn1SignatureFactory("SHA256WITHECDSA", pair.Private, random));
        return new DtlsCertificate(certificate, pair.Private);
    }

    public static string FormatFingerprint(ReadOnlySpan<byte> hash) => string.Join(':', hash.ToArray().Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
}

/// <summary>The SRTP keys exported from a finished DTLS-SRTP handshake (RFC 5764 4.2), from the server's point of view.</summary>
internal sealed record SrtpKeys(byte[] ClientKey, byte[] ClientSalt, byte[] ServerKey, byte[] ServerSalt);

/// <summary>
/// BouncyCastle DTLS 1.2 server for DTLS-SRTP: ECDSA credentials, requires the client's certificate and checks its SHA-256
/// fingerprint against the offer's a=fingerprint, negotiates use_srtp with SRTP_AES128_CM_HMAC_SHA1_80 and exports keys.
/// </summary>
internal sealed class DtlsSrtpServer : DefaultTlsServer
{
    private readonly DtlsCertificate _certificate;
    private readonly string _expectedFingerprint;
    private int[] _clientProfiles = [];

    private readonly Action<string>? _trace;

    public DtlsSrtpServer(DtlsCertificate certificate, string expectedSha256Fingerprint, Action<string>? trace = null)
        : base(new BcTlsCrypto(new SecureRandom()))
    {
        _trace = trace;
        _certificate = certificate;
        _expectedFingerprint = expectedSha256Fingerprint;
    }

    public SrtpKeys? Keys { get; private set; }

    protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.DTLSv12.Only();

    protected override int[] GetSupportedCipherSuites() =>
    [
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
    ];

    /// <summary>
    /// Picks the client's first classic ECDHE group. Chrome lists X25519MLKEM768 first, a TLS 1.3-only hybrid group that
    /// must not appear in a DTLS 1.2 ServerKeyExchange (Chrome answers it with decode_error).
    /// </summary>
    protected override int SelectECDH(int minimumCurveBits)
    {
        var client = m_context.SecurityParameters.ClientSupportedGroups;
        if (client is null)
        {
            return base.SelectECDH(minimumCurveBits);
        }

        foreach (var group in client)
        {
            if (group is NamedGroup.x25519 or NamedGroup.secp256r1 or NamedGroup.secp384r1 && NamedGroup.GetCurveBits(group) >= minimumCurveBits)
            {
                return group;
            }
        }

        return -1;
    }

    protected override TlsCredentialedSigner GetECDsaSignerCredentials()
    {
        var chain = new Certificate([new BcTlsCertificate((BcTlsCrypto)Crypto, _certificate.Certificate.CertificateStructure)]);
        return new BcDefaultTlsCredentialedSigner(
            new TlsCryptoParameters(m_context), (BcTlsCrypto)Crypto, _certificate.PrivateKey, chain,
            new SignatureAndHashAlgorithm(Org.BouncyCastle.Tls.HashAlgorithm.sha256, SignatureAlgorithm.ecdsa));
    }

    public override CertificateRequest GetCertificateRequest()
    {
        var algorithms = new List<SignatureAndHashAlgorithm>
        {
            new(Org.BouncyCastle.Tls.HashAlgorithm.sha256, SignatureAlgorithm.ecdsa),
            new(Org.BouncyCastle.Tls.HashAlgorithm.sha384, SignatureAlgorithm.ecdsa),
            new(Org.BouncyCastle.Tls.HashAlgorithm.sha256, SignatureAlgorithm.rsa),
            SignatureAndHashAlgorithm.rsa_pss_rsae_sha256,
        };
        return new CertificateRequest([ClientCertificateType.ecdsa_sign, ClientCertificateType.rsa_sign], algorithms, null);
    }

    public override void NotifyClientCertificate(Certificate clientCertificate)
    {
        if (clientCertificate is null || clientCertificate.IsEmpty)
        {
            throw new TlsFatalAlert(AlertDescription.handshake_failure);
        }

        var encoded = clientCertificate.GetCertificateAt(0).GetEncoded();
        var actual = DtlsCertificate.FormatFingerprint(SHA256.HashData(encoded));
        if (!string.Equals(actual, _expectedFingerprint, StringComparison.OrdinalIgnoreCase))
        {
            throw new TlsFatalAlert(AlertDescription.bad_certificate);
        }
    }

    public override void ProcessClientExtensions(IDictionary<int, byte[]> clientExtensions)
    {
        base.ProcessClientExtensions(clientExtensions);
        _trace?.Invoke("client groups: " + string.Join(',', TlsExtensionsUtilities.GetSupportedGroupsExtension(clientExtensions) ?? []));
        var useSrtp = TlsSrtpUtilities.GetUseSrtpExtension(clientExtensions);
        _clientProfiles = useSrtp?.ProtectionProfiles ?? [];
        if (!_clientProfiles.Contains(SrtpProtectionProfile.SRTP_AES128_CM_HMAC_SHA1_80))
        {
            throw new TlsFatalAlert(AlertDescription.handshake_failure);
        }
    }

    public override IDictionary<int, byte[]> GetServerExtensions()
    {
        var extensions = base.GetServerExtensions();
        TlsSrtpUtilities.AddUseSrtpExtension(extensions, new UseSrtpData([SrtpProtectionProfile.SRTP_AES128_CM_HMAC_SHA1_80], TlsUtilities.EmptyBytes));
        return extensions;
    }

    public override void NotifyAlertRaised(short alertLevel, short alertDescription, string message, Exception cause) =>
        _trace?.Invoke($"DTLS alert raised: {AlertDescription.GetText(alertDescription)} {message} {cause?.Message}");

    public override void NotifyAlertReceived(short alertLevel, short alertDescription) =>
        _trace?.Invoke($"DTLS alert received: {AlertDescription.GetText(alertDescription)} (cipher suite 0x{m_selectedCipherSuite:X4})");

    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        const int keyLength = SrtpContext.MasterKeyLength;
        const int saltLength = SrtpContext.MasterSaltLength;
        var material = m_context.ExportKeyingMaterial(ExporterLabel.dtls_srtp, null, 2 * (keyLength + saltLength));
        Keys = new SrtpKeys(
            material[..keyLength],
            material[(2 * keyLength)..((2 * keyLength) + saltLength)],
            material[keyLength..(2 * keyLength)],
            material[((2 * keyLength) + saltLength)..]);
    }
}

/// <summary>
/// Adapts the peer's UDP socket to BouncyCastle's <see cref="DatagramTransport"/>: DTLS records arrive through
/// <see cref="Deliver"/> from the receive loop; sends go to the selected remote endpoint.
/// </summary>
internal sealed class DtlsDatagramTransport(Action<ReadOnlySpan<byte>> send) : DatagramTransport
{
    private const int Mtu = 1200;
    private readonly BlockingCollection<byte[]> _incoming = new(new ConcurrentQueue<byte[]>(), 64);
    private volatile bool _closed;

    public void Deliver(ReadOnlySpan<byte> record)
    {
        if (!_closed)
        {
            _incoming.TryAdd(record.ToArray());
        }
    }

    public int GetReceiveLimit() => 1500;

    public int GetSendLimit() => Mtu;

    public int Receive(byte[] buf, int off, int len, int waitMillis) => Receive(buf.AsSpan(off, len), waitMillis);

    public int Receive(Span<byte> buffer, int waitMillis)
    {
        if (_closed)
        {
            throw new TlsFatalAlert(AlertDescription.close_notify);
        }

        try
        {
            if (!_incoming.TryTake(out var record, waitMillis <= 0 ? Timeout.Infinite : waitMillis))
            {
                return -1;
            }

            var length = Math.Min(record.Length, buffer.Length);
            record.AsSpan(0, length).CopyTo(buffer);
            return length;
        }
        catch (ObjectDisposedException)
        {
            throw new TlsFatalAlert(AlertDescription.close_notify);
        }
        catch (InvalidOperationException)
        {
            throw new TlsFatalAlert(AlertDescription.close_notify);
        }
    }

    public void Send(byte[] buf, int off, int len) => Send(buf.AsSpan(off, len));

    public void Send(ReadOnlySpan<byte> buffer)
    {
        if (!_closed)
        {
            send(buffer);
        }
    }

    public void Close()
    {
        _closed = true;
        _incoming.CompleteAdding();
    }
}
