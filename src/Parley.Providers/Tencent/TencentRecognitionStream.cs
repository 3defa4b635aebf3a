using System.Buffers;
using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;
using Parley.Providers.Net;

namespace Parley.Providers.Tencent;

/// <summary>
/// A Tencent real-time recognition stream: one Tencent audio stream (one signed connection, one <c>voice_id</c>) per
/// utterance. A connection is opened ahead of each utterance (at stream open, and again after each final), kept at
/// most <see cref="TencentAsrOptions.WarmConnectionLifetime"/> unused, so the first audio goes out without a
/// handshake. Tencent ends a connection that gets no audio for 15 s, so a warm connection is replaced while the
/// stream is idle, but only within <see cref="TencentAsrOptions.WarmWindow"/> of the stream's opening or the last
/// final: past it an idle session holds nothing and the next utterance connects at its first audio. Audio is sent as binary PCM16 LE frames of 40 ms (Tencent's recommended packet); the end of an
/// utterance sends <c>{"type":"end"}</c> and the final result is the utterance's stable sentences (slice_type 2,
/// by index) plus any unstable rest, once Tencent answers <c>final: 1</c>. Partials: the stable sentences plus the
/// current unstable one. A non-zero <c>code</c> ends the results with a <see cref="SpeechVendorException"/>.
/// </summary>
internal sealed partial class TencentRecognitionStream : RecognitionStreamBase
{
    public const string Vendor = TencentRecognizerProvider.VendorName;
    private const int InputCapacity = 2048;
    private const int PacketBytes = 1280; // 40 ms of 16 kHz PCM16
    private static readonly byte[] EndMessage = """{"type":"end"}"""u8.ToArray();

    private readonly TencentRecognizerProvider _provider;
    private readonly TencentAsrRequest _request;
    private readonly ILogger _logger;

    internal TencentRecognitionStream(TencentRecognizerProvider provider, TencentAsrRequest request, ILogger logger)
        : base(Vendor, InputCapacity)
    {
        _provider = provider;
        _request = request;
        _logger = logger;
        Start();
    }

    private TencentAsrOptions Options => _provider.Options;

    private TimeProvider Time => _provider.Time;

    protected override void OnFailed(Exception exception) => LogFailed(_logger, exception.Message);

    protected override async Task RunAsync(ChannelReader<AudioPiece> input, ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken)
    {
        Task<VendorWebSocket>? warm = Options.WarmWindow > TimeSpan.Zero ? OpenAsync(cancellationToken) : null;
        var active = Time.GetTimestamp(); // the stream's opening, then the last final: the warm window runs from it
        Utterance? current = null;
        var packet = ArrayPool<byte>.Shared.Rent(PacketBytes * 4);
        var filled = 0;
        try
        {
            while (true)
            {
                if (current is null && !input.TryPeek(out _))
                {
                    // Idle between utterances: keep the warm connection young within the warm window, then let it go.
                    var waited = input.WaitToReadAsync(cancellationToken).AsTask();
                    while (!waited.IsCompleted && warm is not null)
                    {
                        if (!warm.IsCompleted)
                        {
                            // Still connecting (bounded by ConnectTimeout): its age counts from when it opened.
                            await Task.WhenAny(waited, warm).ConfigureAwait(false);
                            continue;
                        }

                        var age = warm.IsCompletedSuccessfully ? Time.GetElapsedTime(warm.Result.OpenedAt) : TimeSpan.Zero;
                        var left = Options.WarmConnectionLifetime - age;
                        if (left <= TimeSpan.Zero)
                        {
                            Discard(warm);
                            warm = null;
                            if (Time.GetElapsedTime(active) >= Options.WarmWindow)
                            {
                                break; // idle past the window: hold nothing until the next utterance's audio
                            }

                            warm = OpenAsync(cancellationToken);
                            left = Options.WarmConnectionLifetime;
                        }

                        try
                        {
                            await waited.WaitAsync(left, Time, cancellationToken).ConfigureAwait(false);
                        }
                        catch (TimeoutException)
                        {
                        }
                    }

                    if (!await waited.ConfigureAwait(false))
                    {
                        return;
                    }
                }
                else if (!await input.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                while (input.TryRead(out var piece))
                {
                    if (piece.IsEndOfUtterance)
                    {
                        var text = string.Empty;
                        if (current is not null)
                        {
                            var utterance = current;
                            current = null;
                            if (filled > 0)
                            {
                                await utterance.SendAsync(packet.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
                                filled = 0;
                            }

                            text = await utterance.FinishAsync(cancellationToken).ConfigureAwait(false);
                            active = Time.GetTimestamp();
                            warm = Options.WarmWindow > TimeSpan.Zero ? OpenAsync(cancellationToken) : null;
                        }

                        await results.WriteAsync(new SpeechRecognitionResult(text, IsFinal: true), cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    try
                    {
                        if (current is null)
                        {
                            var connection = await TakeAsync(warm, cancellationToken).ConfigureAwait(false);
                            current = new Utterance(this, connection, results);
                        }

                        var samples = piece.Memory;
                        while (!samples.IsEmpty)
                        {
                            var n = Math.Min(samples.Length, (PacketBytes - filled) / 2);
                            ToLittleEndian(samples.Span[..n], packet.AsSpan(filled));
                            filled += n * 2;
                            samples = samples[n..];
                            if (filled >= PacketBytes)
                            {
                                await current.SendAsync(packet.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
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
            current?.Abandon();
            Discard(warm);
            ArrayPool<byte>.Shared.Return(packet);
        }
    }

    /// <summary>The warm connection if there is one still young and open, else a fresh one.</summary>
    private async Task<VendorWebSocket> TakeAsync(Task<VendorWebSocket>? warm, CancellationToken cancellationToken)
    {
        if (warm is null)
        {
            return await OpenAsync(cancellationToken).ConfigureAwait(false);
        }

        var connection = await warm.ConfigureAwait(false);
        if (connection.IsOpen && Time.GetElapsedTime(connection.OpenedAt) < Options.WarmConnectionLifetime)
        {
            return connection;
        }

        connection.Dispose();
        return await OpenAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void Discard(Task<VendorWebSocket>? warm)
    {
        _ = warm?.ContinueWith(static t =>
        {
            if (t.IsCompletedSuccessfully)
            {
                t.Result.Dispose();
            }
            else
            {
                _ = t.Exception; // observed: a warm connection nobody used
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Connects with a freshly signed URL and waits for Tencent's handshake answer (code 0).</summary>
    private async Task<VendorWebSocket> OpenAsync(CancellationToken cancellationToken)
    {
        var voiceId = Guid.NewGuid().ToString("N");
        var url = _request.BuildUrl(_provider.Endpoint, voiceId, Time.GetUtcNow(), Options.SignatureLifetime, (uint)Random.Shared.Next(1, int.MaxValue));
        var connection = await VendorWebSocket.ConnectAsync(
            Vendor, url, _provider.Invoker, null, Options.ConnectTimeout, Options.MaxMessageBytes, Time, cancellationToken).ConfigureAwait(false);
        try
        {
            using var limit = new CancellationTokenSource(Options.ConnectTimeout, Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
            while (true)
            {
                (WebSocketMessageType Type, ReadOnlyMemory<byte> Data) message;
                try
                {
                    message = await connection.ReceiveAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw new SpeechVendorException(Vendor, VendorFailureKind.Timeout, $"{connection.Endpoint} did not answer the handshake within {Options.ConnectTimeout.TotalSeconds:0.#} s.", "Timeout");
                }

                if (message.Type != WebSocketMessageType.Text)
                {
                    continue;
                }

                var reply = TencentReply.Parse(message.Data.Span, connection.Endpoint);
                reply.ThrowIfError();
                return connection;
            }
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void ToLittleEndian(ReadOnlySpan<short> samples, Span<byte> target)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(samples).CopyTo(target);
            return;
        }

        for (var i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(target[(i * 2)..], samples[i]);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tencent recognition failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);

    /// <summary>One Tencent audio stream: audio out, results in.</summary>
    private sealed class Utterance
    {
        private readonly TencentRecognitionStream _owner;
        private readonly VendorWebSocket _connection;
        private readonly ChannelWriter<SpeechRecognitionResult> _results;
        private readonly CancellationTokenSource _receiving = new();
        private readonly SortedDictionary<int, string> _stable = [];
        private readonly Task<string> _receiver;
        private string _pending = string.Empty;
        private int _pendingIndex = -1;
        private string _lastSent = string.Empty;

        public Utterance(TencentRecognitionStream owner, VendorWebSocket connection, ChannelWriter<SpeechRecognitionResult> results)
        {
            _owner = owner;
            _connection = connection;
            _results = results;
            _receiver = Task.Run(() => ReceiveAsync(_receiving.Token));
        }

        public async Task SendAsync(ReadOnlyMemory<byte> audio, CancellationToken cancellationToken)
        {
            try
            {
                await _connection.SendBinaryAsync(audio, cancellationToken).ConfigureAwait(false);
            }
            catch (SpeechVendorException ex)
            {
                // Tencent's reason (an error code) rather than "connection broke".
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(await VendorWebSocket.ReasonAsync(_receiver, ex, _owner.Time).ConfigureAwait(false));
            }
        }

        public async Task<string> FinishAsync(CancellationToken cancellationToken)
        {
            try
            {
                if (!_receiver.IsCompleted)
                {
                    try
                    {
                        await _connection.SendTextAsync(EndMessage, cancellationToken).ConfigureAwait(false);
                    }
                    catch (SpeechVendorException) when (_receiver.IsFaulted)
                    {
                    }
                }

                try
                {
                    var text = await _receiver.WaitAsync(_owner.Options.ResponseTimeout, _owner.Time, cancellationToken).ConfigureAwait(false);
                    using var close = new CancellationTokenSource(TimeSpan.FromSeconds(1), _owner.Time);
                    await _connection.CloseAsync(close.Token).ConfigureAwait(false);
                    return text;
                }
                catch (TimeoutException)
                {
                    throw new SpeechVendorException(
                        Vendor, VendorFailureKind.Timeout, $"no final result within {_owner.Options.ResponseTimeout.TotalSeconds:0.#} s of the end of audio.", "Timeout");
                }
            }
            finally
            {
                Abandon();
            }
        }

        public void Abandon()
        {
            try
            {
                _receiving.Cancel();
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            _connection.Dispose();
            _ = _receiver.ContinueWith(t => { _ = t.Exception; _receiving.Dispose(); }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        private async Task<string> ReceiveAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var (type, data) = await _connection.ReceiveAsync(cancellationToken).ConfigureAwait(false);
                if (type != WebSocketMessageType.Text)
                {
                    continue;
                }

                var reply = TencentReply.Parse(data.Span, _connection.Endpoint);
                reply.ThrowIfError();
                if (reply.HasResult)
                {
                    if (reply.SliceType == 2)
                    {
                        _stable[reply.Index] = reply.Text;
                        if (reply.Index == _pendingIndex)
                        {
                            _pending = string.Empty;
                        }
                    }
                    else
                    {
                        _pending = reply.Text;
                        _pendingIndex = reply.Index;
                    }

                    var text = Current();
                    if (text.Length > 0 && text != _lastSent)
                    {
                        _lastSent = text;
                        _results.TryWrite(new SpeechRecognitionResult(text, IsFinal: false)); // a newer partial supersedes a dropped one
                    }
                }

                if (reply.Final)
                {
                    return Current();
                }
            }
        }

        private string Current()
        {
            var stable = new StringBuilder();
            foreach (var sentence in _stable.Values)
            {
                TranscriptText.Join(stable, sentence);
            }

            return _pendingIndex >= 0 && !_stable.ContainsKey(_pendingIndex) ? TranscriptText.With(stable, _pending) : stable.ToString();
        }
    }
}

/// <summary>One JSON message from Tencent: <c>{code, message, voice_id, message_id, result{slice_type, index, voice_text_str, …}, final}</c>.</summary>
internal readonly record struct TencentReply(int Code, string? Message, string Endpoint, bool HasResult, int SliceType, int Index, string Text, bool Final)
{
    public static TencentReply Parse(ReadOnlySpan<byte> json, string endpoint)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var root = doc.RootElement;
            var code = root.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : 0;
            var message = root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            var final = root.TryGetProperty("final", out var f) && f.ValueKind == JsonValueKind.Number && f.GetInt32() == 1;
            if (root.TryGetProperty("result", out var r) && r.ValueKind == JsonValueKind.Object)
            {
                var slice = r.TryGetProperty("slice_type", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt32() : 1;
                var index = r.TryGetProperty("index", out var i) && i.ValueKind == JsonValueKind.Number ? i.GetInt32() : 0;
                var text = r.TryGetProperty("voice_text_str", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() ?? "" : "";
                return new TencentReply(code, message, endpoint, true, slice, index, text, final);
            }

            return new TencentReply(code, message, endpoint, false, 0, 0, "", final);
        }
        catch (JsonException ex)
        {
            throw new SpeechVendorException(TencentRecognizerProvider.VendorName, VendorFailureKind.ServiceError, $"{endpoint} sent a message that is not JSON.", "BadMessage", ex);
        }
    }

    /// <summary>Tencent's error codes: 4002 signature, 4003–4005 account (not activated, quota, arrears), 4006 concurrency, 4001/4007–4010 request, 5xxx service.</summary>
    public void ThrowIfError()
    {
        if (Code == 0)
        {
            return;
        }

        var kind = Code switch
        {
            4002 or 4003 or 4004 or 4005 => VendorFailureKind.Unauthorized,
            4006 => VendorFailureKind.RateLimited,
            >= 4000 and < 5000 => VendorFailureKind.InvalidRequest,
            _ => VendorFailureKind.ServiceError,
        };
        var what = kind switch
        {
            VendorFailureKind.Unauthorized => "Tencent rejected the credentials or account (check Params.app or Parley:Vendors:Tencent)",
            VendorFailureKind.RateLimited => "Tencent's concurrency limit for the account is reached",
            VendorFailureKind.InvalidRequest => "Tencent refused the request",
            _ => "Tencent reported a service error",
        };
        var detail = string.IsNullOrWhiteSpace(Message) ? "" : ": " + (Message.Length > 200 ? Message[..200] : Message);
        throw new SpeechVendorException(
            TencentRecognizerProvider.VendorName, kind, $"{what} (code {Code.ToString(System.Globalization.CultureInfo.InvariantCulture)}{detail}).",
            Code.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
