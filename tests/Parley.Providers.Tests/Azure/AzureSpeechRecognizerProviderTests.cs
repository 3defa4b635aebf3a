using System.Text.Json.Nodes;
using Parley.Abstractions.Speech;
using Parley.Providers.Azure;
using Parley.Providers.Net;
using Parley.Testing.Fakes.Azure;
using static Parley.Providers.Tests.RecognitionTestKit;

namespace Parley.Providers.Tests.Azure;

public sealed class AzureSpeechRecognizerProviderTests
{
    private const string Transcript = "What is the weather like today?";

    [Fact]
    public async Task TwoTurnsOnOneConnection_HypothesesThenPhrase_LanguageAndPhraseListSent()
    {
        await using var fake = await FakeAzureSpeechServer.StartAsync(new FakeAzureSpeechOptions { Transcript = Transcript });
        using var provider = Provider(fake);
        await using var stream = provider.Open(new SpeechRecognitionOptions(
            new JsonObject { ["language"] = "en-GB", ["phrase_list"] = new JsonArray("zego", "microsoft") }, null));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);

        var utterances = new List<List<SpeechRecognitionResult>>();
        for (var i = 0; i < 2; i++)
        {
            await PushSpeechAsync(stream, TimeSpan.FromSeconds(1.2));
            await stream.EndUtteranceAsync(CancellationToken.None);
            utterances.Add(await ReadUtteranceAsync(results));
        }

        foreach (var seen in utterances)
        {
            Assert.Equal(new SpeechRecognitionResult(Transcript, IsFinal: true), seen[^1]);
            var partials = seen.Where(r => !r.IsFinal).Select(r => r.Text).ToList();
            Assert.True(partials.Count >= 3, $"partials: {string.Join(" | ", partials)}");
            Assert.StartsWith("what is", partials[1], StringComparison.Ordinal);
        }

        Assert.Empty(fake.Violations);
        Assert.Equal(1, fake.ConnectionsAccepted);
        Assert.Equal(2, fake.TurnsCompleted);
        Assert.Equal(2 * 38400, fake.AudioBytesReceived);
        Assert.Equal(["en-GB"], fake.Languages);
        Assert.All(fake.PhraseLists, p => Assert.Equal(["zego", "microsoft"], p));
        Assert.Equal(2, fake.PhraseLists.Count);
        await WaitAsync(() => fake.TelemetryReceived == 2, "turn.end not acknowledged with telemetry");
    }

    [Fact]
    public async Task WrongKey_EndsResultsWithUnauthorized_WithoutTheKey()
    {
        await using var fake = await FakeAzureSpeechServer.StartAsync();
        using var provider = new AzureSpeechRecognizerProvider(new AzureSpeechOptions { Url = fake.Url, Key = "wrong-key-123" });
        await using var stream = provider.Open(new SpeechRecognitionOptions(null, null));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);
        await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(200));

        var error = await Assert.ThrowsAsync<SpeechVendorException>(async () => await results.MoveNextAsync());
        Assert.Equal(VendorFailureKind.Unauthorized, error.Kind);
        Assert.DoesNotContain("wrong-key-123", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BearerToken_FromParams_IsAccepted()
    {
        await using var fake = await FakeAzureSpeechServer.StartAsync(new FakeAzureSpeechOptions { Transcript = Transcript });
        using var provider = new AzureSpeechRecognizerProvider(new AzureSpeechOptions { Url = fake.Url });
        await using var stream = provider.Open(new SpeechRecognitionOptions(new JsonObject { ["app"] = new JsonObject { ["token"] = fake.Options.Token } }, null));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);
        await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(600));
        await stream.EndUtteranceAsync(CancellationToken.None);
        Assert.Equal(Transcript, (await ReadUtteranceAsync(results))[^1].Text);
        Assert.Equal(["en-US"], fake.Languages);
    }

    [Theory]
    [InlineData(4429, VendorFailureKind.RateLimited)]
    [InlineData(1008, VendorFailureKind.Unauthorized)]
    [InlineData(1011, VendorFailureKind.ServiceError)]
    public async Task CloseCodeMidTurn_EndsResultsWithItsKind(int code, VendorFailureKind kind)
    {
        await using var fake = await FakeAzureSpeechServer.StartAsync();
        fake.CloseNextTurn(code);
        using var provider = Provider(fake);
        await using var stream = provider.Open(new SpeechRecognitionOptions(null, null));
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
        Assert.Equal(kind, error.Kind);
    }

    [Fact]
    public void Validate_NamesTheField()
    {
        using var bare = new AzureSpeechRecognizerProvider(new AzureSpeechOptions());
        Assert.Contains("ASR.Params.app.key", bare.Validate(null), StringComparison.Ordinal);
        Assert.Contains("Parley:Vendors:Microsoft:Key", bare.Validate(null), StringComparison.Ordinal);
        Assert.Contains("ASR.Params.app.region", bare.Validate(new JsonObject { ["app"] = new JsonObject { ["key"] = "k" } }), StringComparison.Ordinal);
        Assert.Null(bare.Validate(new JsonObject { ["app"] = new JsonObject { ["key"] = "k", ["region"] = "eastus" } }));

        using var configured = new AzureSpeechRecognizerProvider(new AzureSpeechOptions { Key = "k", Region = "westeurope" });
        Assert.Null(configured.Validate(new JsonObject { ["language"] = "en-US", ["phrase_list"] = new JsonArray("zego") }));
        Assert.Contains("ASR.Params.phrase_list", configured.Validate(new JsonObject { ["phrase_list"] = "zego" }), StringComparison.Ordinal);
        Assert.Contains("ASR.Params.language", configured.Validate(new JsonObject { ["language"] = 7 }), StringComparison.Ordinal);
        Assert.Equal(
            "wss://westeurope.stt.speech.microsoft.com/speech/recognition/conversation/cognitiveservices/v1",
            configured.Options.EndpointFor(null));
    }

    private static AzureSpeechRecognizerProvider Provider(FakeAzureSpeechServer fake) => new(new AzureSpeechOptions { Url = fake.Url, Key = fake.Options.Key });

    private static async Task WaitAsync(Func<bool> condition, string message)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, message);
            await Task.Delay(10);
        }
    }
}
