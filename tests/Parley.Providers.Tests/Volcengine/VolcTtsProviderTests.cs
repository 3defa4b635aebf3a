using System.Text.Json.Nodes;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Providers.Volcengine;
using Parley.Testing.Fakes.Volcengine;

namespace Parley.Providers.Tests.Volcengine;

public sealed class VolcTtsProviderTests
{
    private static JsonObject V3Params(string appId = "fake-volc-app", string token = "fake-volc-token", JsonObject? audio = null) => new()
    {
        ["app"] = new JsonObject { ["appid"] = appId, ["token"] = token, ["resource_id"] = "seed-tts-2.0" },
        ["req_params"] = new JsonObject
        {
            ["speaker"] = "en_female_sarah_mars_bigtts",
            ["audio_params"] = audio ?? new JsonObject { ["speech_rate"] = 10, ["loudness_rate"] = -5 },
            ["additions"] = new JsonObject { ["context_texts"] = new JsonArray("be cheerful") },
        },
    };

    private static VolcConnectionPool Pool(FakeVolcengineServer fake) => new(new VolcengineOptions
    {
        ByteDanceV3 = new VolcVendorOptions { Url = fake.UnidirectionalUrl },
        ByteDanceFlowing = new VolcVendorOptions { Url = fake.BidirectionalUrl },
        ByteDance = new VolcVendorOptions { Url = fake.HttpTtsUrl },
        ResponseTimeout = TimeSpan.FromSeconds(5),
    });

    [Fact]
    public async Task ByteDanceV3_SpeaksEachSentence_OnOneReusedConnection_WithTheDocumentedRequest()
    {
        await using var fake = await FakeVolcengineServer.StartAsync();
        using var pool = Pool(fake);
        var tts = new ByteDanceV3TtsProvider(pool);
        var samples = 0L;
        await using (var stream = tts.Open(new TtsRequest(V3Params())))
        {
            await stream.PushTextAsync("Hello there.", CancellationToken.None);
            await stream.PushTextAsync("How are you?", CancellationToken.None);
            await stream.FlushAsync(CancellationToken.None);
            await foreach (var piece in stream.ReadAsync(CancellationToken.None))
            {
                using var audio = piece.Audio;
                Assert.Equal(24000, audio.SampleRate);
                Assert.True(TestSignal.Rms(audio.Samples) > 1000);
                samples += audio.Length;
            }
        }

        Assert.Equal(("Hello there.".Length + "How are you?".Length) * 60 * 24, samples);
        Assert.Equal(1, fake.ConnectionsAccepted); // the second sentence reused the first connection
        Assert.Equal(2, fake.TtsSessionsFinished);
        Assert.Empty(fake.ProtocolErrors);
        var request = fake.Requests[0];
        Assert.Equal("Hello there.", request["req_params"]!["text"]!.GetValue<string>());
        Assert.Equal("pcm", request["req_params"]!["audio_params"]!["format"]!.GetValue<string>());
        Assert.Equal(10, request["req_params"]!["audio_params"]!["speech_rate"]!.GetValue<int>());
        Assert.Equal("""{"context_texts":["be cheerful"]}""", request["req_params"]!["additions"]!.GetValue<string>());
        Assert.Null(request["app"]);
        var headers = fake.Headers[0];
        Assert.Equal("fake-volc-app", headers["X-Api-App-Id"]);
        Assert.Equal("seed-tts-2.0", headers["X-Api-Resource-Id"]);
        Assert.False(string.IsNullOrEmpty(headers["X-Api-Connect-Id"]));
    }

    [Fact]
    public async Task ByteDanceV3_WrongToken_IsUnauthorized_AndAConcurrencyErrorIsRateLimited()
    {
        await using var fake = await FakeVolcengineServer.StartAsync();
        using var pool = Pool(fake);
        var tts = new ByteDanceV3TtsProvider(pool);
        var refused = await Assert.ThrowsAsync<VolcengineException>(() => DrainAsync(tts.SynthesizeAsync("Hi.", V3Params(token: "wrong"), CancellationToken.None)));
        Assert.Equal(VolcengineErrorKind.Unauthorized, refused.Kind);
        Assert.DoesNotContain("wrong", refused.Message, StringComparison.Ordinal);

        fake.FailNext(45000000, "quota exceeded for types: concurrency");
        var limited = await Assert.ThrowsAsync<VolcengineException>(() => DrainAsync(tts.SynthesizeAsync("Hi.", V3Params(), CancellationToken.None)));
        Assert.Equal(VolcengineErrorKind.RateLimited, limited.Kind);
        Assert.Equal(45000000, limited.Code);
        Assert.Contains("quota exceeded", limited.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ByteDanceV3_APooledConnectionTheServerDropped_IsReplacedOnce()
    {
        await using var fake = await FakeVolcengineServer.StartAsync(new FakeVolcengineOptions { DropAfterEachSession = true });
        using var pool = Pool(fake);
        var tts = new ByteDanceV3TtsProvider(pool);
        for (var i = 0; i < 3; i++)
        {
            var samples = 0L;
            await foreach (var chunk in tts.SynthesizeAsync("Hello.", V3Params(), CancellationToken.None))
            {
                using (chunk)
                {
                    samples += chunk.Length;
                }
            }

            Assert.Equal("Hello.".Length * 60 * 24, samples);
        }

        Assert.Equal(3, fake.TtsSessionsFinished);
        Assert.Equal(3, fake.ConnectionsAccepted);
    }

    [Fact]
    public async Task ByteDanceV3_ADropMidSentence_ThrowsAClearError_AndTheNextSentenceWorks()
    {
        await using var fake = await FakeVolcengineServer.StartAsync(new FakeVolcengineOptions { DropAfterAudioFrames = 1 });
        using var pool = Pool(fake);
        var tts = new ByteDanceV3TtsProvider(pool);
        var error = await Assert.ThrowsAsync<VolcengineException>(() => DrainAsync(tts.SynthesizeAsync("A sentence long enough for frames.", V3Params(), CancellationToken.None)));
        Assert.Equal(VolcengineErrorKind.ConnectionBroken, error.Kind);
        Assert.Contains("ByteDanceV3", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, pool.IdleCount);

        fake.Options.DropAfterAudioFrames = 0;
        await DrainAsync(tts.SynthesizeAsync("Fine.", V3Params(), CancellationToken.None));
        Assert.Equal(1, fake.TtsSessionsFinished);
    }

    [Fact]
    public void Validate_NamesTheMissingField_AndConfigurationRefusesImpossibleValues()
    {
        using var pool = new VolcConnectionPool();
        var tts = new ByteDanceV3TtsProvider(pool);
        Assert.Contains("TTS.Params.app.token", tts.Validate(new JsonObject { ["app"] = new JsonObject { ["appid"] = "a" } }), StringComparison.Ordinal);
        Assert.Contains("zego_test", tts.Validate(V3Params(appId: "zego_test")), StringComparison.Ordinal);
        Assert.Null(tts.ValidateConfiguration(V3Params(appId: "zego_test"))); // placeholders fall back, not refused
        Assert.Contains("sample_rate", tts.ValidateConfiguration(V3Params(audio: new JsonObject { ["sample_rate"] = 12345 })), StringComparison.Ordinal);
        Assert.Contains("format", tts.ValidateConfiguration(V3Params(audio: new JsonObject { ["format"] = "mp3" })), StringComparison.Ordinal);
        Assert.Contains("speech_rate", tts.ValidateConfiguration(V3Params(audio: new JsonObject { ["speech_rate"] = 500 })), StringComparison.Ordinal);
        Assert.Null(tts.Validate(V3Params()));
    }

    [Fact]
    public async Task ByteDanceFlowing_TakesTokenDeltas_InOneSession_WithWordTimingsIntoThePushedText()
    {
        await using var fake = await FakeVolcengineServer.StartAsync();
        using var pool = Pool(fake);
        var tts = new ByteDanceFlowingTtsProvider(pool);
        Assert.True(tts.Capabilities.StreamingText);
        var words = new List<WordTiming>();
        var samples = 0L;
        var deltas = new[] { "It is", " sun", "ny. En", "joy your", " day!" };
        var pushed = string.Concat(deltas);
        for (var reply = 0; reply < 2; reply++)
        {
            await using var stream = tts.Open(new TtsRequest(V3Params(audio: new JsonObject { ["enable_timestamp"] = true, ["sample_rate"] = 16000 })));
            var reader = Task.Run(async () =>
            {
                await foreach (var piece in stream.ReadAsync(CancellationToken.None))
                {
                    using var audio = piece.Audio;
                    samples += audio.Length;
                    if (piece.Word is { } word && reply == 0)
                    {
                        words.Add(word);
                    }
                }
            });
            foreach (var delta in deltas)
            {
                await stream.PushTextAsync(delta, CancellationToken.None);
            }

            await stream.FlushAsync(CancellationToken.None);
            await reader.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(2 * ("It is sunny.".Length + " Enjoy your day!".Trim().Length) * 60 * 16, samples);
        Assert.Equal(["It", "is", "sunny", "Enjoy", "your", "day"], words.Select(w => w.Text));
        Assert.All(words, w => Assert.Equal(w.Text, pushed.Substring(w.TextOffset, w.TextLength)));
        Assert.Equal(TimeSpan.FromSeconds(0.12), words[1].End - words[1].Start);
        Assert.True(words[3].Start >= words[2].End && words[3].Start > TimeSpan.FromSeconds(0.7), "the second sentence's words come after the first's");
        Assert.Equal(1, fake.ConnectionsAccepted); // the second reply's session reused the connection
        Assert.Equal(2, fake.TtsSessionsFinished);
        Assert.Empty(fake.ProtocolErrors);
        var tasks = fake.Requests.Where(r => r["event"]?.GetValue<int>() == 200).Select(r => r["req_params"]!["text"]!.GetValue<string>()).Take(deltas.Length);
        Assert.Equal(deltas, tasks);
    }

    [Fact]
    public async Task ByteDanceFlowing_ConnectionDroppedMidStream_EndsTheReadWithAClearError()
    {
        await using var fake = await FakeVolcengineServer.StartAsync(new FakeVolcengineOptions { DropAfterAudioFrames = 2 });
        using var pool = Pool(fake);
        await using var stream = new ByteDanceFlowingTtsProvider(pool).Open(new TtsRequest(V3Params()));
        await stream.PushTextAsync("This sentence is long enough to need several frames of audio.", CancellationToken.None);
        await stream.FlushAsync(CancellationToken.None);
        var error = await Assert.ThrowsAsync<VolcengineException>(async () =>
        {
            await foreach (var piece in stream.ReadAsync(CancellationToken.None))
            {
                piece.Audio.Dispose();
            }
        }).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(VolcengineErrorKind.ConnectionBroken, error.Kind);
        Assert.Contains("ByteDanceFlowing", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, pool.IdleCount); // a broken connection is never pooled
    }

    [Fact]
    public async Task ByteDanceFlowing_SessionFailed_IsReportedWithTheCode()
    {
        await using var fake = await FakeVolcengineServer.StartAsync();
        using var pool = Pool(fake);
        fake.FailNext(45000000, "speaker permission denied: get resource id: access denied");
        await using var stream = new ByteDanceFlowingTtsProvider(pool).Open(new TtsRequest(V3Params()));
        await stream.PushTextAsync("Hi.", CancellationToken.None);
        await stream.FlushAsync(CancellationToken.None);
        var error = await Assert.ThrowsAsync<VolcengineException>(async () =>
        {
            await foreach (var piece in stream.ReadAsync(CancellationToken.None))
            {
                piece.Audio.Dispose();
            }
        });
        Assert.Equal(VolcengineErrorKind.Unauthorized, error.Kind);
        Assert.Equal(45000000, error.Code);
    }

    [Fact]
    public async Task ByteDanceHttp_PostsTheDocumentedBody_AndDecodesTheBase64Audio_ErrorsCarryTheCode()
    {
        await using var fake = await FakeVolcengineServer.StartAsync();
        using var pool = Pool(fake);
        var tts = new ByteDanceHttpTtsProvider(pool);
        var parameters = new JsonObject
        {
            ["app"] = new JsonObject { ["appid"] = "fake-volc-app", ["token"] = "fake-volc-token", ["cluster"] = "volcano_tts" },
            ["audio"] = new JsonObject { ["voice_type"] = "zh_female_wanwanxiaohe_moon_bigtts", ["speed_ratio"] = 1.2, ["rate"] = 16000 },
        };
        var samples = 0L;
        await foreach (var chunk in tts.SynthesizeAsync("Hello world.", parameters, CancellationToken.None))
        {
            using (chunk)
            {
                Assert.Equal(16000, chunk.SampleRate);
                samples += chunk.Length;
            }
        }

        Assert.Equal("Hello world.".Length * 60 * 16, samples);
        var body = fake.Requests[0];
        Assert.Equal("query", body["request"]!["operation"]!.GetValue<string>());
        Assert.Equal("Hello world.", body["request"]!["text"]!.GetValue<string>());
        Assert.Equal("pcm", body["audio"]!["encoding"]!.GetValue<string>());
        Assert.Equal(1.2, body["audio"]!["speed_ratio"]!.GetValue<double>());
        Assert.Equal("Bearer;fake-volc-token", fake.Headers[0]["Authorization"]);

        fake.FailNext(3003, "concurrency limit exceeded");
        var limited = await Assert.ThrowsAsync<VolcengineException>(() => DrainAsync(tts.SynthesizeAsync("Again.", parameters, CancellationToken.None)));
        Assert.Equal((VolcengineErrorKind.RateLimited, 3003L), (limited.Kind, limited.Code));
        Assert.Contains("audio.voice_type", tts.Validate(new JsonObject { ["app"] = parameters["app"]!.DeepClone() }), StringComparison.Ordinal);
    }

    private static async Task DrainAsync(IAsyncEnumerable<AudioChunk> audio)
    {
        await foreach (var chunk in audio)
        {
            chunk.Dispose();
        }
    }
}
