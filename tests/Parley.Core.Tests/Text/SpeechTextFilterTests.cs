using Parley.Core.Text;

namespace Parley.Core.Tests.Text;

public sealed class SpeechTextFilterTests
{
    private static string Run(SpeechTextFilter filter, params string[] deltas) =>
        string.Concat(deltas.Select(filter.Push)) + filter.Complete();

    [Fact]
    public void FilterText_RemovesBracketedSpans()
    {
        var filter = new SpeechTextFilter([new("(", ")"), new("[", "]")], null);
        Assert.Equal("Hello  there, friend.", Run(filter, "Hello (smiles) there, [waves]friend."));
    }

    [Fact]
    public void FilterText_MarksSplitAcrossDeltas_AreStillRemoved()
    {
        var filter = new SpeechTextFilter([new("<<", ">>")], null);
        Assert.Equal("Hi  you", Run(filter, "Hi <", "<laughs", " loudly>", "> you"));
    }

    [Fact]
    public void FilterText_TextThatOnlyLooksLikeAMarkStart_IsSpokenOnceDecided()
    {
        var filter = new SpeechTextFilter([new("<<", ">>")], null);
        Assert.Equal("a ", filter.Push("a <"));
        Assert.Equal("<b", filter.Push("b"));
    }

    [Fact]
    public void TerminatorText_DropsEverythingFromTheTerminatorToTheEndOfTheReply()
    {
        var filter = new SpeechTextFilter([], "#");
        Assert.Equal("Sure, here it is. ", Run(filter, "Sure, here it is. #", "{\"json\":1}", " more"));
        Assert.True(filter.Terminated);
    }

    [Fact]
    public void TerminatorText_OfSeveralCharacters_SplitAcrossDeltas()
    {
        var filter = new SpeechTextFilter([], "##END");
        Assert.Equal("Spoken", Run(filter, "Spoken##", "EN", "D not spoken"));
    }

    [Fact]
    public void UnclosedSpan_AtTheEnd_IsDropped()
    {
        var filter = new SpeechTextFilter([new("(", ")")], null);
        Assert.Equal("Text ", Run(filter, "Text (never closed"));
    }

    [Fact]
    public void NoRules_PassesEverythingThrough()
    {
        var filter = new SpeechTextFilter(null, null);
        Assert.Equal("Anything (at) all #", Run(filter, "Anything (at)", " all #"));
    }
}

public sealed class SentenceSegmenterTests
{
    [Fact]
    public void Sentences_AreEmittedAsSoonAsTheyAreComplete()
    {
        var segmenter = new SentenceSegmenter();
        Assert.Empty(segmenter.Push("Hello the"));
        Assert.Equal(["Hello there."], segmenter.Push("re."));
        Assert.Empty(segmenter.Push(" How are"));
        Assert.Equal(["How are you?"], segmenter.Push(" you? I"));
        Assert.Equal("I", segmenter.Complete());
    }

    [Theory]
    [InlineData("It is 3.")]
    [InlineData("Ask Dr.")]
    [InlineData("Made in the U.S.")]
    [InlineData("Fruit, e.g.")]
    [InlineData("It is 5 p.m.")]
    public void TerminalAtTheEnd_AfterANumberCapitalOrAbbreviation_WaitsForWhatFollows(string text)
    {
        Assert.Empty(new SentenceSegmenter().Push(text));
    }

    [Fact]
    public void DecimalNumberSplitAcrossTokens_StaysOneSentence()
    {
        var segmenter = new SentenceSegmenter();
        Assert.Empty(segmenter.Push("It is 3."));
        Assert.Equal(["It is 3.14 degrees."], segmenter.Push("14 degrees. "));
    }

    [Theory]
    [InlineData("Sure.")]
    [InlineData("Really?")]
    [InlineData("Stop!")]
    [InlineData("Well...")]
    public void TerminalAtTheEnd_AfterAPlainWord_EndsTheSentenceAtOnce(string text)
    {
        Assert.Equal([text], new SentenceSegmenter().Push(text));
    }

    [Fact]
    public void PeriodsInsideNumbersAndNames_DoNotSplit()
    {
        var segmenter = new SentenceSegmenter();
        Assert.Empty(segmenter.Push("Pi is 3.14 and the site is example.com"));
        Assert.Equal(["Pi is 3.14 and the site is example.com, see!"], segmenter.Push(", see! "));
    }

    [Fact]
    public void CjkPunctuation_EndsASentenceWithoutSpace()
    {
        var segmenter = new SentenceSegmenter();
        Assert.Equal(["你好。", "今天天气很好！"], segmenter.Push("你好。今天天气很好！明天"));
        Assert.Equal("明天", segmenter.Complete());
    }

    [Fact]
    public void LongTextWithoutPunctuation_IsCutAtASpace()
    {
        var segmenter = new SentenceSegmenter();
        var words = string.Join(' ', Enumerable.Repeat("word", 60));
        var sentences = segmenter.Push(words);
        Assert.NotEmpty(sentences);
        Assert.All(sentences, s => Assert.True(s.Length <= SentenceSegmenter.MaxSentenceLength));
        Assert.All(sentences, s => Assert.EndsWith("word", s));
    }

    [Fact]
    public void Newline_EndsASentence_AndEmptyInputCompletesToNull()
    {
        var segmenter = new SentenceSegmenter();
        Assert.Equal(["First line"], segmenter.Push("First line\nSecond"));
        Assert.Equal("Second", segmenter.Complete());
        Assert.Null(segmenter.Complete());
    }
}
