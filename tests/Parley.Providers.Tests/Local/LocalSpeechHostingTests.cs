using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Speech;
using Parley.Providers.Local;

namespace Parley.Providers.Tests.Local;

public sealed class LocalSpeechHostingTests
{
    [Fact]
    public void AddLocalSpeechEngines_RegistersTheLocalTts_TheLocalAsr_AndSilero_Once()
    {
        var collection = new ServiceCollection().AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        collection.AddLocalSpeechEngines().AddLocalSpeechEngines();
        using var services = collection.BuildServiceProvider();

        var tts = Assert.Single(services.GetServices<ITextToSpeech>());
        Assert.Equal("Local", tts.Name);
        Assert.IsType<LocalTtsProvider>(tts);
        var asr = Assert.Single(services.GetServices<ISpeechRecognizer>());
        Assert.IsType<PocketSphinxRecognizerProvider>(asr);
        Assert.Equal("Local", asr.Name);
        Assert.IsType<SileroVadFactory>(services.GetRequiredService<IVoiceActivityDetectorFactory>());
    }
}
