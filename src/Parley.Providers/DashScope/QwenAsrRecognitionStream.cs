using System.Buffers;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;
using Parley.Providers.Net;

namespace Parley.Providers.DashScope;

/// <summary>
/// A Qwen real-time recognition stream: one realtime session (WebSocket) per stream, opened at stream open
/// (session.created, then session.update in manual mode, confirmed by session.updated). Each utterance's audio goes out
/// as <c>input_audio_buffer.append</c> (base64 PCM16, 100 ms per event); its end sends <c>input_audio_buffer.commit</c>
/// and the final is the <c>conversation.item.input_audio_transcription.completed</c> transcript. Partials:
/// <c>….text</c> events' <c>text</c> + <c>stash</c>. An <c>error</c> event or a broken session ends the results with a
/// <see cref="SpeechVendorException"/>; a session closed between utterances is reopened.
/// </summary>
internal sealed partial class QwenAsrRecognitionStream : RecognitionStreamBase
{
    public const string Vendor = QwenAsrRecognizerProvider.VendorName;
    private const int InputCapacity = 2048;
    private const int ChunkBytes = 3200;

    private readonly QwenAsrRecognizerProvider _provider;
    private readonly Uri _endpoint;
    private readonly string _apiKey;
    private readonly JsonObject _session;
    private readonly ILogger _logger;

    internal QwenAsrRecognitionStream(QwenAsrRecognizerProvider provider, Uri endpoint, string apiKey, JsonObject session, ILogger logger)
        : base(Vendor, InputCapacity)
    {
        _provider = provider;
        _endpoint = endpoint;
        _apiKey = apiKey;
        _session = session;
        _logger = logger;
        Start();
    }

    private QwenAsrOptions Options => _provider.Options;

    protected override void OnFailed(Exception exception) => LogFailed(_logger, exception.Message);

    protected override async Task RunAsync(ChannelReader<AudioPiece> input, ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken)
    {
        var opening = Session.OpenAsync(this, results, cancellationToken);
        Session? session = null;
        var inUtterance = false;
        var chunk = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        var filled = 0;
        try
        {
            while (await input.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (input.TryRead(out var piece))
                {
                    if (piece.IsEndOfUtterance)
                    {
                        var text = string.Empty;
                        if (inUtterance)
                        {
                            inUtterance = false;
                            if (filled > 0)
                            {
                                await session!.AppendAsync(chunk.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
                                filled = 0;
                            }

                            text = await session!.CommitAsync(cancellationToken).ConfigureAwait(false);
                        }

                        await results.WriteAsync(new SpeechRecognitionResult(text, IsFinal: true), cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    try
                    {
                        if (!inUtterance)
                        {
                            session ??= await opening.ConfigureAwait(false);
                            if (!session.IsUsable)
                            {
                                session.Dispose();
                                session = await Session.OpenAsync(this, results, cancellationToken).ConfigureAwait(false);
                            }

                            inUtterance = true;
                        }

                        var samples = piece.Memory;
                        while (!samples.IsEmpty)
                        {
                            var n = Math.Min(samples.Length, (ChunkBytes - filled) / 2);
                            MemoryMarshal.AsBytes(samples.Span[..n]).CopyTo(chunk.AsSpan(filled));
                            filled += n * 2;
                            samples = samples[n..];
                            if (filled >= ChunkBytes)
                            {
                                await session!.AppendAsync(chunk.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
                                filled = 0;
                            }
                        }
                    }
                    finally
                    {
                        piece.Return();
                    }
                }
            }
        }
        finally
        {
            if (session is not null)
            {
                session.Dispose();
            }
            else
            {
                _ = opening.ContinueWith(static t => { if (t.IsCompletedSuccessfully) { t.Result.Dispose(); } else { _ = t.Exception; } },
                    CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "AliyunQwenASR recognition failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);

    /// <summary>One realtime session: a reader routing server events, and the commands.</summary>
    private sealed class Session : IDisposable
    {
        private readonly QwenAsrRecognitionStream _owner;
        private readonly VendorWebSocket _socket;
        private readonly ChannelWriter<SpeechRecognitionResult> _results;
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource _updated = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ArrayBufferWriter<byte> _json = new(8192);
        private TaskCompletionSource<string>? _final;
        private Task _reader = Task.CompletedTask;
        private string _lastSent = string.Empty;
        private int _events;

        private Session(QwenAsrRecognitionStream owner, VendorWebSocket socket, ChannelWriter<SpeechRecognitionResult> results)
        {
            _owner = owner;
            _socket = socket;
            _results = results;
        }

        public bool IsUsable => _socket.IsOpen && !_reader.IsCompleted;

        public static async Task<Session> OpenAsync(QwenAsrRecognitionStream owner, ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken)
        {
            var options = owner.Options;
            var socket = await VendorWebSocket.ConnectAsync(Vendor, owner._endpoint, owner._provider.Invoker, o => o.SetRequestHeader("Authorization", "Bearer " + owner._apiKey),
                options.ConnectTimeout, options.MaxMessageBytes, owner._provider.Time, cancellationToken).ConfigureAwait(false);
            var session = new Session(owner, socket, results);
            try
            {
                session._reader = Task.Run(() => session.ReadAsync(session._stop.Token));
                await session.SendAsync("session.update", w =>
                {
                    w.WritePropertyName("session");
                    owner._session.WriteTo(w);
                }, cancellationToken).ConfigureAwait(false);
                try
                {
                    await session._updated.Task.WaitAsync(options.ResponseTimeout, owner._provider.Time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw new SpeechVendorException(Vendor, VendorFailureKind.Timeout, $"no session.updated within {options.ResponseTimeout.TotalSeconds:0.#} s.", "Timeout");
                }

                return session;
            }
            catch
            {
                session.Dispose();
                throw;
            }
        }

        public Task AppendAsync(ReadOnlyMemory<byte> pcm, CancellationToken cancellationToken) =>
            SendAsync("input_audio_buffer.append", w => w.WriteBase64String("audio", pcm.Span), cancellationToken);

        public async Task<string> CommitAsync(CancellationToken cancellationToken)
        {
            var final = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _final, final);
            await SendAsync("input_audio_buffer.commit", null, cancellationToken).ConfigureAwait(false);
            try
            {
                return await final.Task.WaitAsync(_owner.Options.ResponseTimeout, _owner._provider.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new SpeechVendorException(Vendor, VendorFailureKind.Timeout, $"no transcript within {_owner.Options.ResponseTimeout.TotalSeconds:0.#} s of the commit.", "Timeout");
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _socket.Dispose();
            _ = _reader.ContinueWith(t => { _ = t.Exception; _stop.Dispose(); }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        private async Task SendAsync(string type, Action<Utf8JsonWriter>? write, CancellationToken cancellationToken)
        {
            if (_reader.IsFaulted)
            {
                await _reader.ConfigureAwait(false); // the session's reason
            }

            _json.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(_json))
            {
                w.WriteStartObject();
                w.WriteString("event_id", "event_" + Interlocked.Increment(ref _events).ToString(System.Globalization.CultureInfo.InvariantCulture));
                w.WriteString("type", type);
                write?.Invoke(w);
                w.WriteEndObject();
            }

            try
            {
                await _socket.SendTextAsync(_json.WrittenMemory, cancellationToken).ConfigureAwait(false);
            }
            catch (SpeechVendorException ex)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(await VendorWebSocket.ReasonAsync(_reader, ex, _owner._provider.Time).ConfigureAwait(false));
            }
        }

        private async Task ReadAsync(CancellationToken cancellationToken)
        {
            try
            {
                while (true)
                {
                    var (kind, data) = await _socket.ReceiveAsync(cancellationToken).ConfigureAwait(false);
                    if (kind != WebSocketMessageType.Text)
                    {
                        continue;
                    }

                    Handle(data.Span);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _updated.TrySetException(ex);
                Volatile.Read(ref _final)?.TrySetException(ex);
                throw;
            }
        }

        private void Handle(ReadOnlySpan<byte> json)
        {
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(json.ToArray());
            }
            catch (JsonException ex)
            {
                throw new SpeechVendorException(Vendor, VendorFailureKind.ServiceError, "the server sent an event that is not JSON.", "BadEvent", ex);
            }

            using (doc)
            {
                var root = doc.RootElement;
                var type = root.TryGetProperty("type", out var t) ? t.GetString() : null;
                switch (type)
                {
                    case "session.updated":
                        _updated.TrySetResult();
                        break;
                    case "conversation.item.input_audio_transcription.text":
                        var text = (Str(root, "text") + Str(root, "stash")).Trim();
                        if (text.Length > 0 && text != _lastSent)
                        {
                            _lastSent = text;
                            _results.TryWrite(new SpeechRecognitionResult(text, IsFinal: false));
                        }

                        break;
                    case "conversation.item.input_audio_transcription.completed":
                        _lastSent = string.Empty;
                        Volatile.Read(ref _final)?.TrySetResult(Str(root, "transcript").Trim());
                        break;
                    case "conversation.item.input_audio_transcription.failed":
                    case "error":
                        throw Error(root);
                }
            }
        }

        private static string Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : "";

        private static SpeechVendorException Error(JsonElement root)
        {
            var error = root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? e : default;
            var code = error.ValueKind == JsonValueKind.Object ? Str(error, "code") : "";
            var type = error.ValueKind == JsonValueKind.Object ? Str(error, "type") : "";
            var message = error.ValueKind == JsonValueKind.Object ? Str(error, "message") : "";
            var lower = (code + " " + type).ToLowerInvariant();
            var kind = lower.Contains("auth", StringComparison.Ordinal) || lower.Contains("api_key", StringComparison.Ordinal) || lower.Contains("apikey", StringComparison.Ordinal) || lower.Contains("access", StringComparison.Ordinal)
                ? VendorFailureKind.Unauthorized
                : lower.Contains("rate", StringComparison.Ordinal) || lower.Contains("throttl", StringComparison.Ordinal) || lower.Contains("limit", StringComparison.Ordinal)
                    ? VendorFailureKind.RateLimited
                    : lower.Contains("invalid", StringComparison.Ordinal) ? VendorFailureKind.InvalidRequest : VendorFailureKind.ServiceError;
            var detail = message.Length > 200 ? message[..200] : message;
            return new SpeechVendorException(Vendor, kind, $"the server reported {(code.Length > 0 ? code : "an error")}{(detail.Length > 0 ? ": " + detail : "")}.", code.Length > 0 ? code : null);
        }
    }
}
