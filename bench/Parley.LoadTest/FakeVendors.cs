using Parley.Testing.Fakes;

namespace Parley.LoadTest;

/// <summary>The fake DashScope server (CosyVoice TTS + Paraformer ASR over their WebSocket protocol) of a run.</summary>
internal sealed class FakeVendors : IAsyncDisposable
{
    public const string ApiKey = "parley-bench-key";

    private readonly FakeDashScopeServer _server;

    private FakeVendors(FakeDashScopeServer server) => _server = server;

    public string Url => _server.Url;

    public static async Task<FakeVendors> StartAsync(LoadOptions options, string transcript, CancellationToken cancellationToken)
    {
        var server = await FakeDashScopeServer.StartAsync(
            new FakeDashScopeOptions
            {
                ApiKey = ApiKey,
                AsrFinalDelay = options.AsrFinalDelay,
                AsrTranscript = transcript,
                TtsFirstAudio = options.TtsFirstAudio,
            },
            cancellationToken);
        return new FakeVendors(server);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
