using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;

namespace Parley.Providers.DashScope;

/// <summary>
/// The <c>CosyVoice</c> TTS vendor: Alibaba CosyVoice over DashScope's WebSocket inference API. Params as in the ZEGO
/// contract: <c>{"app":{"api_key":"…"},"payload":{"model":"cosyvoice-v2","parameters":{"voice":"longxiaochun_v2"}}}</c>.
/// <c>app.api_key</c> is required; <c>payload</c> is merged into the run-task payload (its <c>parameters</c> into the
/// run-task parameters). Parley always asks for <c>format: "pcm"</c> (PCM16 mono) and takes the sample rate from
/// <c>payload.parameters.sample_rate</c> (default 24000); defaults <c>model</c> cosyvoice-v2,
/// <c>voice</c> longxiaochun_v2, <c>text_type</c> PlainText. One task per call (run-task → continue-task → finish-task)
/// on a pooled connection; audio is streamed out as it arrives.
/// </summary>
public sealed partial class CosyVoiceTtsProvider(DashScopeConnectionPool pool, ILoggerFactory? loggerFactory = null) : SentenceTtsBase
{
    public const string VendorName = "CosyVoice";
    public const string DefaultModel = "cosyvoice-v2";
    public const string DefaultVoice = "longxiaochun_v2";
    public const int DefaultSampleRate = 24000;

    private static readonly int[] SampleRates = [8000, 16000, 22050, 24000, 44100, 48000];

    private readonly ILogger _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<CosyVoiceTtsProvider>();

    private static readonly TtsCapabilities SentenceCapabilities = new(StreamingText: false, WordTimings: false, NativeSampleRate: DefaultSampleRate);

    public override string Name => VendorName;

    /// <summary>One task per pushed text for now; the protocol could take a whole reply through continue-task.</summary>
    public override TtsCapabilities Capabilities => SentenceCapabilities;

    public override string? Validate(JsonObject? parameters) =>
        DashScopeParams.ApiKeyError(parameters, "TTS", pool.Options.ApiKey) ?? PayloadError(parameters);

    /// <summary>The payload rules of <see cref="Validate"/> and a key of the wrong type; a missing or placeholder key is accepted (the server falls back).</summary>
    public override string? ValidateConfiguration(JsonObject? parameters) =>
        DashScopeParams.KeyTypeError(parameters, "TTS") ?? PayloadError(parameters);

    private static string? PayloadError(JsonObject? parameters)
    {
        if (parameters is null || !parameters.TryGetPropertyValue("payload", out var payloadNode) || payloadNode is null)
        {
            return null;
        }

        if (payloadNode is not JsonObject payload)
        {
            return "TTS.Params.payload must be an object (merged into the CosyVoice run-task payload).";
        }

        if (payload.TryGetPropertyValue("model", out var model) && model is not null && !DashScopeParams.IsString(model))
        {
            return "TTS.Params.payload.model must be a string such as \"cosyvoice-v2\".";
        }

        if (!payload.TryGetPropertyValue("parameters", out var parametersNode) || parametersNode is null)
        {
            return null;
        }

        if (parametersNode is not JsonObject p)
        {
            return "TTS.Params.payload.parameters must be an object.";
        }

        if (p.TryGetPropertyValue("voice", out var voice) && voice is not null && !DashScopeParams.IsString(voice))
        {
            return "TTS.Params.payload.parameters.voice must be a string such as \"longxiaochun_v2\".";
        }

        if (DashScopeParams.AsksForNonPcm(p))
        {
            return "TTS.Params.payload.parameters.format must be \"pcm\" (Parley streams raw PCM16); leave it out to get pcm.";
        }

        if (p.TryGetPropertyValue("sample_rate", out var rate) && rate is not null
            && !(DashScopeParams.TryGetInt(rate, out var hz) && SampleRates.Contains(hz)))
        {
            return $"TTS.Params.payload.parameters.sample_rate must be one of {string.Join(", ", SampleRates)}.";
        }

        return null;
    }

    protected override IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(string text, JsonObject? parameters, CancellationToken cancellationToken) =>
        SynthesizeSentenceAsync(text, parameters, null, cancellationToken);

    /// <summary>One task at <paramref name="endpoint"/> (<c>TTS.Url</c>) or, when null, the configured DashScope URL.</summary>
    protected override async IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(
        string text,
        JsonObject? parameters,
        Uri? endpoint,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new Request(parameters ?? [], pool.Options.ApiKey);
        var taskId = Guid.NewGuid().ToString("N");
        var connection = await pool.StartTaskAsync(VendorName, request.ApiKey, taskId, request, static (w, r) => r.WritePayload(w), cancellationToken, endpoint)
            .ConfigureAwait(false);
        var clean = false;
        try
        {
            await connection.SendContinueTaskAsync(taskId, text, cancellationToken).ConfigureAwait(false);
            await connection.SendFinishTaskAsync(taskId, cancellationToken).ConfigureAwait(false);
            var carry = -1; // a byte of a sample split across two binary pieces
            while (true)
            {
                var (kind, e) = await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false);
                if (kind == DashScopeMessageKind.Binary)
                {
                    var chunk = ToChunk(connection.Binary.Span, ref carry, request.SampleRate);
                    if (!chunk.IsEmpty)
                    {
                        yield return chunk;
                    }

                    continue;
                }

                if (e!.TaskId != taskId)
                {
                    continue;
                }

                if (e.Name == DashScopeEvent.TaskFinished)
                {
                    clean = true;
                    yield break;
                }

                if (e.Name == DashScopeEvent.TaskFailed)
                {
                    LogTaskFailed(_logger, e.ErrorCode ?? "UnknownError");
                    throw DashScopeConnectionPool.TaskFailed(VendorName, e);
                }

                // result-generated (sentence timing, usage): nothing to do for audio.
            }
        }
        finally
        {
            // Cancelled, failed or abandoned mid-task: the connection may still carry this task's audio; never reuse it.
            pool.Return(connection, clean);
        }
    }

    /// <summary>PCM16 little-endian bytes (possibly with a byte left from the previous piece) into a pooled chunk.</summary>
    private static AudioChunk ToChunk(ReadOnlySpan<byte> bytes, ref int carry, int sampleRate)
    {
        if (bytes.IsEmpty)
        {
            return default;
        }

        var total = bytes.Length + (carry >= 0 ? 1 : 0);
        var samples = total / 2;
        if (samples == 0)
        {
            carry = bytes[0];
            return default;
        }

        var chunk = AudioChunk.Rent(samples, sampleRate);
        var target = chunk.WritableSpan;
        var offset = 0;
        var index = 0;
        if (carry >= 0)
        {
            target[0] = (short)(carry | (bytes[0] << 8));
            offset = 1;
            index = 1;
        }

        var whole = (bytes.Length - offset) / 2;
        MemoryMarshal.Cast<byte, short>(bytes.Slice(offset, whole * 2)).CopyTo(target[index..]);
        if (!BitConverter.IsLittleEndian)
        {
            for (var i = index; i < index + whole; i++)
            {
                target[i] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(target[i]);
            }
        }

        var used = offset + (whole * 2);
        carry = used < bytes.Length ? bytes[used] : -1;
        return chunk;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "CosyVoice task failed with {ErrorCode}")]
    private static partial void LogTaskFailed(ILogger logger, string errorCode);

    /// <summary>The run-task payload for one synthesis: the user's payload merged over Parley's required fields.</summary>
    private sealed class Request
    {
        private readonly JsonObject? _payload;
        private readonly JsonObject? _parameters;

        public Request(JsonObject parameters, string? defaultKey)
        {
            ApiKey = DashScopeParams.ApiKey(parameters, defaultKey);
            _payload = parameters["payload"] as JsonObject;
            _parameters = _payload?["parameters"] as JsonObject;
            Model = _payload?["model"] is { } m && DashScopeParams.IsString(m) ? m.GetValue<string>() : DefaultModel;
            SampleRate = DashScopeParams.TryGetInt(_parameters?["sample_rate"], out var hz) ? hz : DefaultSampleRate;
        }

        public string ApiKey { get; }

        public string Model { get; }

        public int SampleRate { get; }

        public void WritePayload(Utf8JsonWriter w)
        {
            w.WriteString("task_group", "audio");
            w.WriteString("task", "tts");
            w.WriteString("function", "SpeechSynthesizer");
            w.WriteString("model", Model);
            DashScopeConnection.WriteMembers(w, _payload, "task_group", "task", "function", "model", "parameters", "input");
            w.WriteStartObject("parameters");
            w.WriteString("format", "pcm");
            w.WriteNumber("sample_rate", SampleRate);
            if (_parameters?["text_type"] is null)
            {
                w.WriteString("text_type", "PlainText");
            }

            if (_parameters?["voice"] is null)
            {
                w.WriteString("voice", DefaultVoice);
            }

            DashScopeConnection.WriteMembers(w, _parameters, "format", "sample_rate");
            w.WriteEndObject();
            w.WriteStartObject("input");
            w.WriteEndObject();
        }
    }
}
