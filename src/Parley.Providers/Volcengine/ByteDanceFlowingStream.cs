using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;

namespace Parley.Providers.Volcengine;

/// <summary>
/// One bidirectional TTS session: StartSession → SessionStarted, a TaskRequest per pushed piece, FinishSession at the
/// flush, then audio until SessionFinished. Sender and receiver run together; a SessionFailed, an error frame or a
/// broken connection ends <see cref="TtsStreamBase.ReadAsync"/> with a <see cref="VolcengineException"/>.
/// </summary>
internal sealed partial class ByteDanceFlowingStream(VolcConnectionPool pool, VolcTtsRequest request, Uri endpoint, bool agent, ILogger logger) : TtsStreamBase
{
    private const string Vendor = ByteDanceFlowingTtsProvider.VendorName;

    private readonly StringBuilder _pushed = new();
    private readonly Lock _textGate = new();
    private readonly string _uid = Guid.NewGuid().ToString("N");
    private int _cursor;
    private volatile bool _finishing;

    protected override async Task RunAsync(ChannelReader<string> text, ChannelWriter<TtsAudio> audio, CancellationToken cancellationToken)
    {
        var sessionId = Guid.NewGuid().ToString();
        var payload = new ArrayBufferWriter<byte>(512);
        var socket = await StartSessionAsync(sessionId, payload, cancellationToken).ConfigureAwait(false);
        var clean = false;
        using var receiving = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var receiver = Task.Run(() => ReceiveAsync(socket, sessionId, audio, receiving.Token), CancellationToken.None);
        try
        {
            try
            {
                await foreach (var piece in text.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (piece.Length == 0)
                    {
                        continue;
                    }

                    lock (_textGate)
                    {
                        _pushed.Append(piece);
                    }

                    request.Write(payload, VolcEvent.TaskRequest, piece, _uid);
                    await socket.SendEventAsync(VolcEvent.TaskRequest, sessionId, payload.WrittenMemory, cancellationToken).ConfigureAwait(false);
                }

                _finishing = true;
                await socket.SendEventAsync(VolcEvent.FinishSession, sessionId, "{}"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            }
            catch (VolcengineException) when (receiver.IsFaulted)
            {
                // The server's reason (SessionFailed, an error frame) rather than "the connection broke".
            }

            await receiver.ConfigureAwait(false);
            clean = true;
        }
        finally
        {
            if (!clean)
            {
                await receiving.CancelAsync().ConfigureAwait(false);
                await receiver.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            pool.Return(socket, clean);
        }
    }

    private async Task<VolcSocket> StartSessionAsync(string sessionId, ArrayBufferWriter<byte> payload, CancellationToken cancellationToken)
    {
        request.Write(payload, VolcEvent.StartSession, null, _uid);
        try
        {
            return await pool.StartAsync(
                Vendor, endpoint, agent, request.Credentials, bidirectional: true,
                async (socket, ct) =>
                {
                    await socket.SendEventAsync(VolcEvent.StartSession, sessionId, payload.WrittenMemory, ct).ConfigureAwait(false);
                    while (true)
                    {
                        var frame = await pool.ReceiveWithinAsync(socket, "SessionStarted", ct).ConfigureAwait(false);
                        if (frame.Type == VolcMessageType.Error || frame.Event is VolcEvent.SessionFailed or VolcEvent.ConnectionFailed)
                        {
                            throw socket.Failure(frame);
                        }

                        if (frame.Event == VolcEvent.SessionStarted && frame.SessionId == sessionId)
                        {
                            return socket;
                        }
                    }
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (VolcengineException v)
        {
            LogFailed(logger, v.Code ?? 0, v.Kind);
            throw;
        }
    }

    private async Task ReceiveAsync(VolcSocket socket, string sessionId, ChannelWriter<TtsAudio> audio, CancellationToken cancellationToken)
    {
        var carry = -1;
        while (true)
        {
            var frame = _finishing
                ? await pool.ReceiveWithinAsync(socket, "audio", cancellationToken).ConfigureAwait(false)
                : await socket.ReceiveAsync(cancellationToken).ConfigureAwait(false);
            if (frame.Type == VolcMessageType.Error || frame.Event == VolcEvent.SessionFailed)
            {
                var failure = socket.Failure(frame);
                LogFailed(logger, failure.Code ?? 0, failure.Kind);
                throw failure;
            }

            if (frame.SessionId is { } id && id.Length > 0 && id != sessionId)
            {
                continue; // an earlier session's leftovers
            }

            switch (frame.Event)
            {
                case VolcEvent.TtsResponse:
                    var chunk = VolcPcm.ToChunk(frame.Payload.Span, ref carry, request.SampleRate);
                    if (!chunk.IsEmpty)
                    {
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

                    break;
                case VolcEvent.TtsSentenceEnd:
                    foreach (var word in Words(frame.Payload))
                    {
                        await audio.WriteAsync(new TtsAudio(default, word), cancellationToken).ConfigureAwait(false);
                    }

                    break;
                case VolcEvent.SessionFinished:
                    if (ByteDanceV3TtsProvider.StatusError(socket, frame) is { } error)
                    {
                        throw error;
                    }

                    return;
            }
        }
    }

    /// <summary>
    /// The words of a TTSSentenceEnd (<c>{"words":[{"word","startTime","endTime"}…]}</c>, seconds from the session's
    /// start) located in the pushed text: each word is searched from the end of the previous one (punctuation trimmed,
    /// case-insensitive); a word the text does not contain (normalised numbers, "二" for "2") is left out.
    /// </summary>
    internal List<WordTiming> Words(ReadOnlyMemory<byte> payload)
    {
        var words = new List<WordTiming>();
        if (payload.IsEmpty)
        {
            return words;
        }

        try
        {
            using var doc = JsonDocument.Parse(payload);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("words", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                return words;
            }

            lock (_textGate)
            {
                var pushed = _pushed.ToString();
                foreach (var item in list.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("word", out var w) || w.ValueKind != JsonValueKind.String)
                    {
                        continue;
                    }

                    var word = w.GetString()!.Trim().Trim(Punctuation);
                    if (word.Length == 0)
                    {
                        continue;
                    }

                    var at = pushed.IndexOf(word, _cursor, StringComparison.OrdinalIgnoreCase);
                    if (at < 0)
                    {
                        continue;
                    }

                    _cursor = at + word.Length;
                    var start = Seconds(item, "startTime");
                    var end = Seconds(item, "endTime");
                    words.Add(new WordTiming(pushed.Substring(at, word.Length), at, word.Length, start, end < start ? start : end));
                }
            }
        }
        catch (JsonException)
        {
            // A sentence end without readable words: the audio still plays.
        }

        return words;
    }

    private static readonly char[] Punctuation = [',', '.', '!', '?', ';', ':', '，', '。', '！', '？', '；', '：', '、', '"', '\'', '“', '”', '(', ')', '（', '）'];

    private static TimeSpan Seconds(JsonElement item, string name) =>
        item.TryGetProperty(name, out var v) && v.TryGetDouble(out var s) && s >= 0 ? TimeSpan.FromSeconds(s) : TimeSpan.Zero;

    [LoggerMessage(Level = LogLevel.Warning, Message = "ByteDanceFlowing session failed with code {Code} ({Kind})")]
    private static partial void LogFailed(ILogger logger, long code, VolcengineErrorKind kind);
}
