using System.Text.Json.Nodes;
using Parley.Abstractions.Speech;
using Parley.Providers.Volcengine;
using Parley.Testing.Fakes.Volcengine;

namespace Parley.Providers.Tests.Volcengine;

public sealed class VolcSeedAsrTests
{
    private const string Transcript = "what is the weather like today";

    [Fact]
    public async Task Utterances_GivePartialsThenOneFinalEach_WithDeploymentCredentials_AndTheBoostingTable()
    {
        await using var fake = await FakeVolcengineServer.StartAsync(new FakeVolcengineOptions { AsrTranscript = Transcript });
        using var pool = new VolcConnectionPool(new VolcengineOptions
        {
            VolcSeedASR = new VolcVendorOptions { Url = fake.AsrUrl, AppId = "fake-volc-app", AccessToken = "fake-volc-token" },
        });
        var asr = new VolcSeedAsrRecognizerProvider(pool);
        var parameters = new JsonObject { ["corpus"] = new JsonObject { ["boosting_table_id"] = "test_boosting_table" } };
        Assert.Null(asr.Validate(parameters));
        await using var stream = asr.Open(new SpeechRecognitionOptions(parameters, null));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var results = stream.Results(timeout.Token).GetAsyncEnumerator(timeout.Token);
        for (var utterance = 0; utterance < 2; utterance++)
        {
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
            Assert.True(partials.Count >= 2, "partials: " + string.Join(" | ", partials));
            Assert.All(partials, p => Assert.StartsWith(p, Transcript, StringComparison.Ordinal));
            Assert.Equal(new SpeechRecognitionResult(Transcript, IsFinal: true), seen[^1]);
        }

        Assert.Equal(2 * 32000, fake.AudioBytesReceived);
        Assert.Equal(2, fake.AsrRequests);
        Assert.Empty(fake.ProtocolErrors); // sequences increase by one, the last packet is negative
        var request = fake.Requests[0];
        Assert.Equal("bigmodel", request["request"]!["model_name"]!.GetValue<string>());
        Assert.Equal("test_boosting_table", request["request"]!["corpus"]!["boosting_table_id"]!.GetValue<string>());
        Assert.Equal(16000, request["audio"]!["rate"]!.GetValue<int>());
        Assert.Equal(VolcSeedAsrRecognizerProvider.DefaultResourceId, fake.Headers[0]["X-Api-Resource-Id"]);
        Assert.Equal("fake-volc-app", fake.Headers[0]["X-Api-App-Key"]);
    }

    [Fact]
    public async Task AnErrorFrame_EndsTheResultsWithTheCode()
    {
        await using var fake = await FakeVolcengineServer.StartAsync();
        using var pool = new VolcConnectionPool(new VolcengineOptions { VolcSeedASR = new VolcVendorOptions { Url = fake.AsrUrl } });
        var parameters = new JsonObject { ["app"] = new JsonObject { ["appid"] = "fake-volc-app", ["token"] = "fake-volc-token" } };
        fake.FailNext(55000031, "server is busy", asr: true);
        await using var stream = new VolcSeedAsrRecognizerProvider(pool).Open(new SpeechRecognitionOptions(parameters, "Parley|5"));
        await PushSpeechAsync(stream, TimeSpan.FromMilliseconds(400));
        await stream.EndUtteranceAsync(CancellationToken.None);
        var error = await Assert.ThrowsAsync<VolcengineException>(async () =>
        {
            await foreach (var _ in stream.Results(CancellationToken.None))
            {
            }
        }).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((VolcengineErrorKind.RateLimited, 55000031L), (error.Kind, error.Code));
        Assert.Contains("VolcSeedASR", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"word\":\"Parley\"", fake.Requests[0]["request"]!["corpus"]!["context"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_WithoutCredentials_NamesTheField()
    {
        using var pool = new VolcConnectionPool();
        var asr = new VolcSeedAsrRecognizerProvider(pool);
        Assert.Contains("ASR.Params.app.appid", asr.Validate(null), StringComparison.Ordinal);
        Assert.Contains("boosting_table_id", asr.Validate(new JsonObject
        {
            ["app"] = new JsonObject { ["appid"] = "a", ["token"] = "t" },
            ["corpus"] = new JsonObject { ["boosting_table_id"] = 5 },
        }), StringComparison.Ordinal);
    }

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
