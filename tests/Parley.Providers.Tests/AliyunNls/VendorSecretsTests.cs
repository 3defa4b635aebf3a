using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Speech;
using Parley.Providers.AliyunNls;
using Parley.Providers.MiniMax;
using Parley.Testing;
using Parley.Testing.Fakes.AliyunNls;
using Parley.Testing.Fakes.MiniMax;

namespace Parley.Providers.Tests.AliyunNls;

/// <summary>Neither vendor logs keys, secrets, signatures or tokens, on success or failure.</summary>
public sealed class VendorSecretsTests
{
    [Fact]
    public async Task Logs_HoldNoSecrets()
    {
        using var logs = new CapturedLogs();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        await using var nls = await FakeAliyunNlsServer.StartAsync(new FakeAliyunNlsOptions { AccessKeySecret = "nls-secret-value" });
        await using var minimax = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { ApiKey = "mm-secret-value" });
        using var aliyun = new AliyunNlsTtsProvider(new AliyunNlsOptions { Url = nls.Url, TokenUrl = nls.TokenUrl }, loggerFactory: factory);
        using var pool = new MiniMaxSessionPool(new MiniMaxOptions { Url = minimax.Url }, loggerFactory: factory);
        var mm = new MiniMaxTtsProvider(pool);
        var nlsParams = new JsonObject { ["app"] = new JsonObject { ["app_key"] = nls.Options.AppKey, ["ak_id"] = nls.Options.AccessKeyId, ["ak_key"] = "nls-secret-value" } };
        var mmParams = new JsonObject { ["app"] = new JsonObject { ["api_key"] = "mm-secret-value" } };

        await SpeechStreams.SpeakAsync(aliyun, new TtsRequest(nlsParams), "你好。");
        nls.RevokeTokens();
        nls.FailNextTask(40000005, "TOO_MANY_REQUESTS");
        await Assert.ThrowsAsync<AliyunNlsException>(() => SpeechStreams.SpeakAsync(aliyun, new TtsRequest(nlsParams), "再见。"));
        nlsParams["app"]!["ak_key"] = "nls-wrong-secret";
        await Assert.ThrowsAsync<AliyunNlsException>(() => SpeechStreams.SpeakAsync(aliyun, new TtsRequest(nlsParams), "再见。"));
        await SpeechStreams.SpeakAsync(mm, new TtsRequest(mmParams), "Hello.");
        minimax.FailNext(1002, "rate limit");
        await Assert.ThrowsAsync<MiniMaxException>(() => SpeechStreams.SpeakAsync(mm, new TtsRequest(mmParams), "Again."));

        Assert.NotEmpty(logs.Entries);
        foreach (var entry in logs.Entries)
        {
            var text = entry.Message + " " + entry.Exception;
            Assert.DoesNotContain("secret-value", text, StringComparison.Ordinal);
            Assert.DoesNotContain("nls-wrong-secret", text, StringComparison.Ordinal);
            Assert.DoesNotContain("token=", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task MiniMax_StreamDisposedMidSentence_DoesNotReturnTheSession()
    {
        await using var minimax = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { ApiKey = "k", FrameGap = TimeSpan.FromMilliseconds(50) });
        using var pool = new MiniMaxSessionPool(new MiniMaxOptions { Url = minimax.Url });
        var engine = new MiniMaxTtsProvider(pool);
        var parameters = new JsonObject { ["app"] = new JsonObject { ["api_key"] = "k" } };

        await using (var stream = engine.Open(new TtsRequest(parameters)))
        {
            await stream.PushTextAsync("A long sentence that is interrupted by the user.", CancellationToken.None);
            await stream.FlushAsync(CancellationToken.None);
            await foreach (var piece in stream.ReadAsync(CancellationToken.None))
            {
                piece.Audio.Dispose();
                break; // barge-in after the first audio
            }
        }

        Assert.Equal(0, pool.IdleCount);
        var next = await SpeechStreams.SpeakAsync(engine, new TtsRequest(parameters), "Next.");
        Assert.True(next.Samples > 0);
        Assert.Equal(2, minimax.ConnectionsAccepted);
    }
}
