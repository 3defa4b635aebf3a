using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;
using Parley.Providers.Volcengine;

namespace Parley.Providers.Tests.Volcengine;

public sealed class VolcengineHostingTests
{
    [Fact]
    public void AddVolcengine_RegistersTheFourVendorsOnOnePool_WithTheConfiguredEndpointsAndDefaults()
    {
        using var services = Build(new Dictionary<string, string?>
        {
            ["Parley:Vendors:ByteDanceFlowing:Url"] = "wss://tts.example/api/v3/tts/bidirection",
            ["Parley:Vendors:VolcSeedASR:AppId"] = "app",
            ["Parley:Vendors:VolcSeedASR:AccessToken"] = "secret",
            ["Parley:Vendors:Volcengine:IdleTimeout"] = "00:00:05",
        });

        Assert.Equal(["ByteDanceV3", "ByteDanceFlowing", "ByteDance"], services.GetServices<ITextToSpeech>().Select(e => e.Name));
        Assert.Equal(["VolcSeedASR"], services.GetServices<ISpeechRecognizer>().Select(e => e.Name));
        var options = services.GetRequiredService<VolcConnectionPool>().Options;
        Assert.Equal("wss://tts.example/api/v3/tts/bidirection", options.FlowingUrl);
        Assert.Equal(VolcengineOptions.ByteDanceV3Url, options.TtsV3Url);
        Assert.Equal(("app", "secret"), (options.VolcSeedASR.AppId, options.VolcSeedASR.AccessToken));
        Assert.Equal(TimeSpan.FromSeconds(5), options.IdleTimeout);

        // With deployment credentials a ZEGO agent's ASR Params (no app) are usable.
        Assert.Null(services.GetServices<ISpeechRecognizer>().Single().Validate(null));
    }

    [Theory]
    [InlineData("Parley:Vendors:ByteDanceV3:Url", "https://tts.example", "Parley:Vendors:ByteDanceV3:Url")]
    [InlineData("Parley:Vendors:VolcSeedASR:Url", "ws://169.254.169.254/x", "Parley:Vendors:VolcSeedASR:Url")]
    [InlineData("Parley:Vendors:Volcengine:ResponseTimeout", "00:00:00", "ResponseTimeout")]
    public void AddVolcengine_RefusesImpossibleSettings_NamingThem(string key, string value, string named)
    {
        using var services = Build(new Dictionary<string, string?> { [key] = value });
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<VolcengineOptions>>().Value);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var collection = new ServiceCollection().AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(new OutboundPolicy(allowLoopback: false, allowPrivateNetworks: false));
        collection.AddVolcengine(configuration).AddVolcengine(configuration);
        return collection.BuildServiceProvider();
    }
}
