using System.Text.Json.Nodes;
using Parley.Providers.DashScope;

namespace Parley.Providers.Tests.DashScope;

/// <summary>Numbers in Params read the same whether parsed from JSON or built in code (a long, a double).</summary>
public sealed class DashScopeParamsTests
{
    [Fact]
    public void TryGetInt_ReadsParsedAndBuiltNumbers_AndRefusesFractionsAndOverflow()
    {
        Assert.True(DashScopeParams.TryGetInt(JsonNode.Parse("16000"), out var parsed));
        Assert.Equal(16000, parsed);
        Assert.True(DashScopeParams.TryGetInt(JsonValue.Create(22050L), out var built));
        Assert.Equal(22050, built);
        Assert.True(DashScopeParams.TryGetInt(JsonValue.Create(24000.0), out var real));
        Assert.Equal(24000, real);
        Assert.False(DashScopeParams.TryGetInt(JsonValue.Create(1.5), out _));
        Assert.False(DashScopeParams.TryGetInt(JsonValue.Create(5_000_000_000L), out _));
        Assert.False(DashScopeParams.TryGetInt(JsonValue.Create("16000"), out _));
        Assert.False(DashScopeParams.TryGetInt(null, out _));
    }
}
