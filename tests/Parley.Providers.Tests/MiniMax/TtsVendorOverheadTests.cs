using System.Diagnostics;
using System.Text.Json.Nodes;
using Parley.Abstractions.Speech;
using Parley.Providers.AliyunNls;
using Parley.Providers.MiniMax;
using Parley.Testing.Fakes.AliyunNls;
using Parley.Testing.Fakes.MiniMax;
using Xunit.Abstractions;

namespace Parley.Providers.Tests.MiniMax;

/// <summary>Parley's own time to first audio beyond the fake's configured latency, on warm connections/tokens (median of 20).</summary>
public sealed class TtsVendorOverheadTests(ITestOutputHelper output)
{
    private static readonly TimeSpan FakeLatency = TimeSpan.FromMilliseconds(30);

    [Fact]
    public async Task MiniMax_WarmSentence_AddsLittleBeyondTheVendorLatency()
    {
        await using var fake = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { ApiKey = "k", FirstAudio = FakeLatency });
        using var pool = new MiniMaxSessionPool(new MiniMaxOptions { Url = fake.Url });
        var engine = new MiniMaxTtsProvider(pool);
        var request = new TtsRequest(new JsonObject { ["app"] = new JsonObject { ["api_key"] = "k" } });
        var overhead = await MeasureAsync(engine, request);
        output.WriteLine($"MiniMax overhead (median, warm): {overhead.TotalMilliseconds:0.0} ms");
        Assert.True(overhead < TimeSpan.FromMilliseconds(50), $"{overhead.TotalMilliseconds} ms beyond the fake's latency");
    }

    [Fact]
    public async Task Aliyun_WarmToken_SentencePaysOnlyTheHandshake()
    {
        await using var fake = await FakeAliyunNlsServer.StartAsync(new FakeAliyunNlsOptions { FirstAudio = FakeLatency });
        using var engine = new AliyunNlsTtsProvider(new AliyunNlsOptions { Url = fake.Url, TokenUrl = fake.TokenUrl });
        var o = fake.Options;
        var request = new TtsRequest(new JsonObject { ["app"] = new JsonObject { ["app_key"] = o.AppKey, ["ak_id"] = o.AccessKeyId, ["ak_key"] = o.AccessKeySecret } });
        var overhead = await MeasureAsync(engine, request);
        output.WriteLine($"Aliyun overhead (median, warm token, new connection per sentence): {overhead.TotalMilliseconds:0.0} ms");
        Assert.Equal(1, fake.TokensIssued);
        Assert.True(overhead < TimeSpan.FromMilliseconds(50), $"{overhead.TotalMilliseconds} ms beyond the fake's latency");
    }

    private static async Task<TimeSpan> MeasureAsync(ITextToSpeech engine, TtsRequest request)
    {
        var samples = new List<TimeSpan>();
        for (var i = 0; i < 21; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await using var stream = engine.Open(request);
            await stream.PushTextAsync("Short sentence.", CancellationToken.None);
            await stream.FlushAsync(CancellationToken.None);
            TimeSpan? first = null;
            await foreach (var piece in stream.ReadAsync(CancellationToken.None))
            {
                first ??= piece.Audio.IsEmpty ? null : Stopwatch.GetElapsedTime(started);
                piece.Audio.Dispose();
            }

            if (i > 0)
            {
                samples.Add(first!.Value - FakeLatency); // the first one pays the handshake/token
            }
        }

        samples.Sort();
        return samples[samples.Count / 2];
    }
}
