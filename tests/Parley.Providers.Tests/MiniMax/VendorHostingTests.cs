using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Parley.Abstractions.Speech;
using Parley.Providers.AliyunNls;
using Parley.Providers.MiniMax;
using Parley.Providers.Net;

namespace Parley.Providers.Tests.MiniMax;

public sealed class VendorHostingTests
{
    [Fact]
    public void AddMiniMaxAndAliyunNls_RegisterTheVendorsOnce_WithTheConfiguredEndpoints()
    {
        using var services = Build(new()
        {
            ["Parley:Vendors:MiniMax:Url"] = "wss://api.minimax.io/ws/v1/t2a_v2",
            ["Parley:Vendors:Aliyun:Url"] = "wss://nls-gateway-cn-beijing.aliyuncs.com/ws/v1",
            ["Parley:Vendors:Aliyun:TokenUrl"] = "https://nls-meta.cn-beijing.aliyuncs.com/",
        }, twice: true);

        Assert.Equal(["MiniMax", "Aliyun"], services.GetServices<ITextToSpeech>().Select(e => e.Name));
        Assert.Equal("wss://api.minimax.io/ws/v1/t2a_v2", services.GetRequiredService<MiniMaxSessionPool>().Endpoint.AbsoluteUri);
        Assert.Equal("https://nls-meta.cn-beijing.aliyuncs.com/", services.GetRequiredService<AliyunNlsTtsProvider>().Options.TokenUrl);
    }

    [Fact]
    public void Defaults_AreThePublicEndpoints()
    {
        using var services = Build([]);

        Assert.Equal(MiniMaxOptions.DefaultUrl, services.GetRequiredService<IOptions<MiniMaxOptions>>().Value.Url);
        Assert.Equal(AliyunNlsOptions.DefaultUrl, services.GetRequiredService<IOptions<AliyunNlsOptions>>().Value.Url);
        Assert.Equal(AliyunNlsOptions.DefaultTokenUrl, services.GetRequiredService<IOptions<AliyunNlsOptions>>().Value.TokenUrl);
    }

    [Theory]
    [InlineData("Parley:Vendors:MiniMax:Url", "https://api.minimax.io")]
    [InlineData("Parley:Vendors:MiniMax:ResponseTimeout", "00:00:00")]
    [InlineData("Parley:Vendors:Aliyun:TokenUrl", "wss://nls-meta.cn-shanghai.aliyuncs.com/")]
    [InlineData("Parley:Vendors:Aliyun:Url", "http://169.254.169.254/ws/v1")]
    public void InvalidSettings_AreRefusedAtStart(string key, string value)
    {
        using var services = Build(new() { [key] = value });

        Assert.Throws<OptionsValidationException>(() =>
        {
            _ = services.GetRequiredService<IOptions<MiniMaxOptions>>().Value;
            _ = services.GetRequiredService<IOptions<AliyunNlsOptions>>().Value;
        });
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings, bool twice = false)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var collection = new ServiceCollection()
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(new OutboundPolicy(allowLoopback: false, allowPrivateNetworks: false));
        collection.AddMiniMax(configuration).AddAliyunNls(configuration);
        if (twice)
        {
            collection.AddMiniMax(configuration).AddAliyunNls(configuration);
        }

        return collection.BuildServiceProvider();
    }
}
