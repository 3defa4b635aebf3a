using System.Text.Json.Nodes;
using Parley.Abstractions.Speech;
using Parley.Providers.DashScope;
using Parley.Testing.Fakes;

namespace Parley.Providers.Tests.DashScope;

public sealed class ParaformerRecognizerProviderTests
{
    private const string Key = "sk-test-paraformer";
    private const string Transcript = "what is the weather like today";

    [Fact]
    public async Task Utterance_YieldsGrowingPartialsThenOneFinal()
    {
        await using var fake = await StartFakeAsync();
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        await using var stream = Open(pool, new JsonObject { ["language_hints"] = new JsonArray("en"), ["engine_model_type"] = "16k_en" });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);

        await PushSpeechAsync(stream, TimeSpan.FromSeconds(1));
        await stream.EndUtteranceAsync(CancellationToken.None);

        var seen = new List<SpeechRecognitionResult>();
        while (await results.MoveNextAsync())
        {
            seen.Add(results.Current);
            if (results.Current.IsFinal)
            {
                break;
            }
        }

        var partials = seen.Where(r => !r.IsFinal).Select(r => r.Text).ToList();
        Assert.True(partials.Count >= 3, $"partials: {string.Join(" | ", partials)}");
        Assert.All(partials, p => Assert.StartsWith(p, Transcript));
        Assert.Equal(partials.OrderBy(p => p.Length), partials);
        Assert.Equal(new SpeechRecognitionResult(Transcript, IsFinal: true), seen[^1]);
        Assert.Equal(32000, fake.AudioBytesReceived);

        // The run-task asked for Paraformer with 16 kHz PCM, passed language_hints, dropped ZEGO's engine_model_type.
        var payload = fake.LastRunTask!["payload"]!;
        Assert.Equal("asr", payload["task"]!.GetValue<string>());
        Assert.Equal("recognition", payload["function"]!.GetValue<string>());
        Assert.Equal(ParaformerRecognizerProvider.DefaultModel, payload["model"]!.GetValue<string>());
        Assert.Equal("pcm", payload["parameters"]!["format"]!.GetValue<string>());
        Assert.Equal(16000, payload["parameters"]!["sample_rate"]!.GetValue<int>());
        Assert.Equal("en", payload["parameters"]!["language_hints"]![0]!.GetValue<string>());
        Assert.Null(payload["parameters"]!["engine_model_type"]);
        Assert.Null(payload["parameters"]!["app"]);
    }

    [Fact]
    public async Task TwoUtterances_OneFinalEach_OnOneConnection()
    {
        await using var fake = await StartFakeAsync();
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        await using var stream = Open(pool);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);

        var finals = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(600));
            await stream.EndUtteranceAsync(CancellationToken.None);
            while (await results.MoveNextAsync())
            {
                if (results.Current.IsFinal)
                {
                    finals.Add(results.Current.Text);
                    break;
                }
            }
        }

        Assert.Equal([Transcript, Transcript], finals);
        Assert.Equal(2, fake.AsrTasksStarted);
        Assert.Equal(1, fake.ConnectionsAccepted);
    }

    [Fact]
    public async Task EndWithoutAudio_YieldsAnEmptyFinal_WithoutATask()
    {
        await using var fake = await StartFakeAsync();
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        await using var stream = Open(pool);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);

        await stream.EndUtteranceAsync(CancellationToken.None);

        Assert.True(await results.MoveNextAsync());
        Assert.Equal(new SpeechRecognitionResult("", IsFinal: true), results.Current);
        Assert.Equal(0, fake.TasksStarted);
    }

    [Fact]
    public async Task TaskFailed_EndsResultsWithTheVendorError()
    {
        await using var fake = await StartFakeAsync();
        fake.FailNextTask("Arrearage", "account in arrears");
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        await using var stream = Open(pool);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));

        await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(200));
        var error = await Assert.ThrowsAsync<DashScopeException>(async () =>
        {
            await foreach (var _ in stream.Results(timeout.Token))
            {
            }
        });

        Assert.Equal("Arrearage", error.ErrorCode);
        Assert.Contains("AliyunParaformer", error.Message);
        Assert.Contains("account in arrears", error.Message);
    }

    [Fact]
    public async Task WrongApiKey_EndsResultsWithUnauthorized_WithoutTheKey()
    {
        await using var fake = await StartFakeAsync();
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        await using var stream = Open(pool, apiKey: "sk-not-the-key");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));

        await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(100));
        var error = await Assert.ThrowsAsync<DashScopeException>(async () =>
        {
            await foreach (var _ in stream.Results(timeout.Token))
            {
            }
        });

        Assert.Contains("401", error.Message);
        Assert.DoesNotContain("sk-not-the-key", error.ToString());
    }

    [Fact]
    public async Task NoParams_WithTheDeploymentKey_RecognisesWithThatKey()
    {
        // ZEGO clients send ASR.Vendor "AliyunParaformer" with no Params at all: the deployment's key is used.
        await using var fake = await StartFakeAsync();
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url, ApiKey = Key });
        var provider = new ParaformerRecognizerProvider(pool);
        Assert.Null(provider.Validate(null));
        Assert.Null(provider.Validate(new JsonObject { ["app"] = new JsonObject { ["api_key"] = "zego_test" } }));
        Assert.Contains("ASR.Params.app", provider.Validate(new JsonObject { ["app"] = "k" }));
        await using var stream = provider.Open(new SpeechRecognitionOptions(null, null));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);

        await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(400));
        await stream.EndUtteranceAsync(CancellationToken.None);
        SpeechRecognitionResult final = default;
        while (await results.MoveNextAsync() && !(final = results.Current).IsFinal)
        {
        }

        Assert.Equal(new SpeechRecognitionResult(Transcript, IsFinal: true), final);
        Assert.Equal(0, fake.ConnectionsRejected);
    }

    [Theory]
    [InlineData(null, "ASR.Params.app.api_key is required")]
    [InlineData("""{"app":{}}""", "ASR.Params.app.api_key is required")]
    [InlineData("""{"app":{"api_key":"k"},"sample_rate":8000}""", "ASR.Params.sample_rate")]
    [InlineData("""{"app":{"api_key":"k"},"model":5}""", "ASR.Params.model")]
    public void Validate_NamesTheBadField(string? json, string expected)
    {
        using var pool = new DashScopeConnectionPool();
        var error = new ParaformerRecognizerProvider(pool).Validate(json is null ? null : JsonNode.Parse(json) as JsonObject);
        Assert.NotNull(error);
        Assert.Contains(expected, error);
    }

    private static Task<FakeDashScopeServer> StartFakeAsync() => FakeDashScopeServer.StartAsync(new FakeDashScopeOptions
    {
        ApiKey = Key,
        AsrTranscript = Transcript,
        AsrPartialInterval = TimeSpan.FromMilliseconds(200),
        AsrFinalDelay = TimeSpan.FromMilliseconds(50),
    });

    private static ISpeechRecognitionStream Open(DashScopeConnectionPool pool, JsonObject? extra = null, string apiKey = Key)
    {
        var parameters = extra ?? [];
        parameters["app"] = new JsonObject { ["api_key"] = apiKey };
        return new ParaformerRecognizerProvider(pool).Open(new SpeechRecognitionOptions(parameters, "Parley|10"));
    }

    /// <summary>Pushes a 300 Hz tone in 20 ms frames (as the room delivers audio), without real-time pacing.</summary>
    private static async Task PushSpeechAsync(ISpeechRecognitionStream stream, TimeSpan duration)
    {
        var frame = new short[320];
        var frames = (int)(duration.TotalMilliseconds / 20);
        for (var f = 0; f < frames; f++)
        {
            for (var i = 0; i < frame.Length; i++)
            {
                frame[i] = (short)(8000 * Math.Sin(2 * Math.PI * 300 * ((f * 320) + i) / 16000.0));
            }

            await stream.PushAsync(frame, CancellationToken.None);
        }
    }
}
