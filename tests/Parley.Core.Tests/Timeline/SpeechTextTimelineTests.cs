using System.Text.Json.Nodes;
using Parley.Core.Output;
using Parley.Core.Sessions;
using Parley.Core.Text;

namespace Parley.Core.Tests.Timeline;

/// <summary>What the agent's text becomes on its way to speech: LLMMetaInfo, TTSParamPaths, CharacterFilter.</summary>
[Collection(nameof(TimelineCollection))]
public sealed class SpeechTextTimelineTests
{
    private static TimeSpan Ms(int ms) => TimeSpan.FromMilliseconds(ms);

    private static readonly MetaInfoRules Rules = new("[[", "]]", ["action"]);

    [Fact]
    public async Task Metadata_IsRemovedFromSpeechAndSubtitles_AndSentWhenItsSentenceStartsPlaying()
    {
        await using var t = new VoiceTimeline(metaInfo: Rules);
        t.UserSays(Ms(200), Ms(600), "hello");
        t.Llm.Add(new LlmScript(Ms(100), Ms(30), ["Hi there, nice to meet you.", " [[{\"act", "ion\":\"wave\",\"mood\":\"happy\"}]", "]And", " a wave."]));
        await t.RunUntilAsync(() => t.All<ReplyFinishedEvent>().Any(), TimeSpan.FromSeconds(10));
        await t.RunForAsync(Ms(100));

        var subtitles = string.Concat(t.All<ReplyTextDeltaEvent>().Select(d => d.Delta));
        Assert.Equal("Hi there, nice to meet you. And a wave.", subtitles);
        Assert.Equal(["Hi there, nice to meet you.", "And a wave."], t.All<ReplySentenceEvent>().Select(s => s.Text));
        Assert.Equal(["Hi there, nice to meet you.", "And a wave."], t.Tts.Texts);

        var meta = Assert.Single(t.All<AgentMetaInfoEvent>());
        Assert.Equal("""{"action":"wave"}""", meta.MetaInfo.ToJsonString());

        // Sent when sentence 2 starts playing (its first frame at the sink), not when it was written or synthesised.
        var written = t.TimeOf<ReplySentenceEvent>(s => s.Text == "And a wave.");
        var playing = t.Sink.Played.First(f => f.Marker == 2).At;
        var sent = t.TimeOf<AgentMetaInfoEvent>();
        Assert.True(playing - written > Ms(500), $"sentence 2 written at {written}, played at {playing}");
        Assert.InRange(sent, playing - Ms(25), playing + Ms(60));
    }

    [Fact]
    public async Task ParamPaths_SetTheValueInThatSentencesRequestOnly()
    {
        await using var t = new VoiceTimeline(metaInfo: Rules);
        var parameters = new JsonObject { ["payload"] = new JsonObject { ["parameters"] = new JsonObject { ["voice"] = "v" } } };
        t.Agent.UpdateVoice(new TtsVoice(t.Tts, parameters, [], null)
        {
            ParamPaths = new Dictionary<string, string> { ["instruction"] = "payload.parameters.instruction" },
        });
        t.UserSays(Ms(200), Ms(600), "hello");
        t.Llm.Add(new LlmScript(Ms(100), Ms(30), ["First one here.", " [[{\"instruction\":\"gently\"}]]Second", " one.", " Third one."]));
        await t.RunUntilAsync(() => t.All<ReplyFinishedEvent>().Any(), TimeSpan.FromSeconds(10));

        var sent = t.Tts.Params.ToArray();
        Assert.Equal(3, sent.Length);
        Assert.DoesNotContain("instruction", sent[0], StringComparison.Ordinal);
        Assert.Equal("""{"payload":{"parameters":{"voice":"v","instruction":"gently"}}}""", sent[1]);
        Assert.DoesNotContain("instruction", sent[2], StringComparison.Ordinal);
        Assert.DoesNotContain("instruction", parameters.ToJsonString(), StringComparison.Ordinal);

        // "instruction" is not in SendMetaKeys: nothing goes to the client.
        Assert.Empty(t.All<AgentMetaInfoEvent>());
    }

    [Fact]
    public async Task CharacterFilter_IsRemovedFromSpeech_NotFromSubtitles()
    {
        await using var t = new VoiceTimeline();
        t.Agent.UpdateVoice(new TtsVoice(t.Tts, null, [], null) { CharacterFilter = ["#", "##", "*"] });
        t.UserSays(Ms(200), Ms(600), "hello");
        t.Llm.Add(new LlmScript(Ms(100), Ms(30), ["## Title *bold* text."]));
        await t.RunUntilAsync(() => t.All<ReplyFinishedEvent>().Any(), TimeSpan.FromSeconds(10));

        Assert.Equal(["Title bold text."], t.Tts.Texts);
        Assert.Equal("## Title *bold* text.", t.All<ReplySentenceEvent>().Single().Text);
    }

    [Fact]
    public async Task CharacterFilter_AppliesToVerbatimSpeech()
    {
        await using var t = new VoiceTimeline();
        t.Agent.UpdateVoice(new TtsVoice(t.Tts, null, [], null) { CharacterFilter = ["-"] });
        await t.RunForAsync(Ms(50));
        t.Session.SubmitSpeech(new SpeechRequest("Well-known - fact."));
        await t.RunForAsync(Ms(3000));

        Assert.Equal(["Wellknown  fact."], t.Tts.Texts);
    }
}

[Collection(nameof(TimelineCollection))]
public sealed class VerbatimMetaInfoTimelineTests
{
    [Fact]
    public async Task SendTtsText_MetadataAtStartOrEnd_IsTakenOut_AndSentWhenPlaying()
    {
        await using var t = new VoiceTimeline(metaInfo: new MetaInfoRules("[[", "]]", ["action"]));
        await t.RunForAsync(TimeSpan.FromMilliseconds(50));
        t.Session.SubmitSpeech(new SpeechRequest("""[[{"action":"a1"}]]Today is fine. [[{"action":"a2"}]]"""));
        await t.RunForAsync(TimeSpan.FromMilliseconds(3000));

        Assert.Equal(["Today is fine."], t.Tts.Texts);
        Assert.Equal("Today is fine.", string.Concat(t.All<ReplyTextDeltaEvent>().Select(d => d.Delta)));
        var meta = Assert.Single(t.All<AgentMetaInfoEvent>());
        Assert.Equal("""{"action":"a2"}""", meta.MetaInfo.ToJsonString());
        Assert.True(t.TimeOf<AgentMetaInfoEvent>() >= t.Sink.Played.First(f => f.Marker != 0).At - TimeSpan.FromMilliseconds(25));
    }
}
