using System.Text;
using System.Text.Json;
using Parley.Abstractions.Text;

namespace Parley.Core.Tests.Text;

public sealed class JsonTextCheckTests
{
    private static JsonTextProblem Find(string json)
    {
        using var document = JsonDocument.Parse(json);
        return JsonTextCheck.Find(document.RootElement);
    }

    private static JsonTextProblem Find(byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        return JsonTextCheck.Find(document.RootElement);
    }

    [Theory]
    [InlineData("""{"a":"plain","b":[1,true,null,{"c":"x"}],"d":{}}""")]
    [InlineData("""{"pair":"\ud83d\ude00","escapes":"\"\\\/\b\f\n\r\t\u0041"}""")]
    [InlineData("""{"backslash then text":"\\ud800"}""")]
    [InlineData("""{"Url":1,"url":2,"URL":3}""")]
    [InlineData("""{"a":{"x":1},"b":{"x":2}}""")]
    public void ValidDocuments_HaveNoProblem(string json) => Assert.True(Find(json).IsNone, Find(json).Describe());

    [Theory]
    [InlineData("""{"a":"\ud800"}""", "a")]
    [InlineData("""{"a":"x\udfffy"}""", "a")]
    [InlineData("""{"a":"\ud83d"}""", "a")]
    [InlineData("""{"a":"\ud83d\ud83d\ude00"}""", "a")]
    [InlineData("""{"a":"\ud83d\n"}""", "a")]
    [InlineData("""{"a":{"b":[{"c":"ok"},{"c":"\udc00"}]}}""", "a.b[1].c")]
    [InlineData("""{"a":[["ok"],["ok","\ud800"]]}""", "a[1][1]")]
    public void UnpairedSurrogates_AreFoundWithTheirPath(string json, string path)
    {
        var problem = Find(json);
        Assert.Equal(JsonTextProblemKind.LoneSurrogate, problem.Kind);
        Assert.Equal(path, problem.Path);
        Assert.False(problem.InName);
    }

    [Theory]
    [InlineData("""{"a":1,"a":2}""", "a")]
    [InlineData("""{"x":{"Url":"1","\u0055rl":"2"}}""", "x.Url")]
    [InlineData("""{"x":{"\u0055rl":"1","\u0055\u0072l":"2"}}""", "x.Url")]
    [InlineData("""{"x":[{"k":1},{"k":1,"j":2,"k":3}]}""", "x[1].k")]
    public void RepeatedNames_AreFoundWithTheirPath(string json, string path)
    {
        var problem = Find(json);
        Assert.Equal(JsonTextProblemKind.DuplicateName, problem.Kind);
        Assert.Equal(path, problem.Path);
        Assert.Equal($"{path} is given twice", problem.Describe());
    }

    [Fact]
    public void RepeatedName_InALargeObject_IsFound()
    {
        var fields = string.Join(",", Enumerable.Range(0, JsonTextCheck.PairwiseLimit * 4).Select(i => $"\"f{i}\":{i}"));
        Assert.True(Find($"{{{fields}}}").IsNone);
        var problem = Find($"{{\"big\":{{{fields},\"f7\":0}}}}");
        Assert.Equal(JsonTextProblemKind.DuplicateName, problem.Kind);
        Assert.Equal("big.f7", problem.Path);
    }

    [Theory]
    [InlineData("C3 28")]
    [InlineData("C0 AF")]
    [InlineData("E0 80 AF")]
    [InlineData("ED A0 80")]
    [InlineData("F4 90 80 80")]
    [InlineData("FF")]
    public void InvalidUtf8_InAValueOrAName_IsFound(string hex)
    {
        var bad = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
        byte[] value = [.. "{\"o\":{\"v\":\"a"u8, .. bad, .. "\"}}"u8];
        byte[] name = [.. "{\"o\":{\"a"u8, .. bad, .. "\":1}}"u8];

        var inValue = Find(value);
        Assert.Equal((JsonTextProblemKind.InvalidUtf8, "o.v", false), (inValue.Kind, inValue.Path, inValue.InName));
        var inName = Find(name);
        Assert.Equal((JsonTextProblemKind.InvalidUtf8, "o", true), (inName.Kind, inName.Path, inName.InName));
        Assert.Equal("a field name in o is not valid UTF-8", inName.Describe());
    }

    [Fact]
    public void CheckingAValidDocument_AllocatesNothing()
    {
        var json = Encoding.UTF8.GetBytes("""{"AgentInstanceId":"1914201735648137216","LLM":{"Url":"http://x/v1","Model":"m","Params":{"a":1,"b":"\u00e9"}},"AgentIds":["a","b"]}""");
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.True(JsonTextCheck.Find(root).IsNone);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            JsonTextCheck.Find(root);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
