using System.Text.Json.Nodes;
using Parley.Abstractions.Speech;
using Parley.Providers.DashScope;
using Parley.Providers.Net;
using Parley.Testing.Fakes.QwenAsr;
using static Parley.Providers.Tests.RecognitionTestKit;

namespace Parley.Providers.Tests.QwenAsr;

public sealed class QwenAsrRecognizerProviderTests
{
    private const string Transcript = "what is the weather like today";

    [Fact]
    public async Task TwoUtterancesOnOneSession_PartialsThenTranscript_SessionParamsMerged()
    {
        await using var fake = await FakeQwenAsrServer.StartAsync(new FakeQwenAsrOptions { Transcript = Transcript });
        using var provider = new QwenAsrRecognizerProvider(new QwenAsrOptions { Url = fake.Url }, dashScopeApiKey: fake.Options.ApiKey);
        var parameters = JsonNode.Parse("""{"session":{"input_audio_transcription":{"language":"en"},"turn_detection":{"type":"server_vad"}}}""")!.AsObject();
        await using var stream = provider.Open(new SpeechRecognitionOptions(parameters, null));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);

        for (var i = 0; i < 2; i++)
        {
            await PushSpeechAsync(stream, TimeSpan.FromSeconds(1));
            await stream.EndUtteranceAsync(CancellationToken.None);
            var seen = await ReadUtteranceAsync(results);
            Assert.Equal(new SpeechRecognitionResult(Transcript, IsFinal: true), seen[^1]);
            var partials = seen.Where(r => !r.IsFinal).Select(r => r.Text).ToList();
            Assert.True(partials.Count >= 3, $"partials: {string.Join(" | ", partials)}");
            Assert.All(partials, p => Assert.StartsWith(p, Transcript));
        }

        Assert.Equal(1, fake.ConnectionsAccepted);
        Assert.Equal(2, fake.Commits);
        Assert.Equal(0, fake.ProtocolErrors);
        Assert.Equal(64000, fake.AudioBytesReceived);
        Assert.Equal([QwenAsrOptions.DefaultModel], fake.Models);
        var update = Assert.Single(fake.SessionUpdates);
        Assert.Equal("en", update["input_audio_transcription"]!["language"]!.GetValue<string>());
        Assert.Null(update["turn_detection"]); // Parley's VAD decides: manual mode wins over the agent's server_vad
    }

    [Fact]
    public async Task WrongKey_IsUnauthorized_AndErrorEventsKeepTheirKind()
    {
        await using var fake = await FakeQwenAsrServer.StartAsync();
        using var wrong = new QwenAsrRecognizerProvider(new QwenAsrOptions { Url = fake.Url }, dashScopeApiKey: "sk-wrong");
        await using (var stream = wrong.Open(new SpeechRecognitionOptions(null, null)))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);
            await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(200));
            var error = await Assert.ThrowsAsync<SpeechVendorException>(async () => await results.MoveNextAsync());
            Assert.Equal(VendorFailureKind.Unauthorized, error.Kind);
            Assert.DoesNotContain("sk-wrong", error.Message, StringComparison.Ordinal);
        }

        fake.FailNext("Throttling.RateQuota", "rate_limit_error");
        using var right = new QwenAsrRecognizerProvider(new QwenAsrOptions { Url = fake.Url }, dashScopeApiKey: fake.Options.ApiKey);
        await using (var stream = right.Open(new SpeechRecognitionOptions(null, null)))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);
            try
            {
                await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(600));
                await stream.EndUtteranceAsync(CancellationToken.None);
            }
            catch (InvalidOperationException)
            {
            }

            var error = await Assert.ThrowsAsync<SpeechVendorException>(async () => await ReadUtteranceAsync(results));
            Assert.Equal(VendorFailureKind.RateLimited, error.Kind);
            Assert.Equal("Throttling.RateQuota", error.ErrorCode);
        }
    }

    [Fact]
    public void Validate_NamesTheField()
    {
        using var bare = new QwenAsrRecognizerProvider(new QwenAsrOptions());
        Assert.Contains("ASR.Params.app.api_key", bare.Validate(null), StringComparison.Ordinal);
        Assert.Contains("Parley:Vendors:DashScope:ApiKey", bare.Validate(null), StringComparison.Ordinal);
        Assert.Null(bare.Validate(new JsonObject { ["app"] = new JsonObject { ["api_key"] = "sk-1" } }));
        using var configured = new QwenAsrRecognizerProvider(new QwenAsrOptions(), dashScopeApiKey: "sk-deploy");
        Assert.Null(configured.Validate(JsonNode.Parse("""{"session":{"input_audio_transcription":{"language":"zh"}}}""")!.AsObject()));
        Assert.Contains("ASR.Params.session", configured.Validate(new JsonObject { ["session"] = "zh" }), StringComparison.Ordinal);
        Assert.Contains("sample_rate", configured.Validate(JsonNode.Parse("""{"session":{"sample_rate":8000}}""")!.AsObject()), StringComparison.Ordinal);
        Assert.Contains("language", configured.Validate(JsonNode.Parse("""{"session":{"input_audio_transcription":{"language":1}}}""")!.AsObject()), StringComparison.Ordinal);
    }
}
