using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Speech;

namespace Parley.Providers.Local;

/// <summary>
/// The embedded ASR engine (Vendor "Local"): CMU pocketsphinx with Debian's US English models, streaming partial
/// hypotheses while audio arrives and a final result per utterance. Decoders are pooled across streams.
/// Supported <c>Params</c>: optional <c>"language": "en-us"</c> (the only language this engine has); other keys are
/// ignored. ASR <c>HotWords</c> are ignored by this engine (its n-gram language model has no keyword boosting).
/// </summary>
public sealed class PocketSphinxRecognizerProvider : ISpeechRecognizer, IDisposable
{
    internal const string LanguageKey = "language";
    internal const string SupportedLanguage = "en-us";

    private readonly PocketSphinxOptions _options;
    private readonly PocketSphinxDecoderPool _pool;
    private readonly ILogger _logger;

    public PocketSphinxRecognizerProvider(PocketSphinxOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options ?? new PocketSphinxOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.InputQueueCapacity, 1, nameof(PocketSphinxOptions.InputQueueCapacity));
        ArgumentOutOfRangeException.ThrowIfNegative(_options.MaxIdleDecoders, nameof(PocketSphinxOptions.MaxIdleDecoders));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.PartialInterval, TimeSpan.Zero, nameof(PocketSphinxOptions.PartialInterval));
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<PocketSphinxRecognizerProvider>();
        _pool = new PocketSphinxDecoderPool(_options, _logger);
    }

    public string Name => "Local";

    internal PocketSphinxDecoderPool Pool => _pool;

    public string? Validate(JsonObject? parameters)
    {
        if (parameters is null || !parameters.TryGetPropertyValue(LanguageKey, out var language) || language is null)
        {
            return null;
        }

        if (language.GetValueKind() != JsonValueKind.String)
        {
            return $"ASR Params.{LanguageKey} must be a string; the Local engine supports only \"{SupportedLanguage}\".";
        }

        var value = language.GetValue<string>();
        return string.Equals(value, SupportedLanguage, StringComparison.OrdinalIgnoreCase)
            ? null
            : $"ASR Params.{LanguageKey} \"{value}\" is not supported by the Local engine; the only supported language is \"{SupportedLanguage}\".";
    }

    public ISpeechRecognitionStream Open(SpeechRecognitionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (Validate(options.Parameters) is { } error)
        {
            throw new ArgumentException(error, nameof(options));
        }

        return new PocketSphinxRecognitionStream(_pool, _options, _logger);
    }

    /// <summary>Loads <paramref name="decoders"/> decoders ahead of the first stream (blocks for the model loads).</summary>
    public void WarmUp(int decoders = 1) => _pool.WarmUp(decoders);

    public void Dispose() => _pool.Dispose();
}
