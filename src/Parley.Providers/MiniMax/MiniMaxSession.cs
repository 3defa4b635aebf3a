using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Channels;
using Parley.Abstractions.Audio;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;

namespace Parley.Providers.MiniMax;

/// <summary>
/// One MiniMax T2A v2 WebSocket with a started task (connected_success, task_start → task_started): each text is
/// one <c>task_continue</c>, answered by audio messages (hex PCM in <c>data.audio</c>) up to the one with
/// <c>is_final</c>. The task stays open between texts (MiniMax allows several task_continue per task and closes the
/// connection on task_finish), so the session is pooled for the next sentence with the same settings.
/// </summary>
internal sealed class MiniMaxSession : IVendorConnection
{
    private readonly TtsVendorSocket _socket;
    private readonly MiniMaxOptions _options;
    private readonly TimeProvider _time;
    private readonly System.Buffers.ArrayBufferWriter<byte> _json = new(1024);

    private MiniMaxSession(TtsVendorSocket socket, string key, int sampleRate, MiniMaxOptions options, TimeProvider time)
    {
        _socket = socket;
        Key = key;
        SampleRate = sampleRate;
        _options = options;
        _time = time;
    }

    public string Key { get; }

    public int SampleRate { get; }

    public string Endpoint => _socket.Endpoint;

    public bool IsOpen => _socket.IsOpen;

    /// <summary>Connects, waits for connected_success, sends task_start and waits for task_started.</summary>
    public static async Task<MiniMaxSession> StartAsync(
        Uri uri, HttpMessageInvoker invoker, string apiKey, string key, byte[] taskStart, int sampleRate, MiniMaxOptions options, TimeProvider time, CancellationToken cancellationToken)
    {
        var socket = await TtsVendorSocket.ConnectAsync(
            MiniMaxTtsProvider.VendorName, uri, invoker, [new("Authorization", "Bearer " + apiKey)], "TTS.Params.app.api_key",
            options.ConnectTimeout, options.MaxMessageBytes, time, Fail, cancellationToken).ConfigureAwait(false);
        var session = new MiniMaxSession(socket, key, sampleRate, options, time);
        try
        {
            await session.ExpectAsync("connected_success", cancellationToken).ConfigureAwait(false);
            await socket.SendTextAsync(taskStart, cancellationToken).ConfigureAwait(false);
            await session.ExpectAsync("task_started", cancellationToken).ConfigureAwait(false);
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Speaks <paramref name="text"/>: one task_continue, then audio until is_final. Returns the samples written.
    /// <paramref name="firstAudio"/> is set once audio of this text was handed on (a failure after it must not be retried).
    /// </summary>
    public async Task<long> SpeakAsync(string text, ChannelWriter<TtsAudio> audio, StrongBox<bool> firstAudio, CancellationToken cancellationToken)
    {
        _json.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_json))
        {
            w.WriteStartObject();
            w.WriteString("event", "task_continue");
            w.WriteString("text", text);
            w.WriteEndObject();
        }

        await _socket.SendTextAsync(_json.WrittenMemory, cancellationToken).ConfigureAwait(false);
        var pcm = new PcmBytes();
        long samples = 0;
        while (true)
        {
            using var document = await ReceiveEventAsync(cancellationToken).ConfigureAwait(false);
            var root = document.RootElement;
            ThrowIfFailed(root);
            if (root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
                && data.TryGetProperty("audio", out var hex) && hex.ValueKind == JsonValueKind.String)
            {
                var rate = SampleRate;
                if (root.TryGetProperty("extra_info", out var extra) && extra.ValueKind == JsonValueKind.Object
                    && extra.TryGetProperty("audio_sample_rate", out var r) && r.TryGetInt32(out var reported) && reported > 0)
                {
                    rate = reported;
                }

                AudioChunk chunk;
                try
                {
                    var raw = JsonMarshal.GetRawUtf8Value(hex);
                    chunk = pcm.FromHex(raw[1..^1], rate); // the raw value is quoted; hex needs no escapes
                }
                catch (FormatException ex)
                {
                    throw new MiniMaxException($"MiniMax at {Endpoint} sent audio that is not hex PCM: {ex.Message}.", "BadEvent", null, ex);
                }

                if (!chunk.IsEmpty)
                {
                    samples += chunk.Length;
                    firstAudio.Value = true;
                    try
                    {
                        await audio.WriteAsync(new TtsAudio(chunk, null), cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        chunk.Dispose();
                        throw;
                    }
                }
            }

            if (root.TryGetProperty("is_final", out var final) && final.ValueKind == JsonValueKind.True)
            {
                return samples;
            }
        }
    }

    public void Dispose() => _socket.Dispose();

    internal static Exception Fail(string message, string code, Exception? inner) => new MiniMaxException(message, code, null, inner);

    private async Task ExpectAsync(string name, CancellationToken cancellationToken)
    {
        using var document = await ReceiveEventAsync(cancellationToken).ConfigureAwait(false);
        var root = document.RootElement;
        ThrowIfFailed(root);
        var got = root.TryGetProperty("event", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
        if (got != name)
        {
            throw new MiniMaxException($"MiniMax at {Endpoint} answered with '{got ?? "no event"}' where '{name}' was due.", "BadEvent");
        }
    }

    /// <summary>The next JSON message, within the response timeout (binary messages are not part of this protocol and are skipped).</summary>
    private async Task<JsonDocument> ReceiveEventAsync(CancellationToken cancellationToken)
    {
        using var limit = new CancellationTokenSource(_options.ResponseTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        while (true)
        {
            VendorMessageKind kind;
            try
            {
                kind = await _socket.ReceiveAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new MiniMaxException($"MiniMax at {Endpoint} did not answer within {_options.ResponseTimeout.TotalSeconds:0.#} s.", "Timeout");
            }

            if (kind != VendorMessageKind.Text)
            {
                continue;
            }

            try
            {
                return JsonDocument.Parse(_socket.Message);
            }
            catch (JsonException ex)
            {
                throw new MiniMaxException($"MiniMax at {Endpoint} sent a message that is not JSON.", "BadEvent", null, ex);
            }
        }
    }

    private void ThrowIfFailed(JsonElement root)
    {
        var name = root.TryGetProperty("event", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
        int? status = null;
        string? message = null;
        if (root.TryGetProperty("base_resp", out var resp) && resp.ValueKind == JsonValueKind.Object)
        {
            if (resp.TryGetProperty("status_code", out var code) && code.TryGetInt32(out var c))
            {
                status = c;
            }

            if (resp.TryGetProperty("status_msg", out var msg) && msg.ValueKind == JsonValueKind.String)
            {
                message = msg.GetString();
            }
        }

        if (name != "task_failed" && status is null or 0)
        {
            return;
        }

        var errorCode = status is { } s and not 0 ? MiniMaxException.Classify(s) : "TaskFailed";
        var what = errorCode switch
        {
            "RateLimited" => "rate or concurrency limit reached",
            "Unauthorized" => "the API key was refused; check TTS.Params.app.api_key",
            _ => "task failed",
        };
        throw new MiniMaxException(
            $"MiniMax at {Endpoint}: {what} (status_code {status?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}: {Truncate(message)}).", errorCode, status);
    }

    private static string Truncate(string? text) =>
        string.IsNullOrEmpty(text) ? "no message" : text.Length <= 200 ? text : text[..200] + "…";
}
