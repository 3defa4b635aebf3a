using System.Text.Json.Nodes;
using Parley.Abstractions.Speech;
using Parley.Providers.DashScope;
using Parley.Providers.Net;
using Parley.Testing.Fakes;

namespace Parley.Providers.Tests.DashScope;

/// <summary>TTS.Url (the request's endpoint) and per-sentence Params overrides (TTSParamPaths) on CosyVoice.</summary>
public sealed class CosyVoiceRequestTests
{
    private const string Key = "sk-test-cosyvoice";

    /// <summary>A configured URL nothing listens on: only TTS.Url reaches the fake.</summary>
    private const string Nowhere = "ws://127.0.0.1:9/api-ws/v1/inference";

    private static async Task<long> SpeakAsync(ITextToSpeech tts, TtsRequest request, string text)
    {
        long samples = 0;
        await using var stream = tts.Open(request);
        await stream.PushTextAsync(text, CancellationToken.None);
        await stream.FlushAsync(CancellationToken.None);
        await foreach (var piece in stream.ReadAsync(CancellationToken.None))
        {
            using var chunk = piece.Audio;
            samples += chunk.Length;
        }

        return samples;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TtsUrl_IsTheEndpoint(bool asHttp)
    {
        await using var fake = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions { ApiKey = Key, TtsFirstAudio = TimeSpan.Zero });
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = Nowhere });
        var provider = new CosyVoiceTtsProvider(pool);
        var url = asHttp ? fake.Url.Replace("ws://", "http://", StringComparison.Ordinal) : fake.Url;

        var samples = await SpeakAsync(provider, new TtsRequest(CosyVoiceTtsProviderTests.Params()) { Endpoint = new Uri(url) }, "Hello.");

        Assert.Equal("Hello.".Length * 60 * 24, samples);
        Assert.Equal(1, fake.TtsTasksStarted);
    }

    [Fact]
    public async Task TtsUrl_RefusedByTheOutboundPolicy_Throws_AndConnectsNowhere()
    {
        await using var fake = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions { ApiKey = Key, TtsFirstAudio = TimeSpan.Zero });
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url }, policy: new OutboundPolicy(allowLoopback: false, allowPrivateNetworks: false));
        var provider = new CosyVoiceTtsProvider(pool);

        var ex = await Assert.ThrowsAsync<OutboundPolicyException>(() => SpeakAsync(provider, new TtsRequest(CosyVoiceTtsProviderTests.Params()) { Endpoint = new Uri(fake.Url) }, "Hello."));

        Assert.Contains("TTS.Url", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, fake.ConnectionsAccepted);
    }

    [Fact]
    public async Task ParameterOverride_GoesIntoThatSentencesRunTaskOnly()
    {
        await using var fake = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions { ApiKey = Key, TtsFirstAudio = TimeSpan.Zero });
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        var provider = new CosyVoiceTtsProvider(pool);
        var parameters = CosyVoiceTtsProviderTests.Params();

        await SpeakAsync(provider, new TtsRequest(parameters), "Sentence one.");
        var first = fake.LastRunTask!;
        await SpeakAsync(provider, new TtsRequest(parameters) { Overrides = [new TtsParameterOverride("payload.parameters.instruction", "speak gently")] }, "Sentence two.");
        var second = fake.LastRunTask!;
        await SpeakAsync(provider, new TtsRequest(parameters), "Sentence three.");
        var third = fake.LastRunTask!;

        Assert.Null(first["payload"]!["parameters"]!["instruction"]);
        Assert.Equal("speak gently", second["payload"]!["parameters"]!["instruction"]!.GetValue<string>());
        Assert.Equal("longxiaochun_v2", second["payload"]!["parameters"]!["voice"]!.GetValue<string>());
        Assert.Null(third["payload"]!["parameters"]!["instruction"]);
        Assert.Null(parameters["payload"]!["parameters"]!["instruction"]);
    }
}
