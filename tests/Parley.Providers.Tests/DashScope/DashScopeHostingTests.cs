using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Speech;
using Parley.Providers.DashScope;
using Parley.Providers.Net;

namespace Parley.Providers.Tests.DashScope;

public sealed class DashScopeHostingTests
{
    [Fact]
    public void AddDashScope_RegistersBothVendorsOnOnePool_WithTheConfiguredEndpoint()
    {
        using var services = Build(new Dictionary<string, string?> { ["Parley:Vendors:DashScope:Url"] = "wss://dashscope.example/api-ws/v1/inference" });

        Assert.Equal(["CosyVoice"], services.GetServices<ITextToSpeech>().Select(e => e.Name));
        Assert.Equal(["AliyunParaformer", "AliyunFunASR", "AliyunQwenASR"], services.GetServices<ISpeechRecognizer>().Select(e => e.Name));
        Assert.Equal("wss://dashscope.example/api-ws/v1/inference", services.GetRequiredService<DashScopeConnectionPool>().Options.Url);
    }

    [Fact]
    public void AddDashScope_RefusesANonWebSocketUrl()
    {
        using var services = Build(new Dictionary<string, string?> { ["Parley:Vendors:DashScope:Url"] = "https://dashscope.example" });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<DashScopeOptions>>().Value);
        Assert.Contains("ws://", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddDashScope_Twice_RegistersEachVendorOnce()
    {
        var configuration = new ConfigurationBuilder().Build();
        var collection = new ServiceCollection().AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(new OutboundPolicy(allowLoopback: false, allowPrivateNetworks: false));
        collection.AddDashScope(configuration).AddDashScope(configuration);
        using var services = collection.BuildServiceProvider();

        Assert.Single(services.GetServices<ITextToSpeech>());
        Assert.Equal(3, services.GetServices<ISpeechRecognizer>().Count());
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings) =>
        new ServiceCollection()
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(new OutboundPolicy(allowLoopback: false, allowPrivateNetworks: false))
            .AddDashScope(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .BuildServiceProvider();
}
