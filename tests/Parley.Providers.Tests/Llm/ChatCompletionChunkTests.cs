using System.Text;
using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Providers.Llm;

namespace Parley.Providers.Tests.Llm;

/// <summary>The Chat Completions stream's chunks as <see cref="OpenAICompatibleChatModel"/> reads them.</summary>
public sealed class ChatCompletionChunkTests
{
    private static (string? Text, int AudioBytes, bool Finished) Read(string json, OpenAICompatibleChatModel.AudioScratch? audio = null) =>
        OpenAICompatibleChatModel.ReadChunk(Encoding.UTF8.GetBytes(json), audio);

    [Fact]
    public void Content_OfTheFirstChoice_IsTheText_AndFinishReasonEndsIt()
    {
        Assert.Equal(("Hel\"lo\n", 0, false), Read("""{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel\"lo\n"},"logprobs":null,"finish_reason":null}],"x":{"y":[1,2]}}"""));
        Assert.Equal((null, 0, true), Read("""{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"""));
        Assert.Equal(("a", 0, false), Read("""{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"},"finish_reason":"stop"}]}"""));
        Assert.Equal((null, 0, false), Read("""{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}"""));
        Assert.Equal((null, 0, false), Read("""{"choices":[{"delta":{"content":null,"reasoning_content":"thinking"}}]}"""));
    }

    [Fact]
    public void Audio_IsDecoded_OnlyWhenTheModelIsAskedToSpeak()
    {
        var pcm = new byte[] { 1, 2, 3, 4, 250 };
        var json = """{"choices":[{"delta":{"audio":{"id":"a1","transcript":"Hi","data":"B64"}}}]}""".Replace("B64", Convert.ToBase64String(pcm), StringComparison.Ordinal);
        using var audio = new OpenAICompatibleChatModel.AudioScratch();

        var spoken = Read(json, audio);

        Assert.Equal(("Hi", pcm.Length, false), spoken);
        Assert.Equal(pcm, audio.Buffer.AsSpan(0, spoken.AudioBytes).ToArray());
        Assert.Equal((null, 0, false), Read(json)); // a text-only reply ignores audio deltas
        var escaped = Read("""{"choices":[{"delta":{"audio":{"data":"AQID\/w=="}}}]}""", audio); // "\/" is a legal escape of "/"
        Assert.Equal(new byte[] { 1, 2, 3, 255 }, audio.Buffer.AsSpan(0, escaped.AudioBytes).ToArray());
        Assert.Equal(("x", 0, false), Read("""{"choices":[{"delta":{"audio":null,"content":"x"}}]}""", audio)); // no audio object: skipped
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("{\"choices\":[{\"delta\":{\"content\":\"cut")]
    public void Malformed_FailsTheReply_WithoutEchoingIt(string json)
    {
        var error = Assert.Throws<LlmException>(() => Read(json));
        Assert.Equal(LlmErrorKind.General, error.Kind);
        Assert.Equal("LLM request failed: invalid response", error.Message);
    }

    [Fact]
    public void AnErrorEvent_FailsTheReply_AndBadAudioIsMalformed()
    {
        var error = Assert.Throws<LlmException>(() => Read("""{"error":{"message":"internal db7 overloaded","code":"x"}}"""));
        Assert.Equal("LLM request failed: an error event", error.Message);
        Assert.Equal((null, 0, false), Read("""{"error":null,"choices":[]}"""));
        using var audio = new OpenAICompatibleChatModel.AudioScratch();
        Assert.Equal("LLM request failed: invalid response", Assert.Throws<LlmException>(() => Read("""{"choices":[{"delta":{"audio":{"data":"%%%"}}}]}""", audio)).Message);
    }

    [Fact]
    public void Body_WritesTextAsUtf8_AndAgentInfoWinsOverAParamOfItsName()
    {
        var parameters = new JsonObject { ["agent_info"] = "from params", ["stream"] = false };
        var request = new ChatModelRequest(
            new LlmSettings("http://x/", "k", "m", null, 0.7, 0.9, parameters, AddAgentInfo: true),
            "你好", [], "é", new SessionIdentity("i", "r", "a", "u"), 2, 3);

        var bytes = OpenAICompatibleChatModel.BuildBody(request);
        var text = Encoding.UTF8.GetString(bytes);
        var body = JsonNode.Parse(bytes)!.AsObject();

        Assert.Contains("你好", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u", text, StringComparison.Ordinal);
        Assert.Equal("i", body["agent_info"]!["agent_instance_id"]!.GetValue<string>());
        Assert.False(body["stream"]!.GetValue<bool>()); // Params win over the fields Parley writes
        Assert.Single(body, p => p.Key == "stream");
        Assert.Equal(0.7, body["temperature"]!.GetValue<double>());
    }
}
