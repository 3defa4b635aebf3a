using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Speech;

namespace Parley.Providers.Volcengine;

/// <summary>
/// The <c>ByteDanceFlowing</c> TTS vendor: Volcengine's bidirectional streaming TTS over the V3 binary WebSocket
/// protocol (<c>wss://openspeech.bytedance.com/api/v3/tts/bidirection</c>). One session per stream (a reply): text
/// pieces go out as TaskRequests as they are pushed (token deltas are fine: the service cuts sentences itself), the
/// flush sends FinishSession, audio (TTSResponse) streams back, and with <c>req_params.audio_params.enable_timestamp</c>
/// the words of TTSSentenceEnd become <see cref="WordTiming"/>s. Connections (StartConnection done) are pooled and
/// carry the next reply's session.
/// </summary>
public sealed class ByteDanceFlowingTtsProvider(VolcConnectionPool pool, ILoggerFactory? loggerFactory = null) : ITextToSpeech
{
    public const string VendorName = "ByteDanceFlowing";

    private static readonly TtsCapabilities StreamCapabilities = new(StreamingText: true, WordTimings: true, NativeSampleRate: VolcTtsRequest.DefaultSampleRate);

    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ByteDanceFlowingTtsProvider>();

    public string Name => VendorName;

    /// <summary>Streams text; word timings when the Params enable them (<c>audio_params.enable_timestamp</c>, TTS 1.0 voices).</summary>
    public TtsCapabilities Capabilities => StreamCapabilities;

    public string? Validate(JsonObject? parameters) => VolcTtsRequest.Error(parameters, VendorName);

    public string? ValidateConfiguration(JsonObject? parameters) => VolcTtsRequest.ConfigurationError(parameters, VendorName);

    public ITtsStream Open(TtsRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var parameters = request.ResolveParameters();
        if (Validate(parameters) is { } error)
        {
            throw new ArgumentException(error, nameof(request));
        }

        var agentEndpoint = pool.AgentEndpoint(request.Endpoint, webSocket: true);
        return new ByteDanceFlowingStream(pool, new VolcTtsRequest(parameters), agentEndpoint ?? new Uri(pool.Options.FlowingUrl), agentEndpoint is not null, _logger);
    }
}
