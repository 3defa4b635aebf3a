using System.Text.Json;
using System.Threading.Channels;
using Parley.Abstractions.Speech;
using Parley.Providers.Net;

namespace Parley.Providers.AliyunNls;

/// <summary>
/// One NLS SpeechSynthesizer task on its own gateway connection (the token in the URL's <c>token</c> query, as the
/// NLS WebSocket docs prescribe): StartSynthesis with the text, then binary PCM frames, <c>MetaInfo</c> events with
/// subtitles (per character/word <c>begin_time</c>/<c>end_time</c> in ms, <c>begin_index</c>/<c>end_index</c> in the
/// text), and <c>SynthesisCompleted</c>; <c>TaskFailed</c> carries <c>header.status</c> and <c>status_text</c>.
/// </summary>
internal static class AliyunNlsSynthesis
{
    /// <summary>Position of this text in the stream: characters pushed before it and samples played before it.</summary>
    public readonly record struct Offsets(int Text, long Samples);

    public sealed class Progress
    {
        public bool Audio { get; set; }

        public long Samples { get; set; }
    }

    public static async Task RunAsync(
        VendorWebSocket socket, byte[] start, string token, int sampleRate, Offsets offsets, int textLength,
        ChannelWriter<TtsAudio> audio, Progress progress, TimeSpan responseTimeout, TimeProvider time, CancellationToken cancellationToken)
    {
        await socket.SendTextAsync(start, cancellationToken).ConfigureAwait(false);
        var pcm = new PcmBytes();
        var nextIndex = 0;
        while (true)
        {
            VendorMessageKind kind;
            using (var limit = new CancellationTokenSource(responseTimeout, time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token))
            {
                try
                {
                    kind = await socket.ReceiveAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw new AliyunNlsException($"Aliyun NLS at {socket.Endpoint} did not answer within {responseTimeout.TotalSeconds:0.#} s.", "Timeout");
                }
            }

            if (kind == VendorMessageKind.Binary)
            {
                var chunk = pcm.FromBytes(socket.Message.Span, sampleRate);
                if (!chunk.IsEmpty)
                {
                    progress.Audio = true;
                    progress.Samples += chunk.Length;
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

                continue;
            }

            using var document = Parse(socket);
            var root = document.RootElement;
            if (!root.TryGetProperty("header", out var header) || header.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            var name = header.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            switch (name)
            {
                case "SynthesisCompleted":
                    return;
                case "TaskFailed":
                    var status = header.TryGetProperty("status", out var s) && s.TryGetInt32(out var code) ? code : 0;
                    var text = header.TryGetProperty("status_text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                    var errorCode = AliyunNlsException.Classify(status);
                    var what = errorCode switch
                    {
                        "RateLimited" => "concurrency or QPS limit reached",
                        "Unauthorized" => "the token or appkey was refused; check TTS.Params.app",
                        _ => "synthesis failed",
                    };
                    throw new AliyunNlsException($"Aliyun NLS at {socket.Endpoint}: {what} (status {status}: {Redact(text, token)}).", errorCode, status);
                case "MetaInfo":
                    if (root.TryGetProperty("payload", out var payload) && payload.ValueKind == JsonValueKind.Object
                        && payload.TryGetProperty("subtitles", out var subtitles) && subtitles.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var subtitle in subtitles.EnumerateArray())
                        {
                            if (Word(subtitle, sampleRate, offsets, textLength, ref nextIndex) is { } word)
                            {
                                await audio.WriteAsync(new TtsAudio(default, word), cancellationToken).ConfigureAwait(false);
                            }
                        }
                    }

                    break;
            }
        }
    }

    /// <summary>A subtitle entry as a word timing in stream positions; sentence marks and entries already reported are skipped.</summary>
    private static WordTiming? Word(JsonElement subtitle, int sampleRate, Offsets offsets, int textLength, ref int nextIndex)
    {
        if (subtitle.ValueKind != JsonValueKind.Object
            || (subtitle.TryGetProperty("sentence", out var sentence) && sentence.ValueKind == JsonValueKind.True)
            || !subtitle.TryGetProperty("begin_index", out var b) || !b.TryGetInt32(out var begin)
            || !subtitle.TryGetProperty("end_index", out var e) || !e.TryGetInt32(out var end)
            || !subtitle.TryGetProperty("begin_time", out var bt) || !bt.TryGetInt64(out var beginMs)
            || !subtitle.TryGetProperty("end_time", out var et) || !et.TryGetInt64(out var endMs)
            || begin < nextIndex || end <= begin)
        {
            return null;
        }

        nextIndex = end;
        begin = Math.Clamp(begin, 0, textLength);
        end = Math.Clamp(end, begin, textLength);
        var baseTime = TimeSpan.FromSeconds((double)offsets.Samples / sampleRate);
        var text = subtitle.TryGetProperty("text", out var w) && w.ValueKind == JsonValueKind.String ? w.GetString() ?? "" : "";
        return new WordTiming(text, offsets.Text + begin, end - begin, baseTime + TimeSpan.FromMilliseconds(beginMs), baseTime + TimeSpan.FromMilliseconds(Math.Max(endMs, beginMs)));
    }

    private static JsonDocument Parse(VendorWebSocket socket)
    {
        try
        {
            return JsonDocument.Parse(socket.Message);
        }
        catch (JsonException ex)
        {
            throw new AliyunNlsException($"Aliyun NLS at {socket.Endpoint} sent an event that is not JSON.", "BadEvent", null, ex);
        }
    }

    /// <summary>The gateway's status text without the token (it quotes a refused token) and clipped.</summary>
    private static string Redact(string? text, string token)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "no message";
        }

        text = text.Replace(token, "***", StringComparison.Ordinal);
        return text.Length <= 200 ? text : text[..200] + "…";
    }
}
