using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Speech;

namespace Parley.Providers.DashScope;

/// <summary>
/// The contract's <c>AliyunFunASR</c> ASR vendor: Fun-ASR real-time recognition, another model (default
/// <c>fun-asr-realtime</c>) on the same DashScope WebSocket API as <see cref="ParaformerRecognizerProvider"/>, with the
/// same Params (<c>app.api_key</c>, <c>payload.model</c>, <c>payload.parameters</c>).
/// </summary>
public sealed class FunAsrRecognizerProvider(DashScopeConnectionPool pool, ILoggerFactory? loggerFactory = null) : ISpeechRecognizer
{
    private readonly ParaformerRecognizerProvider _inner = new(
        pool, loggerFactory, ParaformerRecognizerProvider.FunAsrVendorName, ParaformerRecognizerProvider.FunAsrDefaultModel);

    /// <inheritdoc />
    public string Name => _inner.Name;

    /// <inheritdoc />
    public string? Validate(JsonObject? parameters) => _inner.Validate(parameters);

    /// <inheritdoc />
    public ISpeechRecognitionStream Open(SpeechRecognitionOptions options) => _inner.Open(options);
}
