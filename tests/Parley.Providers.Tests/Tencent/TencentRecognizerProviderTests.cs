using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;
using Parley.Providers.Tencent;
using Parley.Testing.Fakes.Tencent;
using static Parley.Providers.Tests.RecognitionTestKit;

namespace Parley.Providers.Tests.Tencent;

public sealed class TencentRecognizerProviderTests
{
    private const string Transcript = "what is the weather like today";

    [Fact]
    public async Task Utterance_SignedHandshake_PartialsThenOneFinal_ParamsPassedThrough()
    {
        await using var fake = await FakeTencentAsrServer.StartAsync(new FakeTencentAsrOptions { Transcript = Transcript });
        using var provider = Provider(fake);
        await using var stream = provider.Open(new SpeechRecognitionOptions(
            new JsonObject { ["engine_model_type"] = "16k_en", ["hotword_list"] = "zego|10,ASR|11", ["filter_dirty"] = 1 }, null));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);

        await PushSpeechAsync(stream, TimeSpan.FromSeconds(1));
        await stream.EndUtteranceAsync(CancellationToken.None);
        var seen = await ReadUtteranceAsync(results);

        var partials = seen.Where(r => !r.IsFinal).Select(r => r.Text).ToList();
        Assert.True(partials.Count >= 3, $"partials: {string.Join(" | ", partials)}");
        Assert.All(partials, p => Assert.StartsWith(p, Transcript));
        Assert.Equal(new SpeechRecognitionResult(Transcript, IsFinal: true), seen[^1]);
        Assert.Equal(32000, fake.AudioBytesReceived);
        Assert.Equal(0, fake.ConnectionsRejected);
        var handshake = fake.Handshakes[0]; // the next utterance's connection may already be open
        Assert.Equal("16k_en", handshake["engine_model_type"]);
        Assert.Equal("zego|10,ASR|11", handshake["hotword_list"]); // URL-encoded on the wire, signed raw
        Assert.Equal("1", handshake["filter_dirty"]);
        Assert.Equal("1", handshake["voice_format"]);
        Assert.Equal("1", handshake["needvad"]);
        Assert.Equal(1, fake.StreamsFinished);
    }

    [Fact]
    public async Task ConnectionIsOpenedAheadOfEachUtterance()
    {
        await using var fake = await FakeTencentAsrServer.StartAsync(new FakeTencentAsrOptions { Transcript = Transcript });
        using var provider = Provider(fake);
        await using var stream = provider.Open(new SpeechRecognitionOptions(null, null));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);
        await WaitAsync(() => fake.ConnectionsAccepted == 1, "no connection opened at stream open");

        var finals = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(600));
            await stream.EndUtteranceAsync(CancellationToken.None);
            finals.Add((await ReadUtteranceAsync(results))[^1].Text);
        }

        Assert.Equal([Transcript, Transcript], finals);
        await WaitAsync(() => fake.ConnectionsAccepted == 3, "the next utterance's connection was not opened after the final");
        Assert.Equal("16k_zh", fake.Handshakes[0]["engine_model_type"]);
        Assert.NotEqual(fake.Handshakes[0]["voice_id"], fake.Handshakes[1]["voice_id"]);
    }

    [Fact]
    public async Task WrongSecretKey_EndsResultsWithUnauthorized()
    {
        await using var fake = await FakeTencentAsrServer.StartAsync();
        using var provider = new TencentRecognizerProvider(new TencentAsrOptions
        {
            Url = fake.Url, AppId = fake.Options.AppId, SecretId = fake.Options.SecretId, SecretKey = "not-the-key",
        });
        await using var stream = provider.Open(new SpeechRecognitionOptions(null, null));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);
        await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(200));

        var error = await Assert.ThrowsAsync<SpeechVendorException>(async () => await results.MoveNextAsync());
        Assert.Equal(VendorFailureKind.Unauthorized, error.Kind);
        Assert.Equal("4002", error.ErrorCode);
        Assert.DoesNotContain("not-the-key", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secretid=", error.Message, StringComparison.Ordinal); // never the signed URL's query
        Assert.True(fake.ConnectionsRejected >= 1);
    }

    [Theory]
    [InlineData(4006, VendorFailureKind.RateLimited)]
    [InlineData(4007, VendorFailureKind.InvalidRequest)]
    [InlineData(5000, VendorFailureKind.ServiceError)]
    public async Task ErrorCodeMidStream_EndsResultsWithItsKind(int code, VendorFailureKind kind)
    {
        await using var fake = await FakeTencentAsrServer.StartAsync();
        fake.FailNextStream(code, "fake");
        using var provider = Provider(fake);
        await using var stream = provider.Open(new SpeechRecognitionOptions(null, null));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);
        await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(400));
        try
        {
            await stream.EndUtteranceAsync(CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // the stream may already have failed
        }

        var error = await Assert.ThrowsAsync<SpeechVendorException>(async () => await ReadUtteranceAsync(results));
        Assert.Equal(kind, error.Kind);
        Assert.Equal(code.ToString(System.Globalization.CultureInfo.InvariantCulture), error.ErrorCode);
    }

    [Fact]
    public async Task DropMidUtterance_EndsResultsWithConnectionFailure()
    {
        await using var fake = await FakeTencentAsrServer.StartAsync();
        fake.DropNextStreamAfter(3000);
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
        Assert.Equal(VendorFailureKind.Connection, error.Kind);
    }

    [Fact]
    public async Task IdleSession_KeepsAConnectionWarmOnlyWithinTheWarmWindow_ThenHoldsNothing()
    {
        await using var fake = await FakeTencentAsrServer.StartAsync(new FakeTencentAsrOptions { Transcript = Transcript });
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var provider = new TencentRecognizerProvider(
            new TencentAsrOptions
            {
                Url = fake.Url, AppId = fake.Options.AppId, SecretId = fake.Options.SecretId, SecretKey = fake.Options.SecretKey,
                WarmConnectionLifetime = TimeSpan.FromSeconds(8), WarmWindow = TimeSpan.FromSeconds(30),
            },
            clock);
        await using var stream = provider.Open(new SpeechRecognitionOptions(null, null));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);
        await WaitAsync(() => fake.ConnectionsAccepted == 1, "no connection opened at stream open");

        // Within the window the unused connection is replaced every 8 s (before Tencent's 15 s no-audio limit); past
        // the 30 s window (at about 32 s) the aged one is closed and none replaces it, however long the session idles.
        var opened = clock.GetUtcNow();
        while (fake.ConnectionsEnded < 4)
        {
            Assert.True(clock.GetUtcNow() - opened < TimeSpan.FromSeconds(60), $"accepted {fake.ConnectionsAccepted}, ended {fake.ConnectionsEnded}");
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(20); // lets the connection replaced at this step open (real loopback I/O) before the clock moves on
        }

        var idleFor = clock.GetUtcNow() - opened;
        Assert.InRange(idleFor, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(35));
        Assert.Equal(4, fake.ConnectionsAccepted); // at 0, ~8, ~16 and ~24 s
        for (var i = 0; i < 30; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(10));
            await Task.Delay(5);
        }

        Assert.Equal(4, fake.ConnectionsAccepted);
        Assert.Equal(4, fake.ConnectionsEnded);

        // The next utterance connects at its first audio and is recognised whole; after its final the window restarts.
        await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(600));
        await stream.EndUtteranceAsync(CancellationToken.None);
        Assert.Equal(new SpeechRecognitionResult(Transcript, IsFinal: true), (await ReadUtteranceAsync(results))[^1]);
        await WaitAsync(() => fake.ConnectionsAccepted == 6, "no connection opened ahead after the final");
        Assert.Equal(19200, fake.AudioBytesReceived); // 600 ms of 16 kHz PCM16, none lost while connecting
    }

    [Fact]
    public void Validate_NamesTheMissingCredential_AndAcceptsConfiguredDefaults()
    {
        using var bare = new TencentRecognizerProvider(new TencentAsrOptions());
        Assert.Contains("ASR.Params.app.appid", bare.Validate(null), StringComparison.Ordinal);
        Assert.Contains("Parley:Vendors:Tencent:AppId", bare.Validate([]), StringComparison.Ordinal);
        Assert.Contains("secret_key", bare.Validate(new JsonObject { ["app"] = new JsonObject { ["appid"] = "1", ["secret_id"] = "x" } }), StringComparison.Ordinal);
        Assert.Null(bare.Validate(new JsonObject { ["app"] = new JsonObject { ["appid"] = "125", ["secret_id"] = "x", ["secret_key"] = "y" } }));
        Assert.Contains("ASR.Params.hotword_list", bare.Validate(new JsonObject { ["app"] = new JsonObject { ["appid"] = "125", ["secret_id"] = "x", ["secret_key"] = "y" }, ["hotword_list"] = new JsonArray() }), StringComparison.Ordinal);

        using var configured = new TencentRecognizerProvider(new TencentAsrOptions { AppId = "125", SecretId = "x", SecretKey = "y" });
        Assert.Null(configured.Validate(new JsonObject { ["engine_model_type"] = "16k_en", ["hotword_list"] = "zego|10" }));
        Assert.Contains("ASR.Params.voice_id", configured.Validate(new JsonObject { ["voice_id"] = "mine" }), StringComparison.Ordinal);
    }

    [Fact]
    public void SignedUrl_MatchesTencentsAlgorithm_AndEncodesValues()
    {
        var request = TencentAsrRequest.Create(new JsonObject { ["hotword_list"] = "腾讯|10,ASR|11" }, null, new TencentAsrOptions { AppId = "1259228442", SecretId = "AKIDsid", SecretKey = "key" });
        var url = request.BuildUrl(new Uri(TencentAsrOptions.DefaultUrl), "vid", DateTimeOffset.FromUnixTimeSeconds(1592294092), TimeSpan.FromDays(1), 7);

        Assert.Equal("wss://asr.cloud.tencent.com/asr/v2/1259228442", url.GetLeftPart(UriPartial.Path));
        var query = url.Query.TrimStart('?').Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => Uri.UnescapeDataString(p[1]));
        Assert.Equal("1592380492", query["expired"]);
        var signature = query["signature"];
        query.Remove("signature");
        Assert.Equal(FakeTencentAsrServer.Signature("key", "asr.cloud.tencent.com/asr/v2/1259228442", query), signature);
        Assert.Contains("hotword_list=%E8%85%BE%E8%AE%AF%7C10%2CASR%7C11", url.OriginalString, StringComparison.Ordinal);
    }

    private static TencentRecognizerProvider Provider(FakeTencentAsrServer fake) => new(new TencentAsrOptions
    {
        Url = fake.Url, AppId = fake.Options.AppId, SecretId = fake.Options.SecretId, SecretKey = fake.Options.SecretKey,
    });

    private static Task WaitAsync(Func<bool> condition, string message) => WaitAsync(condition, () => message);

    private static async Task WaitAsync(Func<bool> condition, Func<string> message)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, message());
            await Task.Delay(10);
        }
    }
}
