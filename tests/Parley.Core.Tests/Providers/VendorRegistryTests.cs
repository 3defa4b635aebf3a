using System.Text.Json.Nodes;
using Parley.Core.Providers;

namespace Parley.Core.Tests.Providers;

public sealed class VendorRegistryTests
{
    private static readonly JsonObject Good = new() { ["key"] = "ok" };

    private static VendorRegistry<Engine> Registry(params string[] fallbackOnly) =>
        new([new Engine("Local"), new Engine("CosyVoice")], e => e.Name, (e, p) => e.Validate(p), fallbackOnly);

    [Fact]
    public void Select_ByName_IgnoresCase_AndKeepsParams()
    {
        var selection = Registry().Select("cosyvoice", Good, "Local");

        Assert.Equal("CosyVoice", selection.Engine.Name);
        Assert.Same(Good, selection.Parameters);
        Assert.Equal(VendorFallback.None, selection.Fallback);
        Assert.False(selection.FellBack);
        Assert.Null(selection.Reason);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Select_NoVendor_IsTheFallbackWithTheGivenParams(string? vendor)
    {
        var selection = Registry().Select(vendor, Good, "Local");

        Assert.Equal("Local", selection.Engine.Name);
        Assert.Same(Good, selection.Parameters);
        Assert.False(selection.FellBack);
    }

    [Fact]
    public void Select_VendorWithoutEngine_FallsBackOnDefaults()
    {
        var selection = Registry("MiniMax").Select("MiniMax", Good, "local");

        Assert.Equal("Local", selection.Engine.Name);
        Assert.Null(selection.Parameters);
        Assert.Equal(VendorFallback.NoEngine, selection.Fallback);
        Assert.Equal("MiniMax", selection.Requested);
        Assert.NotNull(selection.Reason);
    }

    [Fact]
    public void Select_ParamsTheEngineRefuses_FallBackWithTheEnginesReason()
    {
        var selection = Registry().Select("CosyVoice", new JsonObject { ["key"] = "zego_test" }, "Local");

        Assert.Equal("Local", selection.Engine.Name);
        Assert.Null(selection.Parameters);
        Assert.Equal(VendorFallback.Refused, selection.Fallback);
        Assert.Equal("key is a placeholder", selection.Reason);
    }

    [Fact]
    public void Select_TheFallbackItself_IsNeverRefusedHere()
    {
        var bad = new JsonObject { ["key"] = "zego_test" };
        var selection = Registry().Select("LOCAL", bad, "Local");

        Assert.Equal("Local", selection.Engine.Name);
        Assert.Same(bad, selection.Parameters);
        Assert.False(selection.FellBack);
    }

    [Fact]
    public void Select_MissingFallback_Throws()
    {
        var registry = Registry();

        Assert.Throws<InvalidOperationException>(() => registry.Select("Nope", null, "Gone"));
        Assert.Equal("CosyVoice", registry.Select("CosyVoice", Good, "Gone").Engine.Name);
    }

    [Fact]
    public void Names_AreTheEnginesThenTheFallbackOnlyVendors_AndAcceptIgnoresCase()
    {
        var registry = Registry("Aliyun", "cosyvoice", "MiniMax");

        Assert.Equal(["Local", "CosyVoice", "Aliyun", "MiniMax"], registry.Names);
        Assert.True(registry.Accepts("aliyun"));
        Assert.True(registry.Accepts("LOCAL"));
        Assert.False(registry.Accepts("ByteDance"));
        Assert.Equal(["CosyVoice", "Local"], registry.Engines.Order(StringComparer.Ordinal));
        Assert.Null(registry.Find("Aliyun"));
        Assert.Equal("Local", registry.Find("local")?.Name);
    }

    [Fact]
    public void TwoEnginesWithOneName_AreAConfigurationError()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            new VendorRegistry<Engine>([new Engine("Local"), new Engine("local")], e => e.Name, (e, p) => e.Validate(p)));
        Assert.Contains("local", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    private sealed record Engine(string Name)
    {
        public string? Validate(JsonObject? parameters) =>
            parameters?["key"]?.GetValue<string>() == "zego_test" ? "key is a placeholder" : null;
    }
}
