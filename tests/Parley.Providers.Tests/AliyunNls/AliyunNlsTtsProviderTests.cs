using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Speech;
using Parley.Providers.AliyunNls;
using Parley.Testing.Fakes.AliyunNls;

namespace Parley.Providers.Tests.AliyunNls;

public sealed class AliyunNlsTtsProviderTests
{
    private static JsonObject Params(FakeAliyunNlsOptions fake, string? secret = null) => new()
    {
        ["app"] = new JsonObject { ["app_key"] = fake.AppKey, ["ak_id"] = fake.AccessKeyId, ["ak_key"] = secret ?? fake.AccessKeySecret },
        ["voice"] = "zhitian_emo",
        ["volume"] = 60,
        ["speech_rate"] = -100,
        ["pitch_rate"] = 50,
        ["format"] = "mp3",
        ["custom_field"] = "x",
    };

    private static (FakeTimeProvider Clock, AliyunNlsTtsProvider Engine) Engine(FakeAliyunNlsServer fake)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        fake.Options.TimeProvider = clock;
        var engine = new AliyunNlsTtsProvider(new AliyunNlsOptions { Url = fake.Url, TokenUrl = fake.TokenUrl, ResponseTimeout = TimeSpan.FromSeconds(5) }, clock);
        return (clock, engine);
    }

    [Fact]
    public async Task Speaks_WithASignedToken_InWireShape_WithWordTimings()
    {
        await using var fake = await FakeAliyunNlsServer.StartAsync();
        var (_, engine) = Engine(fake);
        using var _ = engine;

        var result = await SpeechStreams.SpeakAsync(engine, new TtsRequest(Params(fake.Options)), "你好。", "Hi!");

        Assert.Equal(1, fake.TokensIssued);
        Assert.Equal(0, fake.TokenRefusals);
        Assert.Equal((3 + 3) * 60 * 16, result.Samples);
        Assert.All(result.Rates, r => Assert.Equal(16000, r));
        Assert.True(result.Rms > 1000);
        var start = fake.Starts[0];
        Assert.Equal("SpeechSynthesizer", start["header"]!["namespace"]!.GetValue<string>());
        Assert.Equal("StartSynthesis", start["header"]!["name"]!.GetValue<string>());
        Assert.Equal(fake.Options.AppKey, start["header"]!["appkey"]!.GetValue<string>());
        var payload = start["payload"]!;
        Assert.Equal("你好。", payload["text"]!.GetValue<string>());
        Assert.Equal("pcm", payload["format"]!.GetValue<string>());
        Assert.Equal("zhitian_emo", payload["voice"]!.GetValue<string>());
        Assert.Equal(-100, payload["speech_rate"]!.GetValue<int>());
        Assert.Equal("x", payload["custom_field"]!.GetValue<string>());
        Assert.True(payload["enable_subtitle"]!.GetValue<bool>());
        Assert.Null(payload["app"]);

        // One timing per character; the second text's timings count in the concatenated text and the stream's audio.
        Assert.Equal(6, result.Words.Count);
        Assert.Equal("你", result.Words[0].Text);
        Assert.Equal(0, result.Words[0].TextOffset);
        Assert.Equal(TimeSpan.FromMilliseconds(60), result.Words[1].Start);
        var h = result.Words[3];
        Assert.Equal(("H", 3, 1), (h.Text, h.TextOffset, h.TextLength));
        Assert.Equal(TimeSpan.FromMilliseconds(180), h.Start);
    }

    [Fact]
    public async Task NextSentence_StartsOnTheConnectionOpenedAhead_AndAnUnusedOneIsClosedAfterItsLifetime()
    {
        await using var fake = await FakeAliyunNlsServer.StartAsync();
        var (clock, engine) = Engine(fake);
        using var _ = engine;
        var request = new TtsRequest(Params(fake.Options));

        await SpeechStreams.SpeakAsync(engine, request, "一。");
        await SpeechStreams.SpeakAsync(engine, request, "二。");
        await SpeechStreams.SpeakAsync(engine, request, "三。");
        Assert.Equal(2, engine.SparesUsed);
        Assert.Equal(4, engine.ConnectionsOpened); // the first sentence's, and one opened ahead by each sentence

        // Unused past its lifetime (8 s): closed, and the next sentence connects anew.
        clock.Advance(TimeSpan.FromSeconds(9));
        await SpeechStreams.SpeakAsync(engine, request, "四。");
        Assert.Equal(2, engine.SparesUsed);
        Assert.Equal(6, engine.ConnectionsOpened);
        Assert.Equal(6, fake.GatewayConnections);
    }

    [Fact]
    public async Task ConnectionOpenedAhead_ClosedByTheGateway_IsRetriedOnceOnANewConnection()
    {
        await using var fake = await FakeAliyunNlsServer.StartAsync();
        var (_, engine) = Engine(fake);
        using var _ = engine;
        var request = new TtsRequest(Params(fake.Options));
        await SpeechStreams.SpeakAsync(engine, request, "一。");

        // The spare the first sentence opened ahead is closed by the gateway before the next sentence takes it.
        await fake.CloseWaitingConnectionsAsync(1, TimeSpan.FromSeconds(10));
        var result = await SpeechStreams.SpeakAsync(engine, request, "二。");

        Assert.Equal(2 * 60 * 16, result.Samples); // the whole sentence, once: nothing was heard from the closed spare
        Assert.True(result.Rms > 1000);
        Assert.Equal(1, fake.ClosedWaiting);
        Assert.Equal(1, engine.SparesUsed); // taken, found closed
        Assert.Equal(4, engine.ConnectionsOpened); // the first sentence's, its spare, the retry, and the retry's spare
        Assert.Equal(["一。", "二。"], fake.Starts.Select(s => s["payload"]!["text"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Token_IsCachedUntilShortlyBeforeExpiry_ThenRenewed()
    {
        await using var fake = await FakeAliyunNlsServer.StartAsync(new FakeAliyunNlsOptions { TokenLifetime = TimeSpan.FromHours(1) });
        var (clock, engine) = Engine(fake);
        using var _ = engine;
        var request = new TtsRequest(Params(fake.Options));

        await SpeechStreams.SpeakAsync(engine, request, "一。");
        clock.Advance(TimeSpan.FromMinutes(45));
        await SpeechStreams.SpeakAsync(engine, request, "二。");
        Assert.Equal(1, fake.TokensIssued);

        clock.Advance(TimeSpan.FromMinutes(6)); // 51 min: inside the 10 min margin before the 60 min expiry
        await SpeechStreams.SpeakAsync(engine, request, "三。");
        Assert.Equal(2, fake.TokensIssued);
        Assert.Equal(2, engine.Tokens.TokensRequested);
    }

    [Fact]
    public async Task RevokedToken_IsRenewedOnce_BeforeAnyAudio()
    {
        await using var fake = await FakeAliyunNlsServer.StartAsync();
        var (_, engine) = Engine(fake);
        using var _ = engine;
        var request = new TtsRequest(Params(fake.Options));
        await SpeechStreams.SpeakAsync(engine, request, "一。");

        fake.RevokeTokens();
        var result = await SpeechStreams.SpeakAsync(engine, request, "二。");

        Assert.True(result.Samples > 0);
        Assert.Equal(2, fake.TokensIssued);
    }

    [Fact]
    public async Task WrongSecret_FailsTheSignature_AndNothingSecretIsInTheMessage()
    {
        await using var fake = await FakeAliyunNlsServer.StartAsync();
        var (_, engine) = Engine(fake);
        using var _ = engine;

        var ex = await Assert.ThrowsAsync<AliyunNlsException>(() => SpeechStreams.SpeakAsync(engine, new TtsRequest(Params(fake.Options, "not-the-secret")), "一。"));

        Assert.Equal("Unauthorized", ex.ErrorCode);
        Assert.Equal("SignatureDoesNotMatch", fake.LastRefusal);
        Assert.DoesNotContain("not-the-secret", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ak_key", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(40000005, "RateLimited", true)]
    [InlineData(50000000, "TaskFailed", false)]
    public async Task TaskFailed_IsMapped_AndTheEngineKeepsServing(int status, string errorCode, bool rateLimited)
    {
        await using var fake = await FakeAliyunNlsServer.StartAsync();
        var (_, engine) = Engine(fake);
        using var _ = engine;
        var request = new TtsRequest(Params(fake.Options));

        fake.FailNextTask(status, "TOO_MANY_REQUESTS");
        var ex = await Assert.ThrowsAsync<AliyunNlsException>(() => SpeechStreams.SpeakAsync(engine, request, "一。"));
        Assert.Equal(errorCode, ex.ErrorCode);
        Assert.Equal(status, ex.Status);
        Assert.Equal(rateLimited, ex.IsRateLimited);

        Assert.True((await SpeechStreams.SpeakAsync(engine, request, "二。")).Samples > 0);
    }

    [Fact]
    public async Task DirectToken_IsUsedWithoutCreateToken_AndARefusalDoesNotEchoIt()
    {
        await using var fake = await FakeAliyunNlsServer.StartAsync();
        var (_, engine) = Engine(fake);
        using var _ = engine;
        var parameters = new JsonObject { ["app"] = new JsonObject { ["app_key"] = fake.Options.AppKey, ["token"] = "secret-token-123" } };

        var ex = await Assert.ThrowsAsync<AliyunNlsException>(() => SpeechStreams.SpeakAsync(engine, new TtsRequest(parameters), "一。"));

        Assert.Equal("Unauthorized", ex.ErrorCode);
        Assert.Equal(0, fake.TokensIssued);
        Assert.DoesNotContain("secret-token-123", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"volume":101}""", "volume")]
    [InlineData("""{"speech_rate":-501}""", "speech_rate")]
    [InlineData("""{"pitch_rate":"high"}""", "pitch_rate")]
    [InlineData("""{"sample_rate":44100}""", "sample_rate")]
    [InlineData("""{"voice":3}""", "voice")]
    [InlineData("""{"app":{"ak_key":1}}""", "app.ak_key")]
    public void ValidateConfiguration_RefusesImpossibleValues(string json, string field)
    {
        using var engine = new AliyunNlsTtsProvider();
        var error = engine.ValidateConfiguration(JsonNode.Parse(json)!.AsObject());
        Assert.NotNull(error);
        Assert.Contains(field, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"app":{"ak_id":"a","ak_key":"b"}}""", "app.app_key")]
    [InlineData("""{"app":{"app_key":"k","ak_key":"b"}}""", "app.ak_id")]
    [InlineData("""{"app":{"app_key":"k","ak_id":"a"}}""", "app.ak_key")]
    [InlineData("""{"app":{"app_key":"zego_test","ak_id":"zego_test","ak_key":"zego_test"}}""", "zego_test")]
    public void Validate_NamesTheMissingCredential(string json, string field)
    {
        using var engine = new AliyunNlsTtsProvider();
        var parameters = JsonNode.Parse(json)!.AsObject();
        Assert.Contains(field, engine.Validate(parameters), StringComparison.Ordinal);
        Assert.Null(engine.ValidateConfiguration(parameters));
    }
}
