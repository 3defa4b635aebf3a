using System.Text.Json.Nodes;
using Parley.Core.Text;

namespace Parley.Core.Tests.Text;

public sealed class MetaInfoExtractorTests
{
    private static readonly MetaInfoRules Rules = new("[[", "]]", ["action"]);
    private const char M = MetaInfoExtractor.Marker;

    private static string PushAll(MetaInfoExtractor x, params string[] deltas) =>
        string.Concat(deltas.Select(x.Push)) + x.Complete();

    [Fact]
    public void Metadata_SplitAcrossTokens_IsTakenOut()
    {
        var x = new MetaInfoExtractor(Rules);
        var text = PushAll(x, "[", "[{\"act", "ion\":\"wa", "ve\",\"mood\":\"happy\"}", "]", "]Hel", "lo.");

        Assert.Equal($"{M}Hello.", text);
        var meta = x.TakeSentenceMeta(text, out var sentence);
        Assert.Equal("Hello.", sentence);
        Assert.Equal("""{"action":"wave","mood":"happy"}""", meta!.ToJsonString());
        Assert.Equal("""{"action":"wave"}""", Rules.Sent(meta)!.ToJsonString());
    }

    [Fact]
    public void HeldBackPrefix_IsReleased_WhenItIsNotADelimiter()
    {
        var x = new MetaInfoExtractor(Rules);
        Assert.Equal("a ", x.Push("a ["));
        Assert.Equal("[b", x.Push("b"));
        Assert.Equal("", x.Complete());
    }

    [Fact]
    public void MissingEndCharacters_KeepTheTextAsWritten()
    {
        var x = new MetaInfoExtractor(Rules);
        var streamed = x.Push("Hi. [[{\"action\":\"wave\"} and more");
        Assert.Equal("Hi. ", streamed);
        Assert.Equal("[[{\"action\":\"wave\"} and more", x.Complete());
    }

    [Fact]
    public void NoMetadata_PassesThrough()
    {
        var x = new MetaInfoExtractor(Rules);
        Assert.Equal("Hello there. How are you?", PushAll(x, "Hello", " there.", " How are you?"));
        Assert.Null(x.TakeSentenceMeta("Hello there.", out var s));
        Assert.Equal("Hello there.", s);
    }

    [Fact]
    public void NotAJsonObject_StaysText()
    {
        var x = new MetaInfoExtractor(Rules);
        Assert.Equal("[[not json]]ok", PushAll(x, "[[not json]]ok"));
    }

    [Fact]
    public void SentKeys_OnlyThoseListed_NullWhenNone()
    {
        Assert.Null(Rules.Sent(new JsonObject { ["mood"] = "sad" }));
    }

    [Fact]
    public void MultiCharacterDelimiters_OfOtherShapes()
    {
        var x = new MetaInfoExtractor(new MetaInfoRules("<meta>", "</meta>", []));
        var text = PushAll(x, "<me", "ta>{\"a\":1}</me", "ta>Go");
        Assert.Equal($"{M}Go", text);
        Assert.Equal("""{"a":1}""", x.TakeSentenceMeta(text, out _)!.ToJsonString());
    }
}
