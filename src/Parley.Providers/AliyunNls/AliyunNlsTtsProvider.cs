using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;
using Parley.Providers.Net;

namespace Parley.Providers.AliyunNls;

/// <summary>
/// The <c>Aliyun</c> TTS vendor: Alibaba Intelligent Speech Interaction speech synthesis (SpeechSynthesizer) over the
/// NLS WebSocket gateway, Params as ZEGO documents them (<see cref="AliyunNlsParams"/>), the token from
/// <c>app.ak_id</c>/<c>app.ak_key</c> through CreateToken (<see cref="AliyunNlsTokenClient"/>, cached) or
/// <c>app.token</c>. Each pushed text (a sentence; NLS takes at most 300 characters per task) is one task on its own
/// connection; subtitles become <see cref="WordTiming"/>s. A task refused for its token (40000001) before any audio
/// is retried once with a new token.
/// </summary>
public sealed partial class AliyunNlsTtsProvider : ITextToSpeech, IDisposable
{
    public const string VendorName = "Aliyun";

    private static readonly TtsCapabilities SentenceCapabilities = new(StreamingText: false, WordTimings: true, NativeSampleRate: AliyunNlsParams.DefaultSampleRate);

    private readonly AliyunNlsTokenClient _tokens;
    private readonly HttpMessageInvoker _invoker;
    private readonly HttpMessageInvoker _agentInvoker;
    private readonly OutboundPolicy _policy;
    private readonly ILogger _logger;
    private readonly AliyunNlsSpares _spares;
    private long _connections;

    public AliyunNlsTtsProvider(AliyunNlsOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, OutboundPolicy? policy = null)
    {
        Options = options ?? new AliyunNlsOptions();
        Options.Validate();
        Endpoint = new Uri(Options.Url);
        Time = time ?? TimeProvider.System;
        _policy = policy ?? OutboundPolicy.Default;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<AliyunNlsTtsProvider>();
        _tokens = new AliyunNlsTokenClient(Options, Time, loggerFactory, _policy);
        _invoker = new HttpMessageInvoker(_policy.CreateHandler(UrlOrigin.Operator));
        _agentInvoker = new HttpMessageInvoker(_policy.CreateHandler(UrlOrigin.Agent));
        _spares = new AliyunNlsSpares(Time, Options.SpareLifetime);
    }

    public AliyunNlsOptions Options { get; }

    public Uri Endpoint { get; }

    public TimeProvider Time { get; }

    public AliyunNlsTokenClient Tokens => _tokens;

    /// <summary>Gateway connections opened so far.</summary>
    public long ConnectionsOpened => Interlocked.Read(ref _connections);

    /// <summary>Syntheses that started on the connection opened ahead for them (no handshake on the way to the first audio).</summary>
    public long SparesUsed => _spares.Used;

    public string Name => VendorName;

    public TtsCapabilities Capabilities => SentenceCapabilities;

    public string? Validate(JsonObject? parameters) => AliyunNlsParams.Error(parameters);

    public string? ValidateConfiguration(JsonObject? parameters) => AliyunNlsParams.ConfigurationError(parameters);

    public ITtsStream Open(TtsRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var parameters = request.ResolveParameters();
        if (Validate(parameters) is { } error)
        {
            throw new ArgumentException(error, nameof(request));
        }

        return new Stream(this, parameters!, request.Endpoint);
    }

    public void Dispose()
    {
        _spares.Dispose();
        _tokens.Dispose();
        _invoker.Dispose();
        _agentInvoker.Dispose();
    }

    private async Task SpeakAsync(JsonObject parameters, Uri? endpoint, string text, AliyunNlsSynthesis.Offsets offsets, ChannelWriter<TtsAudio> audio, AliyunNlsSynthesis.Progress progress, CancellationToken cancellationToken)
    {
        var appKey = AliyunNlsParams.AppKey(parameters);
        var given = AliyunNlsParams.Token(parameters);
        var rate = AliyunNlsParams.SampleRate(parameters);
        var agent = endpoint is not null;
        var baseUri = agent ? VendorUrls.AgentWebSocket(endpoint!, _policy) : Endpoint;
        for (var attempt = 0; ; attempt++)
        {
            string token;
            if (given is not null)
            {
                token = given;
            }
            else
            {
                var (id, secret) = AliyunNlsParams.AccessKey(parameters);
                token = await _tokens.GetTokenAsync(id, secret, cancellationToken).ConfigureAwait(false);
            }

            var builder = new UriBuilder(baseUri);
            var query = builder.Query.TrimStart('?');
            builder.Query = (query.Length > 0 ? query + "&" : "") + "token=" + Uri.EscapeDataString(token);
            var uri = builder.Uri;
            var invoker = agent ? _agentInvoker : _invoker;
            var key = (agent ? "agent|" : "operator|") + uri.AbsoluteUri;
            Task<TtsVendorSocket> Connect(CancellationToken connectToken)
            {
                Interlocked.Increment(ref _connections);
                return TtsVendorSocket.ConnectAsync(
                    VendorName, uri, invoker, [], "TTS.Params.app (app_key, ak_id, ak_key)",
                    Options.ConnectTimeout, Options.MaxMessageBytes, Time, Fail, connectToken);
            }

            var spare = attempt == 0 ? await _spares.TakeAsync(key, cancellationToken).ConfigureAwait(false) : null;
            using var socket = spare ?? await Connect(cancellationToken).ConfigureAwait(false);

            // The next sentence's connection opens while this one is synthesised and played.
            _spares.Prepare(key, Connect);
            var start = AliyunNlsParams.StartSynthesis(parameters, appKey, Guid.NewGuid().ToString("N"), text);
            try
            {
                await AliyunNlsSynthesis.RunAsync(socket, start, token, rate, offsets, text.Length, audio, progress, Options.ResponseTimeout, Time, cancellationToken).ConfigureAwait(false);
                await socket.CloseAsync(TimeSpan.FromSeconds(1), Time).ConfigureAwait(false);
                return;
            }
            catch (AliyunNlsException ex) when (ex.ErrorCode == "Unauthorized" && given is null && attempt == 0 && !progress.Audio)
            {
                // The cached token was revoked or expired early: nothing was heard yet, so ask for a new one once.
                var (id, secret) = AliyunNlsParams.AccessKey(parameters);
                _tokens.Invalidate(id, secret);
                LogTokenRetry(_logger);
            }
            catch (AliyunNlsException) when (spare is not null && attempt == 0 && !progress.Audio)
            {
                // The connection opened ahead may have been closed by the gateway meanwhile: once more on a new one.
                LogSpareRetry(_logger);
            }
        }
    }

    private static Exception Fail(string message, string code, Exception? inner) => new AliyunNlsException(message, code, null, inner);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Aliyun NLS: the connection opened ahead failed before any audio; retrying on a new one")]
    private static partial void LogSpareRetry(ILogger logger);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Aliyun NLS refused the cached token; retrying with a new one")]
    private static partial void LogTokenRetry(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Aliyun NLS synthesis failed: {ErrorCode} (status {Status})")]
    private static partial void LogFailed(ILogger logger, string errorCode, int? status);

    /// <summary>The pushed texts in turn, one NLS task each; word timings count in the concatenated texts and the stream's audio.</summary>
    private sealed class Stream(AliyunNlsTtsProvider engine, JsonObject parameters, Uri? endpoint) : TtsStreamBase
    {
        protected override async Task RunAsync(ChannelReader<string> text, ChannelWriter<TtsAudio> audio, CancellationToken cancellationToken)
        {
            var textOffset = 0;
            long samples = 0;
            await foreach (var piece in text.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!string.IsNullOrWhiteSpace(piece))
                {
                    var progress = new AliyunNlsSynthesis.Progress();
                    try
                    {
                        await engine.SpeakAsync(parameters, endpoint, piece, new(textOffset, samples), audio, progress, cancellationToken).ConfigureAwait(false);
                    }
                    catch (AliyunNlsException ex)
                    {
                        LogFailed(engine._logger, ex.ErrorCode, ex.Status);
                        throw;
                    }

                    samples += progress.Samples;
                }

                textOffset += piece.Length;
            }
        }
    }
}
