using System.Runtime.CompilerServices;
using Parley.Core.Sessions;
using Parley.Providers.Llm;

namespace Parley.Providers.Tests.Llm;

/// <summary>ZEGO's trial key (<c>LLM.ApiKey</c> "zego_test") is served by <c>Parley:Llm:Trial</c> or the demo LLM.</summary>
public sealed class ZegoTrialChatModelTests
{
    private const string Ark = "https://ark.cn-beijing.volces.com/api/v3/chat/completions";

    private static ChatModelRequest Request(string url, string key, string model = "doubao-1-5-lite-32k-250115") => new(
        new LlmSettings(url, key, model, null, 0.7, 0.9, null, false), null, [], "hello", new SessionIdentity("1", "r", "a", "u"), 1, 0);

    [Fact]
    public async Task TrialKey_WithNothingConfigured_IsAnsweredByTheDemoLlm()
    {
        var inner = new Recording("inner");
        var trial = new Recording("trial");
        var model = new ZegoTrialChatModel(inner, trial, new DemoChatModel { WordInterval = TimeSpan.Zero }, new ZegoTrialLlmOptions());

        var text = await Collect(model.StreamReplyAsync(Request(Ark, "zego_test"), CancellationToken.None));

        Assert.StartsWith(DemoChatModel.Label, text, StringComparison.Ordinal);
        Assert.Empty(inner.Seen);
        Assert.Empty(trial.Seen);
    }

    [Fact]
    public async Task TrialKey_WithATrialLlmConfigured_GoesThereWithItsKeyAndModel()
    {
        var inner = new Recording("inner");
        var trial = new Recording("trial");
        var options = new ZegoTrialLlmOptions { Url = "http://127.0.0.1:11434/v1/chat/completions", ApiKey = "operator-key", Model = "llama3" };
        var model = new ZegoTrialChatModel(inner, trial, new DemoChatModel(), options);

        Assert.Equal("trial", await Collect(model.StreamReplyAsync(Request(Ark, "zego_test"), CancellationToken.None)));

        var seen = Assert.Single(trial.Seen);
        Assert.Equal((options.Url, "operator-key", "llama3"), (seen.Url, seen.ApiKey, seen.Model));
        Assert.Empty(inner.Seen);

        // No model configured: the agent's own model is asked for.
        var keepModel = new ZegoTrialChatModel(inner, trial, new DemoChatModel(), new ZegoTrialLlmOptions { Url = options.Url });
        await Collect(keepModel.StreamReplyAsync(Request(Ark, "zego_test", "qwen-plus"), CancellationToken.None));
        Assert.Equal("qwen-plus", trial.Seen[^1].Model);
    }

    [Fact]
    public async Task AnyOtherKey_GoesToTheAgentsOwnLlmUnchanged()
    {
        var inner = new Recording("inner");
        var trial = new Recording("trial");
        var model = new ZegoTrialChatModel(inner, trial, new DemoChatModel(), new ZegoTrialLlmOptions { Url = "http://127.0.0.1:1/v1" });

        Assert.Equal("inner", await Collect(model.StreamReplyAsync(Request(Ark, "sk-real"), CancellationToken.None)));
        Assert.Equal("inner", await Collect(model.StreamReplyAsync(Request(Ark, "ZEGO_TEST"), CancellationToken.None)));
        Assert.All(inner.Seen, s => Assert.NotEqual("http://127.0.0.1:1/v1", s.Url));
        Assert.Empty(trial.Seen);
    }

    [Theory]
    [InlineData(Ark, true)]
    [InlineData("https://ark.cn-beijing.volces.com/api/v3/chat/completions/", true)]
    [InlineData("HTTPS://API.STEPFUN.COM/v1/chat/completions", true)]
    [InlineData("https://api.minimax.chat/v1/text/chatcompletion_v2", true)]
    [InlineData("https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions", true)]
    [InlineData("https://api.openai.com/v1/chat/completions", false)]
    [InlineData("https://ark.cn-beijing.volces.com/api/v3/responses", true)]
    [InlineData("https://ark.cn-beijing.volces.com/api/v3/embeddings", false)]
    [InlineData("http://ark.cn-beijing.volces.com/api/v3/chat/completions", false)]
    [InlineData("not a url", false)]
    public void TrialUrls_AreZegosFour(string url, bool allowed) => Assert.Equal(allowed, ZegoTrialChatModel.IsTrialUrl(url));

    [Fact]
    public void Options_RefuseAnUnusableUrl()
    {
        Assert.Throws<ArgumentException>(() => new ZegoTrialLlmOptions { Url = "ftp://x" }.Validate());
        new ZegoTrialLlmOptions { Url = DemoChatModel.Url }.Validate();
        new ZegoTrialLlmOptions().Validate();
    }

    private static async Task<string> Collect(IAsyncEnumerable<string> tokens)
    {
        var text = "";
        await foreach (var token in tokens)
        {
            text += token;
        }

        return text;
    }

    private sealed class Recording(string answer) : IChatModel
    {
        public List<LlmSettings> Seen { get; } = [];

        public async IAsyncEnumerable<string> StreamReplyAsync(ChatModelRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            Seen.Add(request.Settings);
            await Task.Yield();
            yield return answer;
        }
    }
}
