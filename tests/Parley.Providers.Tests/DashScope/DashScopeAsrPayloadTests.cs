using System.Text.Json.Nodes;
using Parley.Abstractions.Speech;
using Parley.Providers.DashScope;
using Parley.Testing.Fakes;

namespace Parley.Providers.Tests.DashScope;

/// <summary>
/// ZEGO 2.13's DashScope ASR form: <c>ASR.Params.payload</c> is the run-task payload (configuring-asr.mdx), passed
/// through; the older top-level form keeps working; <c>AliyunFunASR</c> is Fun-ASR on the same API.
/// </summary>
public sealed class DashScopeAsrPayloadTests
{
    private const string Key = "sk-test-payload";
    private const string Transcript = "hello there";

    [Fact]
    public async Task PayloadForm_ModelAndLanguageHints_ReachTheRunTask()
    {
        var parameters = new JsonObject
        {
            ["payload"] = new JsonObject
            {
                ["model"] = "paraformer-realtime-8k-v2",
                ["parameters"] = new JsonObject { ["language_hints"] = new JsonArray("en", "ja"), ["disfluency_removal_enabled"] = true },
            },
        };

        using var pool = PoolFor(out var fake);
        var payload = await RunTaskPayloadAsync(new ParaformerRecognizerProvider(pool), fake, parameters);

        Assert.Equal("paraformer-realtime-8k-v2", payload["model"]!.GetValue<string>());
        Assert.Equal("""["en","ja"]""", payload["parameters"]!["language_hints"]!.ToJsonString());
        Assert.True(payload["parameters"]!["disfluency_removal_enabled"]!.GetValue<bool>());
        Assert.Equal("pcm", payload["parameters"]!["format"]!.GetValue<string>());
        Assert.Equal(16000, payload["parameters"]!["sample_rate"]!.GetValue<int>());
        Assert.Equal("recognition", payload["function"]!.GetValue<string>());
        Assert.Null(payload["parameters"]!["payload"]);
    }

    [Fact]
    public async Task PayloadForm_WinsOverTheOlderForm_WhichStillWorks()
    {
        var parameters = new JsonObject
        {
            ["model"] = "old-model",
            ["language_hints"] = new JsonArray("zh"),
            ["vocabulary_id"] = "vocab-1",
            ["payload"] = new JsonObject { ["parameters"] = new JsonObject { ["language_hints"] = new JsonArray("en") } },
        };

        using var pool = PoolFor(out var fake);
        var payload = await RunTaskPayloadAsync(new ParaformerRecognizerProvider(pool), fake, parameters);

        Assert.Equal("old-model", payload["model"]!.GetValue<string>());
        Assert.Equal("""["en"]""", payload["parameters"]!["language_hints"]!.ToJsonString());
        Assert.Equal("vocab-1", payload["parameters"]!["vocabulary_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task AliyunFunASR_IsFunAsrOnTheSameApi()
    {
        using var pool = PoolFor(out var fake);
        var provider = new FunAsrRecognizerProvider(pool);
        Assert.Equal("AliyunFunASR", provider.Name);

        var payload = await RunTaskPayloadAsync(provider, fake, []);

        Assert.Equal(ParaformerRecognizerProvider.FunAsrDefaultModel, payload["model"]!.GetValue<string>());
        Assert.Equal("asr", payload["task"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"payload":"x"}""", "ASR.Params.payload")]
    [InlineData("""{"payload":{"model":7}}""", "ASR.Params.payload.model")]
    [InlineData("""{"payload":{"parameters":[]}}""", "ASR.Params.payload.parameters")]
    [InlineData("""{"payload":{"parameters":{"language_hints":"en"}}}""", "ASR.Params.payload.parameters.language_hints")]
    [InlineData("""{"payload":{"parameters":{"language_hints":[1]}}}""", "ASR.Params.payload.parameters.language_hints")]
    [InlineData("""{"payload":{"parameters":{"sample_rate":8000}}}""", "ASR.Params.payload.parameters.sample_rate")]
    public void BadPayload_IsNamed(string json, string field)
    {
        using var pool = new DashScopeConnectionPool(new DashScopeOptions { Url = "ws://127.0.0.1:1/ws", ApiKey = Key });
        var parameters = JsonNode.Parse(json)!.AsObject();

        var error = new ParaformerRecognizerProvider(pool).Validate(parameters);

        Assert.NotNull(error);
        Assert.StartsWith(field + " ", error);
    }

    private static DashScopeConnectionPool PoolFor(out FakeDashScopeServer fake)
    {
        fake = FakeDashScopeServer.StartAsync(new FakeDashScopeOptions
        {
            ApiKey = Key,
            AsrTranscript = Transcript,
            AsrPartialInterval = TimeSpan.FromMilliseconds(100),
            AsrFinalDelay = TimeSpan.FromMilliseconds(20),
        }).GetAwaiter().GetResult();
        return new DashScopeConnectionPool(new DashScopeOptions { Url = fake.Url });
    }

    /// <summary>Recognises one short utterance and returns the run-task payload the fake saw.</summary>
    private static async Task<JsonObject> RunTaskPayloadAsync(ISpeechRecognizer provider, FakeDashScopeServer fake, JsonObject parameters)
    {
        await using (fake)
        {
            parameters["app"] = new JsonObject { ["api_key"] = Key };
            Assert.Null(provider.Validate(parameters));
            await using var stream = provider.Open(new SpeechRecognitionOptions(parameters, null));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);
            var frame = new short[320];
            for (var f = 0; f < 25; f++)
            {
                for (var i = 0; i < frame.Length; i++)
                {
                    frame[i] = (short)(8000 * Math.Sin(2 * Math.PI * 300 * ((f * 320) + i) / 16000.0));
                }

                await stream.PushAsync(frame, CancellationToken.None);
            }

            await stream.EndUtteranceAsync(CancellationToken.None);
            while (await results.MoveNextAsync() && !results.Current.IsFinal)
            {
            }

            return fake.LastRunTask!["payload"]!.AsObject();
        }
    }
}
