using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Parley.Abstractions.Audio;
using Parley.Providers.DashScope;
using Parley.Testing.Fakes;

namespace Parley.Providers.Tests.DashScope;

public sealed class CosyVoiceTtsProviderTests
{
    private const string Key = "sk-test-cosyvoice";

    [Fact]
    public async Task Synthesize_StreamsNonSilentPcmAtRequestedRate_AfterTheFirstAudioLatency_FasterThanRealTime()
    {
        await using var fake = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions { ApiKey = Key, TtsFirstAudio = TimeSpan.FromMilliseconds(300) });
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        var provider = new CosyVoiceTtsProvider(pool);
        const string text = "Hello there, how are you?";
        var parameters = Params(new JsonObject { ["voice"] = "longxiaochun_v2", ["volume"] = 60 }, extraPayload: ("custom_flag", "x"));

        var started = Stopwatch.GetTimestamp();
        TimeSpan? first = null;
        long samples = 0;
        double energy = 0;
        await foreach (var chunk in provider.SynthesizeAsync(text, parameters, CancellationToken.None))
        {
            using (chunk)
            {
                first ??= Stopwatch.GetElapsedTime(started);
                Assert.Equal(CosyVoiceTtsProvider.DefaultSampleRate, chunk.SampleRate);
                samples += chunk.Length;
                foreach (var s in chunk.Samples)
                {
                    energy += (double)s * s;
                }
            }
        }

        var total = Stopwatch.GetElapsedTime(started);
        var expected = text.Length * 60 * 24; // 60 ms of 24 kHz audio per character
        Assert.Equal(expected, samples);
        Assert.True(first >= TimeSpan.FromMilliseconds(290), $"first audio after {first?.TotalMilliseconds} ms; the fake holds it 300 ms");
        Assert.True(total < TimeSpan.FromSeconds((double)expected / 24000), $"synthesis took {total.TotalMilliseconds} ms, not faster than real time");
        Assert.True(Math.Sqrt(energy / samples) > 1000, "the audio is (nearly) silent");

        // The run-task carried Parley's required fields and the user's payload merged in.
        var runTask = fake.LastRunTask!;
        Assert.Equal("duplex", runTask["header"]!["streaming"]!.GetValue<string>());
        var payload = runTask["payload"]!;
        Assert.Equal("tts", payload["task"]!.GetValue<string>());
        Assert.Equal("SpeechSynthesizer", payload["function"]!.GetValue<string>());
        Assert.Equal("cosyvoice-v2", payload["model"]!.GetValue<string>());
        Assert.Equal("x", payload["custom_flag"]!.GetValue<string>());
        Assert.Equal("pcm", payload["parameters"]!["format"]!.GetValue<string>());
        Assert.Equal(24000, payload["parameters"]!["sample_rate"]!.GetValue<int>());
        Assert.Equal(60, payload["parameters"]!["volume"]!.GetValue<int>());
        Assert.Null(payload["app"]);
    }

    [Fact]
    public async Task Synthesize_HonoursTheRequestedSampleRate()
    {
        await using var fake = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions { ApiKey = Key, TtsFirstAudio = TimeSpan.Zero });
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        var provider = new CosyVoiceTtsProvider(pool);

        var chunks = await CollectAsync(provider.SynthesizeAsync("Sixteen k.", Params(new JsonObject { ["sample_rate"] = 16000 }), CancellationToken.None));

        Assert.All(chunks, c => Assert.Equal(16000, c.Rate));
        Assert.Equal("Sixteen k.".Length * 60 * 16, chunks.Sum(c => c.Samples));
    }

    [Fact]
    public async Task ConsecutiveSentences_ReuseOneConnection()
    {
        await using var fake = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions { ApiKey = Key, TtsFirstAudio = TimeSpan.FromMilliseconds(20) });
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        var provider = new CosyVoiceTtsProvider(pool);

        foreach (var sentence in new[] { "First sentence.", "Second one.", "And a third." })
        {
            var chunks = await CollectAsync(provider.SynthesizeAsync(sentence, Params(), CancellationToken.None));
            Assert.Equal(sentence.Length * 60 * 24, chunks.Sum(c => c.Samples));
        }

        Assert.Equal(1, fake.ConnectionsAccepted);
        Assert.Equal(1, pool.ConnectionsOpened);
        Assert.Equal(3, fake.TtsTasksStarted);
        Assert.Equal(1, pool.IdleCount);
    }

    [Fact]
    public async Task CancelMidSynthesis_StopsPromptly_DropsTheConnection_NextRequestWorks()
    {
        await using var fake = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions
        {
            ApiKey = Key,
            TtsFirstAudio = TimeSpan.FromMilliseconds(20),
            TtsRealTimeFactor = 1, // real time: a long text takes seconds
        });
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        var provider = new CosyVoiceTtsProvider(pool);
        using var cancel = new CancellationTokenSource();
        var story = string.Concat(Enumerable.Repeat("A very long story that goes on and on. ", 10));

        var received = 0;
        var stopwatch = new Stopwatch();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var chunk in provider.SynthesizeAsync(story, Params(), cancel.Token))
            {
                chunk.Dispose();
                if (++received == 2)
                {
                    stopwatch.Start();
                    await cancel.CancelAsync();
                }
            }
        });
        stopwatch.Stop();

        Assert.Equal(2, received);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromMilliseconds(250), $"cancellation took {stopwatch.ElapsedMilliseconds} ms");
        Assert.Equal(0, pool.IdleCount); // the half-read connection was not pooled

        var chunks = await CollectAsync(provider.SynthesizeAsync("Next.", Params(), CancellationToken.None));
        Assert.Equal("Next.".Length * 60 * 24, chunks.Sum(c => c.Samples));
        Assert.Equal(2, fake.ConnectionsAccepted);
    }

    [Fact]
    public async Task TaskFailed_ThrowsTheVendorCodeAndMessage_NextRequestUsesANewConnection()
    {
        await using var fake = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions { ApiKey = Key, TtsFirstAudio = TimeSpan.Zero });
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        var provider = new CosyVoiceTtsProvider(pool);
        await CollectAsync(provider.SynthesizeAsync("Warm up.", Params(), CancellationToken.None));
        fake.FailNextTask("InvalidParameter", "voice not found");

        var error = await Assert.ThrowsAsync<DashScopeException>(() => CollectAsync(provider.SynthesizeAsync("Hello.", Params(), CancellationToken.None)));

        Assert.Equal("InvalidParameter", error.ErrorCode);
        Assert.Contains("CosyVoice", error.Message);
        Assert.Contains("voice not found", error.Message);
        var chunks = await CollectAsync(provider.SynthesizeAsync("Again.", Params(), CancellationToken.None));
        Assert.NotEmpty(chunks);
        Assert.Equal(2, fake.ConnectionsAccepted);
    }

    [Fact]
    public async Task WrongApiKey_FailsAsUnauthorized_WithoutTheKeyInTheMessage()
    {
        await using var fake = await FakeDashScopeServer.StartAsync(new FakeDashScopeOptions { ApiKey = Key });
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
        var provider = new CosyVoiceTtsProvider(pool);

        var error = await Assert.ThrowsAsync<DashScopeException>(
            () => CollectAsync(provider.SynthesizeAsync("Hello.", Params(apiKey: "sk-wrong-secret"), CancellationToken.None)));

        Assert.Equal("Unauthorized", error.ErrorCode);
        Assert.Contains("401", error.Message);
        Assert.DoesNotContain("sk-wrong-secret", error.ToString());
        Assert.Equal(1, fake.ConnectionsRejected);
    }

    [Fact]
    public async Task ConnectionRefused_FailsWithAClearMessage()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = $"ws://127.0.0.1:{port}/api-ws/v1/inference" });
        var provider = new CosyVoiceTtsProvider(pool);

        var error = await Assert.ThrowsAsync<DashScopeException>(() => CollectAsync(provider.SynthesizeAsync("Hello.", Params(), CancellationToken.None)));

        Assert.Equal("ConnectFailed", error.ErrorCode);
        Assert.Contains($"127.0.0.1:{port}", error.Message);
    }

    [Theory]
    [InlineData("""{"payload":{}}""", "TTS.Params.app.api_key is required")]
    [InlineData("""{"app":{"api_key":""}}""", "TTS.Params.app.api_key is required")]
    [InlineData("""{"app":{"api_key":"zego_test"}}""", "TTS.Params.app.api_key \"zego_test\" is ZEGO's trial placeholder")]
    [InlineData("""{"app":{"api_key":"k"},"payload":{"parameters":{"format":"mp3"}}}""", "TTS.Params.payload.parameters.format")]
    [InlineData("""{"app":{"api_key":"k"},"payload":{"parameters":{"sample_rate":12345}}}""", "TTS.Params.payload.parameters.sample_rate")]
    [InlineData("""{"app":{"api_key":"k"},"payload":[]}""", "TTS.Params.payload must be an object")]
    public void Validate_NamesTheBadField(string json, string expected)
    {
        using var pool = new DashScopeConnectionPool();
        var error = new CosyVoiceTtsProvider(pool).Validate(JsonNode.Parse(json) as JsonObject);
        Assert.NotNull(error);
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Validate_WithADeploymentKey_AcceptsMissingOrTrialKeys_ButNotAMistypedOne()
    {
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { ApiKey = "sk-deployment" });
        var provider = new CosyVoiceTtsProvider(pool);
        Assert.Null(provider.Validate(null));
        Assert.Null(provider.Validate(JsonNode.Parse("""{"app":{"api_key":"zego_test"}}""") as JsonObject));
        Assert.Contains("TTS.Params.app.api_key", provider.Validate(JsonNode.Parse("""{"app":{"api_key":5}}""") as JsonObject));
    }

    [Theory]
    [InlineData("""{"payload":{}}""")]
    [InlineData("""{"app":{"api_key":""}}""")]
    [InlineData("""{"app":{"api_key":"zego_test"},"payload":{"parameters":{"voice":"longxiaochun_v2","sample_rate":16000}}}""")]
    public void ValidateConfiguration_AcceptsMissingOrPlaceholderKeys_WhichTheServerAnswersByFallingBack(string json)
    {
        using var pool = new DashScopeConnectionPool();
        var provider = new CosyVoiceTtsProvider(pool);
        var parameters = JsonNode.Parse(json) as JsonObject;
        Assert.NotNull(provider.Validate(parameters));
        Assert.Null(provider.ValidateConfiguration(parameters));
    }

    [Theory]
    [InlineData("""{"app":{"api_key":"zego_test"},"payload":{"parameters":{"format":"mp3"}}}""", "TTS.Params.payload.parameters.format")]
    [InlineData("""{"payload":{"parameters":{"sample_rate":12345}}}""", "TTS.Params.payload.parameters.sample_rate")]
    [InlineData("""{"payload":{"model":7}}""", "TTS.Params.payload.model")]
    [InlineData("""{"app":{"api_key":5}}""", "TTS.Params.app.api_key")]
    public void ValidateConfiguration_RefusesWhatCosyVoiceCouldNeverSpeakWith(string json, string expected)
    {
        using var pool = new DashScopeConnectionPool();
        Assert.StartsWith(expected, new CosyVoiceTtsProvider(pool).ValidateConfiguration(JsonNode.Parse(json) as JsonObject), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_AcceptsTheContractExample()
    {
        using var pool = new DashScopeConnectionPool();
        var parameters = JsonNode.Parse("""{"app":{"api_key":"k"},"payload":{"model":"cosyvoice-v2","parameters":{"voice":"longxiaochun_v2"}}}""") as JsonObject;
        Assert.Null(new CosyVoiceTtsProvider(pool).Validate(parameters));
    }

    internal static JsonObject Params(JsonObject? parameters = null, (string Name, string Value)? extraPayload = null, string apiKey = Key)
    {
        var payload = new JsonObject { ["model"] = "cosyvoice-v2", ["parameters"] = parameters ?? new JsonObject { ["voice"] = "longxiaochun_v2" } };
        if (extraPayload is { } extra)
        {
            payload[extra.Name] = extra.Value;
        }

        return new JsonObject { ["app"] = new JsonObject { ["api_key"] = apiKey }, ["payload"] = payload };
    }

    private static async Task<List<(int Samples, int Rate)>> CollectAsync(IAsyncEnumerable<AudioChunk> chunks)
    {
        var list = new List<(int, int)>();
        await foreach (var chunk in chunks)
        {
            using (chunk)
            {
                list.Add((chunk.Length, chunk.SampleRate));
            }
        }

        return list;
    }
}
