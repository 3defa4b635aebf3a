using System.Globalization;
using System.Text.Json.Nodes;
using Parley.Client;
using Parley.Testing.Fakes.AliyunNls;
using Parley.Testing.Fakes.Azure;
using Parley.Testing.Fakes.MiniMax;
using Parley.Testing.Fakes.Tencent;
using Parley.Testing.Fakes.Volcengine;

namespace Parley.LoadTest;

/// <summary>
/// The cloud vendor families a run can use besides DashScope (<c>--vendors volcengine|flowing|minimax|aliyun</c>): each
/// starts the fakes that speak that vendor's real protocol, with the run's fixed ASR-final and TTS-first-audio
/// latency, and gives the agent's TTS/ASR objects as ZEGO's docs configure them plus the server's endpoint settings.
/// </summary>
internal static class CloudVendorFamilies
{
    public static readonly IReadOnlyList<string> Names = ["volcengine", "flowing", "minimax", "aliyun"];

    public sealed record Family(TtsConfig Tts, AsrConfig Asr, IReadOnlyList<string> ServerArguments, string Description, IReadOnlyList<IAsyncDisposable> Fakes);

    public static async Task<Family> StartAsync(string name, LoadOptions options, string transcript, AsrConfig asr, CancellationToken cancellationToken)
    {
        var ms = (TimeSpan t) => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture);
        var latency = $"ASR final {ms(options.AsrFinalDelay)} ms after the utterance, TTS first audio {ms(options.TtsFirstAudio)} ms";
        switch (name)
        {
            case "volcengine":
            case "flowing":
            {
                var volc = await FakeVolcengineServer.StartAsync(new FakeVolcengineOptions
                {
                    AsrTranscript = transcript,
                    AsrFinalDelay = options.AsrFinalDelay,
                    TtsFirstAudio = options.TtsFirstAudio,
                });
                var vendor = name == "flowing" ? "ByteDanceFlowing" : "ByteDanceV3";
                var tts = new TtsConfig
                {
                    Vendor = vendor,
                    Params = new JsonObject
                    {
                        ["app"] = new JsonObject { ["appid"] = volc.Options.AppId, ["token"] = volc.Options.AccessToken, ["resource_id"] = "seed-tts-2.0" },
                        ["req_params"] = new JsonObject
                        {
                            ["speaker"] = "en_female_sarah_mars_bigtts",
                            ["audio_params"] = name == "flowing" ? new JsonObject { ["speech_rate"] = 0, ["enable_timestamp"] = true } : new JsonObject { ["speech_rate"] = 0 },
                        },
                    },
                };
                return new Family(
                    tts,
                    asr with { Vendor = "VolcSeedASR", Params = new JsonObject() },
                    [
                        "--Parley:Vendors:ByteDanceV3:Url", volc.UnidirectionalUrl,
                        "--Parley:Vendors:ByteDanceFlowing:Url", volc.BidirectionalUrl,
                        "--Parley:Vendors:VolcSeedASR:Url", volc.AsrUrl,
                        "--Parley:Vendors:VolcSeedASR:AppId", volc.Options.AppId,
                        "--Parley:Vendors:VolcSeedASR:AccessToken", volc.Options.AccessToken,
                    ],
                    $"Silero VAD (real) + fake Volcengine vendors over the V3 binary WebSocket protocol ({vendor} TTS, VolcSeedASR; {latency})",
                    [volc]);
            }

            case "minimax":
            {
                var minimax = await FakeMiniMaxServer.StartAsync(new FakeMiniMaxOptions { FirstAudio = options.TtsFirstAudio }, cancellationToken);
                var tencent = await FakeTencentAsrServer.StartAsync(new FakeTencentAsrOptions { Transcript = transcript, FinalDelay = options.AsrFinalDelay });
                return new Family(
                    new TtsConfig
                    {
                        Vendor = "MiniMax",
                        Params = new JsonObject
                        {
                            ["app"] = new JsonObject { ["api_key"] = minimax.Options.ApiKey },
                            ["model"] = "speech-02-turbo",
                            ["voice_setting"] = new JsonObject { ["voice_id"] = "female-shaonv", ["speed"] = 1, ["vol"] = 1, ["pitch"] = 0 },
                        },
                    },
                    asr with { Vendor = "Tencent", Params = JsonNode.Parse("""{"engine_model_type":"16k_en"}""")!.AsObject() },
                    [
                        "--Parley:Vendors:MiniMax:Url", minimax.Url,
                        "--Parley:Vendors:Tencent:Url", tencent.Url,
                        "--Parley:Vendors:Tencent:AppId", tencent.Options.AppId,
                        "--Parley:Vendors:Tencent:SecretId", tencent.Options.SecretId,
                        "--Parley:Vendors:Tencent:SecretKey", tencent.Options.SecretKey,
                    ],
                    $"Silero VAD (real) + fake MiniMax T2A v2 TTS and fake Tencent real-time ASR over their WebSocket protocols ({latency})",
                    [minimax, tencent]);
            }

            case "aliyun":
            {
                var nls = await FakeAliyunNlsServer.StartAsync(new FakeAliyunNlsOptions { FirstAudio = options.TtsFirstAudio }, cancellationToken);
                var azure = await FakeAzureSpeechServer.StartAsync(new FakeAzureSpeechOptions { Transcript = transcript, FinalDelay = options.AsrFinalDelay });
                return new Family(
                    new TtsConfig
                    {
                        Vendor = "Aliyun",
                        Params = new JsonObject
                        {
                            ["app"] = new JsonObject { ["app_key"] = nls.Options.AppKey, ["ak_id"] = nls.Options.AccessKeyId, ["ak_key"] = nls.Options.AccessKeySecret },
                            ["voice"] = "zhitian_emo",
                            ["volume"] = 50,
                            ["speech_rate"] = 0,
                            ["pitch_rate"] = 0,
                        },
                    },
                    asr with { Vendor = "Microsoft", Params = JsonNode.Parse("""{"language":"en-US"}""")!.AsObject() },
                    [
                        "--Parley:Vendors:Aliyun:Url", nls.Url,
                        "--Parley:Vendors:Aliyun:TokenUrl", nls.TokenUrl,
                        "--Parley:Vendors:Microsoft:Url", azure.Url,
                        "--Parley:Vendors:Microsoft:Key", azure.Options.Key,
                    ],
                    $"Silero VAD (real) + fake Aliyun NLS TTS (with CreateToken) and fake Azure Speech ASR over their protocols ({latency})",
                    [nls, azure]);
            }

            default:
                throw new ArgumentException($"--vendors must be fake, local or one of {string.Join(", ", Names)}; got '{name}'");
        }
    }
}
