using System.Globalization;
using System.Text.Json.Nodes;
using Parley.Client;

namespace Parley.LoadTest;

/// <summary>Which speech engines the run's agents use.</summary>
public enum VendorMode
{
    /// <summary>Fake DashScope vendors (CosyVoice TTS, Paraformer ASR) of fixed latency, over their real WebSocket protocol.</summary>
    Fake,

    /// <summary>The real local engines: pocketsphinx ASR and flite TTS (Silero VAD in both modes).</summary>
    Local,
}

/// <summary>The speech vendors of one run: the agent's TTS/ASR configuration and what the server must be told.</summary>
internal sealed class SpeechVendors : IAsyncDisposable
{
    private readonly IAsyncDisposable? _fake;

    private SpeechVendors(VendorMode mode, TtsConfig tts, AsrConfig asr, IReadOnlyList<string> serverArguments, double fixedLatencyMs, string description, IAsyncDisposable? fake)
    {
        Mode = mode;
        Tts = tts;
        Asr = asr;
        ServerArguments = serverArguments;
        FixedVendorLatencyMs = fixedLatencyMs;
        Description = description;
        _fake = fake;
    }

    public VendorMode Mode { get; }

    public TtsConfig Tts { get; }

    public AsrConfig Asr { get; }

    /// <summary>Extra command-line configuration for the server process.</summary>
    public IReadOnlyList<string> ServerArguments { get; }

    /// <summary>The fake vendors' configured ASR final + TTS first-audio latency (0 for the local engines: they are measured, not configured).</summary>
    public double FixedVendorLatencyMs { get; }

    public string Description { get; }

    /// <summary>The vendor family (<c>dashscope</c>, <c>local</c>, or one of <see cref="CloudVendorFamilies.Names"/>).</summary>
    public string Family { get; init; } = "dashscope";

    public static async Task<SpeechVendors> StartAsync(LoadOptions options, string transcript, CancellationToken cancellationToken)
    {
        var asr = new AsrConfig { VADSilenceSegmentation = options.VadSilenceMs };
        if (options.Vendors == VendorMode.Local)
        {
            return new SpeechVendors(
                VendorMode.Local,
                new TtsConfig { Vendor = "Local", Params = new JsonObject { ["engine"] = "flite", ["voice"] = "kal16" } },
                asr,
                [],
                0,
                "REAL local engines: Silero VAD + pocketsphinx ASR + flite TTS (kal16); fake OpenAI-compatible LLM with fixed latency",
                null)
            {
                Family = "local",
            };
        }

        if (options.VendorFamily != "dashscope")
        {
            var family = await CloudVendorFamilies.StartAsync(options.VendorFamily, options, transcript, asr, cancellationToken);
            return new SpeechVendors(
                VendorMode.Fake,
                family.Tts,
                family.Asr,
                family.ServerArguments,
                (options.AsrFinalDelay + options.TtsFirstAudio).TotalMilliseconds,
                family.Description + "; fake OpenAI-compatible LLM with fixed latency",
                new Fakes(family.Fakes))
            {
                Family = options.VendorFamily,
            };
        }

        var fake = await FakeVendors.StartAsync(options, transcript, cancellationToken);
        var ms = (TimeSpan t) => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture);
        return new SpeechVendors(
            VendorMode.Fake,
            new TtsConfig { Vendor = "CosyVoice", Params = new JsonObject { ["app"] = new JsonObject { ["api_key"] = FakeVendors.ApiKey } } },
            asr with { Vendor = "AliyunParaformer", Params = new JsonObject { ["app"] = new JsonObject { ["api_key"] = FakeVendors.ApiKey } } },
            ["--Parley:Vendors:DashScope:Url", fake.Url],
            (options.AsrFinalDelay + options.TtsFirstAudio).TotalMilliseconds,
            $"Silero VAD (real) + fake DashScope vendors over their WebSocket protocol (Paraformer ASR final {ms(options.AsrFinalDelay)} ms after the end of the utterance, CosyVoice TTS first audio {ms(options.TtsFirstAudio)} ms); fake OpenAI-compatible LLM with fixed latency",
            fake);
    }

    public async ValueTask DisposeAsync()
    {
        if (_fake is not null)
        {
            await _fake.DisposeAsync();
        }
    }
}

/// <summary>Several fakes disposed together.</summary>
internal sealed class Fakes(IReadOnlyList<IAsyncDisposable> fakes) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        foreach (var fake in fakes)
        {
            await fake.DisposeAsync();
        }
    }
}
