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

namespace Parley.Providers.Azure;

/// <summary>
/// An Azure Speech to Text stream: one WebSocket per stream (opened at stream open, <c>speech.config</c> once), one
/// turn per utterance (a new <c>X-RequestId</c>: <c>speech.context</c> with the phrase list, a RIFF/WAV header audio
/// message, PCM16 audio messages, an empty audio message at the end of the utterance). Partials are the utterance's
/// recognised phrases plus the latest <c>speech.hypothesis</c>; the final is the phrases (<c>speech.phrase</c>
/// Success, DisplayText or the best NBest) when <c>turn.end</c> arrives, after which telemetry acknowledges the turn.
/// A connection too old or idle too long is replaced before a turn; a failure ends the results with a
/// <see cref="SpeechVendorException"/>.
/// </summary>
internal sealed partial class AzureRecognitionStream : RecognitionStreamBase
{
    public const string Vendor = AzureSpeechRecognizerProvider.VendorName;
    private const int InputCapacity = 2048;
    private const int ChunkBytes = 3200; // 100 ms of audio per message (Azure's limit is 8192 bytes)

    private readonly AzureSpeechRecognizerProvider _provider;
    private readonly AzureSpeechRequest _request;
    private readonly ILogger _logger;
    private long _lastUsed;

    internal AzureRecognitionStream(AzureSpeechRecognizerProvider provider, AzureSpeechRequest request, ILogger logger)
        : base(Vendor, InputCapacity)
    {
        _provider = provider;
        _request = request;
        _logger = logger;
        Start();
    }

    private AzureSpeechOptions Options => _provider.Options;

    private TimeProvider Time => _provider.Time;

    protected override void OnFailed(Exception exception) => LogFailed(_logger, exception.Message);

    protected override async Task RunAsync(ChannelReader<AudioPiece> input, ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken)
    {
        var connection = OpenAsync(cancellationToken);
        Turn? turn = null;
        var message = ArrayPool<byte>.Shared.Rent(ChunkBytes + AzureSpeechFraming.AudioHeaderRoom);
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
                        if (turn is not null)
                        {
                            var current = turn;
                            turn = null;
                            if (filled > 0)
                            {
                                await current.SendAudioAsync(message, chunk.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
                                filled = 0;
                            }

                            text = await current.FinishAsync(message, cancellationToken).ConfigureAwait(false);
                            _lastUsed = Time.GetTimestamp();
                        }

                        await results.WriteAsync(new SpeechRecognitionResult(text, IsFinal: true), cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    try
                    {
                        if (turn is null)
                        {
                            var socket = await connection.ConfigureAwait(false);
                            if (!socket.IsOpen || Time.GetElapsedTime(socket.OpenedAt) > Options.ConnectionLifetime
                                || (_lastUsed != 0 && Time.GetElapsedTime(_lastUsed) > Options.IdleLifetime))
                            {
                                socket.Dispose();
                                connection = OpenAsync(cancellationToken);
                                socket = await connection.ConfigureAwait(false);
                            }

                            turn = await Turn.StartAsync(this, socket, results, message, cancellationToken).ConfigureAwait(false);
                        }

                        var samples = piece.Memory;
                        while (!samples.IsEmpty)
                        {
                            var n = Math.Min(samples.Length, (ChunkBytes - filled) / 2);
                            MemoryMarshal.AsBytes(samples.Span[..n]).CopyTo(chunk.AsSpan(filled)); // PCM16 LE (x64/arm64 are little-endian)
                            filled += n * 2;
                            samples = samples[n..];
                            if (filled >= ChunkBytes)
                            {
                                await turn.SendAudioAsync(message, chunk.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
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
            turn?.Abandon();
            _ = connection.ContinueWith(static t => { if (t.IsCompletedSuccessfully) { t.Result.Dispose(); } else { _ = t.Exception; } },
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            ArrayPool<byte>.Shared.Return(message);
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private async Task<VendorWebSocket> OpenAsync(CancellationToken cancellationToken)
    {
        var socket = await VendorWebSocket.ConnectAsync(Vendor, _request.Endpoint, _provider.Invoker, o =>
        {
            if (_request.Token is not null)
            {
                o.SetRequestHeader("Authorization", "Bearer " + _request.Token);
            }
            else
            {
                o.SetRequestHeader("Ocp-Apim-Subscription-Key", _request.Key!);
            }

            o.SetRequestHeader("X-ConnectionId", Guid.NewGuid().ToString("N"));
        }, Options.ConnectTimeout, Options.MaxMessageBytes, Time, cancellationToken).ConfigureAwait(false);
        try
        {
            var config = """{"context":{"system":{"name":"Parley","version":"1.0.0","build":"dotnet","lang":"C#"},"os":{"platform":"Linux","name":"Parley","version":"1.0"},"audio":{"source":{"connectivity":"Unknown","manufacturer":"Parley","model":"room","type":"Stream","samplerate":16000,"bitspersample":16,"channelcount":1}}}}""";
            await socket.SendTextAsync(AzureSpeechFraming.Text("speech.config", null, Time.GetUtcNow(), "application/json; charset=utf-8", config), cancellationToken).ConfigureAwait(false);
            _lastUsed = 0;
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static SpeechVendorException Closed(SpeechVendorException ex, WebSocketCloseStatus? status) => status switch
    {
        WebSocketCloseStatus.InvalidPayloadData or WebSocketCloseStatus.ProtocolError => new SpeechVendorException(Vendor, VendorFailureKind.InvalidRequest, ex.Message["Microsoft: ".Length..] + " The service refused a message.", ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture), ex),
        WebSocketCloseStatus.PolicyViolation => new SpeechVendorException(Vendor, VendorFailureKind.Unauthorized, ex.Message["Microsoft: ".Length..] + " The service refused the request (policy, e.g. quota or credentials).", "1008", ex),
        (WebSocketCloseStatus)4429 => new SpeechVendorException(Vendor, VendorFailureKind.RateLimited, ex.Message["Microsoft: ".Length..] + " Too many requests.", "4429", ex),
        WebSocketCloseStatus.InternalServerError => new SpeechVendorException(Vendor, VendorFailureKind.ServiceError, ex.Message["Microsoft: ".Length..], "1011", ex),
        _ => ex,
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Microsoft recognition failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);

    /// <summary>One turn (X-RequestId): audio out, speech.* in.</summary>
    private sealed class Turn
    {
        private readonly AzureRecognitionStream _owner;
        private readonly VendorWebSocket _socket;
        private readonly string _requestId = Guid.NewGuid().ToString("N");
        private readonly ChannelWriter<SpeechRecognitionResult> _results;
        private readonly CancellationTokenSource _receiving = new();
        private readonly StringBuilder _phrases = new();
        private readonly List<(string Path, string At)> _received = [];
        private Task<string> _receiver = null!;
        private string _lastSent = string.Empty;

        private Turn(AzureRecognitionStream owner, VendorWebSocket socket, ChannelWriter<SpeechRecognitionResult> results)
        {
            _owner = owner;
            _socket = socket;
            _results = results;
        }

        public static async Task<Turn> StartAsync(AzureRecognitionStream owner, VendorWebSocket socket, ChannelWriter<SpeechRecognitionResult> results, byte[] message, CancellationToken cancellationToken)
        {
            var turn = new Turn(owner, socket, results);
            var context = new JsonObject();
            if (owner._request.Phrases.Count > 0)
            {
                // As the Speech SDK sends a phrase list (DynamicGrammarBuilder): dgi.Groups[{Type: Generic, Items: [{Text}]}].
                context["dgi"] = new JsonObject
                {
                    ["Groups"] = new JsonArray(new JsonObject
                    {
                        ["Type"] = "Generic",
                        ["Items"] = new JsonArray([.. owner._request.Phrases.Select(p => (JsonNode)new JsonObject { ["Text"] = p })]),
                    }),
                };
            }

            await turn.SendAsync(AzureSpeechFraming.Text("speech.context", turn._requestId, owner.Time.GetUtcNow(), "application/json", context.ToJsonString()), binary: false, cancellationToken).ConfigureAwait(false);
            turn._receiver = Task.Run(() => turn.ReceiveAsync(turn._receiving.Token));
            var length = AzureSpeechFraming.Audio(message, turn._requestId, owner.Time.GetUtcNow(), AzureSpeechFraming.WavHeader);
            await turn.SendAsync(message.AsMemory(0, length), binary: true, cancellationToken).ConfigureAwait(false);
            return turn;
        }

        public Task SendAudioAsync(byte[] message, ReadOnlyMemory<byte> audio, CancellationToken cancellationToken)
        {
            var length = AzureSpeechFraming.Audio(message, _requestId, _owner.Time.GetUtcNow(), audio.Span);
            return SendAsync(message.AsMemory(0, length), binary: true, cancellationToken);
        }

        /// <summary>Sends the empty audio message, waits for turn.end, acknowledges it with telemetry; returns the text.</summary>
        public async Task<string> FinishAsync(byte[] message, CancellationToken cancellationToken)
        {
            var clean = false;
            try
            {
                if (!_receiver.IsCompleted)
                {
                    var length = AzureSpeechFraming.Audio(message, _requestId, _owner.Time.GetUtcNow(), []);
                    try
                    {
                        await SendAsync(message.AsMemory(0, length), binary: true, cancellationToken).ConfigureAwait(false);
                    }
                    catch (SpeechVendorException) when (_receiver.IsFaulted)
                    {
                    }
                }

                string text;
                try
                {
                    text = await _receiver.WaitAsync(_owner.Options.ResponseTimeout, _owner.Time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw new SpeechVendorException(Vendor, VendorFailureKind.Timeout, $"no turn.end within {_owner.Options.ResponseTimeout.TotalSeconds:0.#} s of the end of audio.", "Timeout");
                }

                var telemetry = new JsonObject
                {
                    ["ReceivedMessages"] = new JsonArray([.. _received.GroupBy(r => r.Path).Select(g => (JsonNode)new JsonObject { [g.Key] = g.Count() == 1 ? g.First().At : new JsonArray([.. g.Select(r => (JsonNode)r.At)]) })]),
                };
                await _socket.SendTextAsync(AzureSpeechFraming.Text("telemetry", _requestId, _owner.Time.GetUtcNow(), "application/json", telemetry.ToJsonString()), cancellationToken).ConfigureAwait(false);
                clean = true;
                return text;
            }
            finally
            {
                StopReceiving(dropConnection: !clean);
            }
        }

        public void Abandon() => StopReceiving(dropConnection: true);

        private void StopReceiving(bool dropConnection)
        {
            try
            {
                _receiving.Cancel();
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            if (dropConnection)
            {
                _socket.Abort(); // in doubt: the next turn opens a fresh connection
            }

            _ = _receiver?.ContinueWith(t => { _ = t.Exception; _receiving.Dispose(); }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        private async Task SendAsync(ReadOnlyMemory<byte> data, bool binary, CancellationToken cancellationToken)
        {
            try
            {
                await (binary ? _socket.SendBinaryAsync(data, cancellationToken) : _socket.SendTextAsync(data, cancellationToken)).ConfigureAwait(false);
            }
            catch (SpeechVendorException ex)
            {
                var reason = _receiver is null ? ex : await VendorWebSocket.ReasonAsync(_receiver, ex, _owner.Time).ConfigureAwait(false);
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(reason == ex ? Closed(ex, _socket.CloseStatus) : reason);
            }
        }

        private async Task<string> ReceiveAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                (WebSocketMessageType Type, ReadOnlyMemory<byte> Data) message;
                try
                {
                    message = await _socket.ReceiveAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (SpeechVendorException ex)
                {
                    throw Closed(ex, _socket.CloseStatus);
                }

                if (message.Type != WebSocketMessageType.Text)
                {
                    continue;
                }

                var (path, requestId, body) = AzureSpeechFraming.ParseText(message.Data);
                if (requestId is not null && !string.Equals(requestId, _requestId, StringComparison.OrdinalIgnoreCase))
                {
                    continue; // an earlier turn's
                }

                _received.Add((path, AzureSpeechFraming.Timestamp(_owner.Time.GetUtcNow())));
                switch (path.ToLowerInvariant())
                {
                    case "speech.hypothesis":
                    case "speech.fragment":
                        Publish(TranscriptText.With(_phrases, Read(body.Span, "Text")));
                        break;
                    case "speech.phrase":
                        Phrase(body.Span);
                        Publish(_phrases.ToString());
                        break;
                    case "turn.end":
                        return _phrases.ToString();
                }
            }
        }

        private void Phrase(ReadOnlySpan<byte> body)
        {
            using var doc = ParseBody(body);
            var root = doc.RootElement;
            var status = root.TryGetProperty("RecognitionStatus", out var s) ? s.GetString() : null;
            switch (status)
            {
                case "Success":
                    var text = root.TryGetProperty("DisplayText", out var d) ? d.GetString() : null;
                    if (text is null && root.TryGetProperty("NBest", out var nbest) && nbest.ValueKind == JsonValueKind.Array && nbest.GetArrayLength() > 0
                        && nbest[0].TryGetProperty("Display", out var display))
                    {
                        text = display.GetString();
                    }

                    TranscriptText.Join(_phrases, text);
                    break;
                case "Error":
                case "BadRequest":
                    throw new SpeechVendorException(Vendor, status == "Error" ? VendorFailureKind.ServiceError : VendorFailureKind.InvalidRequest, $"the service reported RecognitionStatus {status}.", status);
                case "TooManyRequests":
                    throw new SpeechVendorException(Vendor, VendorFailureKind.RateLimited, "the service reported TooManyRequests.", status);
                case "Forbidden":
                case "Unauthorized":
                    throw new SpeechVendorException(Vendor, VendorFailureKind.Unauthorized, $"the service reported {status}.", status);
                default:
                    break; // NoMatch, InitialSilenceTimeout, BabbleTimeout, EndOfDictation: no text
            }
        }

        private void Publish(string text)
        {
            if (text.Length > 0 && text != _lastSent)
            {
                _lastSent = text;
                _results.TryWrite(new SpeechRecognitionResult(text, IsFinal: false));
            }
        }

        private static string? Read(ReadOnlySpan<byte> body, string property)
        {
            using var doc = ParseBody(body);
            return doc.RootElement.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        }

        private static JsonDocument ParseBody(ReadOnlySpan<byte> body)
        {
            try
            {
                return JsonDocument.Parse(body.ToArray());
            }
            catch (JsonException ex)
            {
                throw new SpeechVendorException(Vendor, VendorFailureKind.ServiceError, "the service sent a body that is not JSON.", "BadMessage", ex);
            }
        }
    }
}
