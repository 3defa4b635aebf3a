using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Speech;

namespace Parley.Providers.Local;

/// <summary>Registers the engines that run in-process: Silero VAD, the Local TTS (flite, espeak-ng), the Local ASR (pocketsphinx).</summary>
public static class LocalSpeechHosting
{
    /// <param name="services">The services.</param>
    /// <param name="recognition">Settings of the pocketsphinx recogniser (defaults when null).</param>
    /// <param name="vad">How the Silero VAD runs (batching; defaults when null).</param>
    public static IServiceCollection AddLocalSpeechEngines(this IServiceCollection services, PocketSphinxOptions? recognition = null, SileroVadOptions? vad = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        vad?.Validate();
        services.TryAddSingleton<IVoiceActivityDetectorFactory>(_ => new SileroVadFactory(options: vad));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITextToSpeech, LocalTtsProvider>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISpeechRecognizer, PocketSphinxRecognizerProvider>(
            sp => new PocketSphinxRecognizerProvider(recognition, sp.GetRequiredService<ILoggerFactory>())));
        return services;
    }
}
