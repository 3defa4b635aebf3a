using System.Text.Json.Nodes;
using Parley.Core.Sessions;
using Parley.Providers.Llm;
using Parley.Providers.Net;
using Parley.Testing.FakeLlm;

namespace Parley.Providers.Tests.Llm;

/// <summary>Audio-output models over Chat Completions: <c>delta.audio.data</c> is the model's voice, <c>delta.audio.transcript</c> its text.</summary>
public sealed class AudioOutputChatModelTests
{
    private static ChatModelRequest Request(string url, string parameters) => new(
        new LlmSettings(url, "sk-omni", "qwen3-omni-flash", null, 0.7, 0.9, JsonNode.Parse(parameters)!.AsObject(), false),
        null, [], "hello", new SessionIdentity("1", "r", "a", "u"), 1, 0);

    [Fact]
    public async Task StreamOutput_YieldsTheTranscriptAsText_AndTheAudioBytesAt24kHz()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        var pcm = Enumerable.Range(0, 4800).Select(i => (short)(i % 200 - 100)).ToArray();
        llm.Enqueue(FakeLlmResponse.AudioReply(TimeSpan.Zero, ("Hi", pcm), (" there.", pcm)));
        using var model = new OpenAICompatibleChatModel();
        var text = "";
        var bytes = new List<byte>();
        await foreach (var piece in model.StreamOutputAsync(Request(llm.Url, """{"modalities":["text","audio"],"audio":{"voice":"Cherry","format":"pcm"}}"""), CancellationToken.None))
        {
            text += piece.Text;
            if (!piece.Audio.IsEmpty)
            {
                Assert.Equal(24000, piece.SampleRate);
                bytes.AddRange(piece.Audio.ToArray());
            }
        }

        Assert.Equal("Hi there.", text);
        Assert.Equal(pcm.Length * 2 * 2, bytes.Count);
        Assert.Equal(pcm[5], BitConverter.ToInt16([.. bytes.Skip(10).Take(2)]));
    }

    [Fact]
    public async Task TextOnlyParams_IgnoreAudio_AndAnUnplayableFormatIsAParameterError()
    {
        await using var llm = await FakeLlmServer.StartAsync();
        llm.Enqueue(FakeLlmResponse.Reply("Plain", " text."));
        using var model = new OpenAICompatibleChatModel();
        var pieces = new List<ChatOutput>();
        await foreach (var piece in model.StreamOutputAsync(Request(llm.Url, """{"max_tokens":10}"""), CancellationToken.None))
        {
            pieces.Add(piece);
        }

        Assert.Equal("Plain text.", string.Concat(pieces.Select(p => p.Text)));
        Assert.All(pieces, p => Assert.True(p.Audio.IsEmpty));

        var error = await Assert.ThrowsAsync<LlmException>(async () =>
        {
            await foreach (var _ in model.StreamOutputAsync(Request(llm.Url, """{"modalities":["text","audio"],"audio":{"format":"mp3"}}"""), CancellationToken.None))
            {
            }
        });
        Assert.Equal(LlmErrorKind.InvalidParameter, error.Kind);
        Assert.Contains("LLM.Params.audio.format", error.Message, StringComparison.Ordinal);
    }
}
