using System.Text.Json.Nodes;
using Parley.Abstractions.Speech;
using Parley.Providers.MiniMax;
using Parley.Testing.Fakes.MiniMax;

namespace Parley.Providers.Tests.MiniMax;

public sealed class MiniMaxTtsProviderTests
{
    private const string Key = "mm-test-key";

    private static JsonObject Params(string key = Key, JsonObject? voice = null, JsonObject? audio = null) => new()
    {
        ["app"] = new JsonObject { ["api_key"] = key },
        ["model"] = "speech-02-turbo",
        ["voice_setting"] = voice ?? new JsonObject { ["voice_id"] = "female-shaonv", ["speed"] = 1.2, ["pitch"] = 2 },
        ["audio_setting"] = audio ?? new JsonObject { ["sample_rate"] = 16000, ["format"] = "mp3" },
        ["pronunciation_dict"] = new JsonObject { ["tone"] = new JsonArray("omg/oh my god") },
        ["language_boost"] = "English",
    };

    [Fact]
    public async Task Speaks_InWireOrder_WithBearerKey_PassthroughAndPcmForced()
    {
        await using var fake = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { ApiKey = Key });
        using var pool = new MiniMaxSessionPool(new MiniMaxOptions { Url = fake.Url });
        var engine = new MiniMaxTtsProvider(pool);

        var result = await SpeechStreams.SpeakAsync(engine, new TtsRequest(Params()), "Hello there.", "How are you?");

        Assert.Equal(("Hello there.".Length + "How are you?".Length) * 60 * 16, result.Samples);
        Assert.All(result.Rates, r => Assert.Equal(16000, r));
        Assert.True(result.Rms > 1000, "the audio is (nearly) silent");
        var events = fake.Events;
        Assert.Equal(["task_start", "task_continue", "task_continue"], events.Select(e => e["event"]!.GetValue<string>()));
        var start = events[0];
        Assert.Equal("pcm", start["audio_setting"]!["format"]!.GetValue<string>());
        Assert.Equal(1, start["audio_setting"]!["channel"]!.GetValue<int>());
        Assert.Equal(16000, start["audio_setting"]!["sample_rate"]!.GetValue<int>());
        Assert.Equal(1.2, start["voice_setting"]!["speed"]!.GetValue<double>());
        Assert.Equal("English", start["language_boost"]!.GetValue<string>());
        Assert.NotNull(start["pronunciation_dict"]);
        Assert.Null(start["app"]);
        Assert.Equal("How are you?", events[2]["text"]!.GetValue<string>());
    }

    [Fact]
    public async Task SentencesAndReplies_ReuseOneStartedTask()
    {
        await using var fake = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { ApiKey = Key });
        using var pool = new MiniMaxSessionPool(new MiniMaxOptions { Url = fake.Url });
        var engine = new MiniMaxTtsProvider(pool);

        for (var i = 0; i < 3; i++)
        {
            var result = await SpeechStreams.SpeakAsync(engine, new TtsRequest(Params()), $"Sentence {i}.");
            Assert.True(result.Samples > 0);
        }

        Assert.Equal(1, fake.ConnectionsAccepted);
        Assert.Equal(1, fake.TaskStarts);
        Assert.Equal(1, pool.SessionsOpened);
        Assert.Equal(1, pool.IdleCount);

        // Other voice settings are another task (task_start fixes them).
        await SpeechStreams.SpeakAsync(engine, new TtsRequest(Params(voice: new JsonObject { ["voice_id"] = "male-qn-qingse" })), "Other voice.");
        Assert.Equal(2, fake.TaskStarts);
    }

    [Fact]
    public async Task PooledSessionDroppedWhileIdle_IsReplacedWithoutLosingTheSentence()
    {
        await using var fake = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { ApiKey = Key });
        using var pool = new MiniMaxSessionPool(new MiniMaxOptions { Url = fake.Url });
        var engine = new MiniMaxTtsProvider(pool);
        await SpeechStreams.SpeakAsync(engine, new TtsRequest(Params()), "First.");

        fake.DropNextContinue();
        var result = await SpeechStreams.SpeakAsync(engine, new TtsRequest(Params()), "Second.");

        Assert.Equal("Second.".Length * 60 * 16, result.Samples);
        Assert.Equal(2, fake.ConnectionsAccepted);
    }

    [Fact]
    public async Task WrongKey_IsUnauthorized_AndTheMessageHoldsNoKey()
    {
        await using var fake = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { ApiKey = Key });
        using var pool = new MiniMaxSessionPool(new MiniMaxOptions { Url = fake.Url });
        var engine = new MiniMaxTtsProvider(pool);

        var ex = await Assert.ThrowsAsync<MiniMaxException>(() => SpeechStreams.SpeakAsync(engine, new TtsRequest(Params("wrong-secret-key")), "Hi."));

        Assert.Equal("Unauthorized", ex.ErrorCode);
        Assert.DoesNotContain("wrong-secret-key", ex.Message, StringComparison.Ordinal);
        Assert.Contains("api_key", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, fake.ConnectionsRejected);
    }

    [Theory]
    [InlineData(1002, "RateLimited", true)]
    [InlineData(1039, "RateLimited", true)]
    [InlineData(1004, "Unauthorized", false)]
    [InlineData(1026, "TaskFailed", false)]
    public async Task TaskFailed_IsMappedByStatusCode_AndTheConnectionIsNotReused(int code, string errorCode, bool rateLimited)
    {
        await using var fake = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { ApiKey = Key });
        using var pool = new MiniMaxSessionPool(new MiniMaxOptions { Url = fake.Url });
        var engine = new MiniMaxTtsProvider(pool);
        await SpeechStreams.SpeakAsync(engine, new TtsRequest(Params()), "Warm up.");

        fake.FailNext(code, "vendor says no");
        var ex = await Assert.ThrowsAsync<MiniMaxException>(() => SpeechStreams.SpeakAsync(engine, new TtsRequest(Params()), "Fails."));

        Assert.Equal(errorCode, ex.ErrorCode);
        Assert.Equal(code, ex.StatusCode);
        Assert.Equal(rateLimited, ex.IsRateLimited);
        Assert.Equal(0, pool.IdleCount);

        // The engine keeps serving: the next sentence opens a new task.
        var next = await SpeechStreams.SpeakAsync(engine, new TtsRequest(Params()), "Next.");
        Assert.True(next.Samples > 0);
        Assert.Equal(2, fake.TaskStarts);
    }

    [Fact]
    public async Task SlowServer_TimesOut_WithAClearError()
    {
        await using var fake = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { ApiKey = Key, FirstAudio = TimeSpan.FromSeconds(5) });
        using var pool = new MiniMaxSessionPool(new MiniMaxOptions { Url = fake.Url, ResponseTimeout = TimeSpan.FromMilliseconds(300) });
        var engine = new MiniMaxTtsProvider(pool);

        var ex = await Assert.ThrowsAsync<MiniMaxException>(() => SpeechStreams.SpeakAsync(engine, new TtsRequest(Params()), "Slow."));

        Assert.Equal("Timeout", ex.ErrorCode);
    }

    [Fact]
    public async Task TtsUrl_IsUsed_AndLegacyGroupIdIsSent()
    {
        await using var fake = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { ApiKey = Key });
        using var pool = new MiniMaxSessionPool(new MiniMaxOptions { Url = "ws://127.0.0.1:9/ws/v1/t2a_v2" });
        var engine = new MiniMaxTtsProvider(pool);
        var parameters = Params();
        parameters["app"]!["group_id"] = "1890";

        var result = await SpeechStreams.SpeakAsync(engine, new TtsRequest(parameters) { Endpoint = new Uri(fake.Url) }, "Via TTS.Url.");

        Assert.True(result.Samples > 0);
        Assert.Equal("1890", fake.LastGroupId);
    }

    [Theory]
    [InlineData("""{"voice_setting":{"speed":3}}""", "voice_setting.speed")]
    [InlineData("""{"voice_setting":{"vol":0}}""", "voice_setting.vol")]
    [InlineData("""{"voice_setting":{"pitch":1.5}}""", "voice_setting.pitch")]
    [InlineData("""{"audio_setting":{"sample_rate":12345}}""", "audio_setting.sample_rate")]
    [InlineData("""{"model":5}""", "model")]
    [InlineData("""{"app":{"api_key":7}}""", "app.api_key")]
    public void ValidateConfiguration_RefusesImpossibleValues(string json, string field)
    {
        using var pool = new MiniMaxSessionPool();
        var engine = new MiniMaxTtsProvider(pool);

        var error = engine.ValidateConfiguration(JsonNode.Parse(json)!.AsObject());

        Assert.NotNull(error);
        Assert.Contains(field, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NamesMissingOrPlaceholderCredentials_ButConfigurationAcceptsThem()
    {
        using var pool = new MiniMaxSessionPool();
        var engine = new MiniMaxTtsProvider(pool);
        var noKey = new JsonObject { ["model"] = "speech-02-turbo" };
        var trial = new JsonObject { ["app"] = new JsonObject { ["api_key"] = "zego_test" } };

        Assert.Contains("app.api_key", engine.Validate(noKey), StringComparison.Ordinal);
        Assert.Contains("zego_test", engine.Validate(trial), StringComparison.Ordinal);
        Assert.Null(engine.ValidateConfiguration(noKey));
        Assert.Null(engine.ValidateConfiguration(trial));
        Assert.Null(engine.Validate(Params()));
    }
}
