using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;

namespace Parley.Providers.Volcengine;

/// <summary>
/// The <c>ByteDanceV3</c> TTS vendor: Volcengine's one-way streaming TTS over the V3 binary WebSocket protocol
/// (<c>wss://openspeech.bytedance.com/api/v3/tts/unidirectional/stream</c>). Headers <c>X-Api-App-Id</c>,
/// <c>X-Api-Access-Key</c>, <c>X-Api-Resource-Id</c> (default seed-tts-2.0), <c>X-Api-Connect-Id</c> from
/// <c>Params.app</c>; one full-client request per sentence (<c>req_params.text</c>, <c>speaker</c>,
/// <c>audio_params</c> pcm at <c>sample_rate</c>, default 24000), answered by TTSSentenceStart/TTSResponse audio/
/// TTSSentenceEnd and SessionFinished. Connections are pooled: the next sentence reuses one after SessionFinished.
/// </summary>
public sealed partial class ByteDanceV3TtsProvider(VolcConnectionPool pool, ILoggerFactory? loggerFactory = null) : SentenceTtsBase
{
    public const string VendorName = "ByteDanceV3";

    private static readonly TtsCapabilities SentenceCapabilities = new(StreamingText: false, WordTimings: false, NativeSampleRate: VolcTtsRequest.DefaultSampleRate);

    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ByteDanceV3TtsProvider>();

    public override string Name => VendorName;

    public override TtsCapabilities Capabilities => SentenceCapabilities;

    public override string? Validate(JsonObject? parameters) => VolcTtsRequest.Error(parameters, VendorName);

    public override string? ValidateConfiguration(JsonObject? parameters) => VolcTtsRequest.ConfigurationError(parameters, VendorName);

    protected override IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(string text, JsonObject? parameters, CancellationToken cancellationToken) =>
        SynthesizeSentenceAsync(text, parameters, null, cancellationToken);

    protected override async IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(
        string text, JsonObject? parameters, Uri? endpoint, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new VolcTtsRequest(parameters);
        var agentEndpoint = pool.AgentEndpoint(endpoint, webSocket: true);
        var uri = agentEndpoint ?? new Uri(pool.Options.TtsV3Url);
        var payload = new ArrayBufferWriter<byte>(512);
        request.Write(payload, 0, text, Guid.NewGuid().ToString("N"));
        var (socket, first) = await StartAsync(uri, agentEndpoint is not null, request, payload.WrittenMemory, cancellationToken).ConfigureAwait(false);
        var clean = false;
        try
        {
            var carry = -1;
            var frame = first;
            while (true)
            {
                if (frame.Type == VolcMessageType.Error || frame.Event is VolcEvent.SessionFailed)
                {
                    var failure = socket.Failure(frame);
                    LogFailed(_logger, failure.Code ?? 0, failure.Kind);
                    throw failure;
                }

                if (frame.Event == VolcEvent.TtsResponse || frame.Type == VolcMessageType.AudioOnlyServer)
                {
                    var chunk = VolcPcm.ToChunk(frame.Payload.Span, ref carry, request.SampleRate);
                    if (!chunk.IsEmpty)
                    {
                        yield return chunk;
                    }
                }
                else if (frame.Event == VolcEvent.SessionFinished)
                {
                    if (StatusError(socket, frame) is { } error)
                    {
                        throw error;
                    }

                    clean = true;
                    yield break;
                }

                frame = await pool.ReceiveWithinAsync(socket, "audio", cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            pool.Return(socket, clean);
        }
    }

    /// <summary>A SessionFinished whose <c>status_code</c> is not 20000000 is a failure.</summary>
    internal static VolcengineException? StatusError(VolcSocket socket, in VolcFrame frame)
    {
        if (frame.Payload.IsEmpty)
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(frame.Payload);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("status_code", out var code)
                && code.TryGetInt64(out var value) && value != 20000000
                ? socket.Failure(frame)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Sends the request and returns its first answer; a pooled connection found dead is replaced once.</summary>
    private Task<(VolcSocket Socket, VolcFrame First)> StartAsync(
        Uri uri, bool agent, VolcTtsRequest request, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        pool.StartAsync(
            VendorName, uri, agent, request.Credentials, bidirectional: false,
            async (socket, ct) =>
            {
                await socket.SendAsync(VolcMessageType.FullClientRequest, VolcFlags.None, json: true, payload, ct).ConfigureAwait(false);
                var first = await pool.ReceiveWithinAsync(socket, "a first answer", ct).ConfigureAwait(false);
                return (socket, first);
            },
            cancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ByteDanceV3 synthesis failed with code {Code} ({Kind})")]
    private static partial void LogFailed(ILogger logger, long code, VolcengineErrorKind kind);
}
