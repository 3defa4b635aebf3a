using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Parley.Abstractions.Speech;
using Parley.Core.Providers;

namespace Parley.Providers.Volcengine;

/// <summary>
/// A VolcSeedASR recognition stream: one big-model ASR request (one WebSocket connection) per utterance. At the first
/// audio of an utterance the full client request (JSON, gzip, sequence 1) goes out, then audio-only packets of about
/// 100 ms (sequence 2, 3, …); the end of the utterance sends the rest as the last packet (negative sequence) and the
/// final result is the server's last response (<c>result.text</c>). Responses before it are partials. The next
/// utterance's connection is opened ahead while the user is quiet (replaced if it went stale). A vendor failure (error
/// frame, refused handshake, broken connection) ends the results with a <see cref="VolcengineException"/>.
/// </summary>
internal sealed partial class VolcSeedRecognitionStream : RecognitionStreamBase
{
    private const string Vendor = VolcSeedAsrRecognizerProvider.VendorName;
    private const int PacketBytes = 3200; // 100 ms of 16 kHz PCM16

    private readonly VolcConnectionPool _pool;
    private readonly VolcCredentials _credentials;
    private readonly byte[] _request;
    private readonly Uri _endpoint;
    private readonly ILogger _logger;
    private Task<VolcSocket>? _ahead;
    private long _aheadSince;

    internal VolcSeedRecognitionStream(VolcConnectionPool pool, VolcCredentials credentials, byte[] request, ILogger logger)
        : base(Vendor, 2048)
    {
        _pool = pool;
        _credentials = credentials;
        _request = request;
        _endpoint = new Uri(pool.Options.AsrUrl);
        _logger = logger;
        Start();
    }

    protected override void OnFailed(Exception exception) => LogFailed(_logger, exception.Message);

    protected override async Task RunAsync(ChannelReader<AudioPiece> input, ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken)
    {
        Utterance? current = null;
        var packet = ArrayPool<byte>.Shared.Rent(PacketBytes * 2);
        var filled = 0;
        OpenAhead(cancellationToken);
        try
        {
            while (await input.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (input.TryRead(out var piece))
                {
                    if (piece.IsEndOfUtterance)
                    {
                        var text = string.Empty;
                        if (current is not null)
                        {
                            var utterance = current;
                            current = null;
                            text = await utterance.FinishAsync(packet.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
                            filled = 0;
                            OpenAhead(cancellationToken);
                        }

                        await results.WriteAsync(new SpeechRecognitionResult(text, IsFinal: true), cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    try
                    {
                        current ??= await StartUtteranceAsync(results, cancellationToken).ConfigureAwait(false);
                        var samples = piece.Memory;
                        while (!samples.IsEmpty)
                        {
                            var take = Math.Min(samples.Length, (PacketBytes - filled) / 2);
                            VolcPcm.ToLittleEndian(samples.Span[..take], packet.AsSpan(filled));
                            filled += take * 2;
                            samples = samples[take..];
                            if (filled >= PacketBytes)
                            {
                                await current.SendAsync(packet.AsMemory(0, filled), last: false, cancellationToken).ConfigureAwait(false);
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
            if (current is not null)
            {
                await current.AbandonAsync().ConfigureAwait(false);
            }

            if (_ahead is { } ahead)
            {
                _ahead = null;
                try
                {
                    (await ahead.ConfigureAwait(false)).Dispose();
                }
                catch (Exception ex) when (ex is VolcengineException or OperationCanceledException)
                {
                }
            }

            ArrayPool<byte>.Shared.Return(packet);
        }
    }

    private void OpenAhead(CancellationToken cancellationToken)
    {
        _aheadSince = _pool.Time.GetTimestamp();
        _ahead = Task.Run(() => _pool.OpenAsync(Vendor, _endpoint, agent: false, Headers(), _credentials.Key(_endpoint), cancellationToken), cancellationToken);
    }

    private KeyValuePair<string, string>[] Headers() => VolcConnectionPool.V3Headers(_credentials, appIdHeader: "X-Api-App-Key");

    private async Task<Utterance> StartUtteranceAsync(ChannelWriter<SpeechRecognitionResult> results, CancellationToken cancellationToken)
    {
        VolcSocket? socket = null;
        if (_ahead is { } ahead)
        {
            _ahead = null;
            try
            {
                socket = await ahead.ConfigureAwait(false);
                if (!socket.IsOpen || _pool.Time.GetElapsedTime(_aheadSince) >= _pool.Options.IdleTimeout)
                {
                    socket.Dispose();
                    socket = null;
                }
            }
            catch (VolcengineException)
            {
                socket = null; // opened ahead and failed: try again now, reporting this attempt's failure
            }
        }

        var warm = socket is not null;
        socket ??= await _pool.OpenAsync(Vendor, _endpoint, agent: false, Headers(), _credentials.Key(_endpoint), cancellationToken).ConfigureAwait(false);
        try
        {
            await socket.SendAsync(VolcMessageType.FullClientRequest, VolcFlags.PositiveSequence, json: true, _request, cancellationToken, sequence: 1, gzip: true)
                .ConfigureAwait(false);
        }
        catch (VolcengineException ex) when (warm && ex.Kind == VolcengineErrorKind.ConnectionBroken)
        {
            socket.Dispose();
            _pool.LogStale(Vendor);
            socket = await _pool.OpenAsync(Vendor, _endpoint, agent: false, Headers(), _credentials.Key(_endpoint), cancellationToken).ConfigureAwait(false);
            await socket.SendAsync(VolcMessageType.FullClientRequest, VolcFlags.PositiveSequence, json: true, _request, cancellationToken, sequence: 1, gzip: true)
                .ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new Utterance(_pool, socket, results);
    }

    /// <summary>The text of a response: <c>result.text</c> (or the first of a <c>result</c> array).</summary>
    internal static string? ResultText(ReadOnlyMemory<byte> payload)
    {
        if (payload.IsEmpty)
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(payload);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("result", out var result))
            {
                return null;
            }

            if (result.ValueKind == JsonValueKind.Array)
            {
                result = result.EnumerateArray().FirstOrDefault();
            }

            return result.ValueKind == JsonValueKind.Object && result.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
                ? text.GetString()
                : null;
        }
        catch (JsonException)
        {
            throw new VolcengineException($"{Vendor}: a response payload is not JSON.", VolcengineErrorKind.Protocol);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "VolcSeedASR recognition failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);

    /// <summary>One ASR request: audio out, responses in.</summary>
    private sealed class Utterance
    {
        /// <summary>How long a failed send waits for the receiver to read the server's reason for closing.</summary>
        private static readonly TimeSpan ReasonGrace = TimeSpan.FromSeconds(1);

        private readonly VolcConnectionPool _pool;
        private readonly VolcSocket _socket;
        private readonly ChannelWriter<SpeechRecognitionResult> _results;
        private readonly CancellationTokenSource _receiving = new();
        private readonly Task<string> _receiver;
        private int _sequence = 1;
        private string _lastSent = string.Empty;
        private volatile bool _finishing;
        private bool _released;

        public Utterance(VolcConnectionPool pool, VolcSocket socket, ChannelWriter<SpeechRecognitionResult> results)
        {
            _pool = pool;
            _socket = socket;
            _results = results;
            _receiver = Task.Run(() => ReceiveAsync(_receiving.Token));
        }

        public async Task SendAsync(ReadOnlyMemory<byte> audio, bool last, CancellationToken cancellationToken)
        {
            var sequence = ++_sequence;
            try
            {
                await _socket.SendAsync(
                    VolcMessageType.AudioOnlyClient, last ? VolcFlags.NegativeSequence : VolcFlags.PositiveSequence, json: false, audio, cancellationToken,
                    sequence: last ? -sequence : sequence).ConfigureAwait(false);
            }
            catch (VolcengineException) when (!_receiver.IsCompletedSuccessfully)
            {
                // A server that refuses sends its reason (an error frame) and closes: the send can fail on the close a
                // moment before the receiver has read the reason. Give it that moment, then prefer the server's reason
                // to "the connection broke".
                if (!_receiver.IsCompleted)
                {
                    await ((Task)_receiver).WaitAsync(ReasonGrace, _pool.Time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }

                if (_receiver.IsFaulted)
                {
                    await _receiver.ConfigureAwait(false);
                }

                throw;
            }
        }

        /// <summary>Sends the rest as the last packet and waits for the final response; returns its text.</summary>
        public async Task<string> FinishAsync(ReadOnlyMemory<byte> rest, CancellationToken cancellationToken)
        {
            try
            {
                _finishing = true;
                if (!_receiver.IsCompleted)
                {
                    try
                    {
                        await SendAsync(rest, last: true, cancellationToken).ConfigureAwait(false);
                    }
                    catch (VolcengineException) when (_receiver.IsCompleted)
                    {
                    }
                }

                return await _receiver.ConfigureAwait(false);
            }
            finally
            {
                await ReleaseAsync().ConfigureAwait(false);
            }
        }

        public Task AbandonAsync() => ReleaseAsync();

        private async Task ReleaseAsync()
        {
            if (_released)
            {
                return;
            }

            _released = true;
            await _receiving.CancelAsync().ConfigureAwait(false);
            await ((Task)_receiver).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _socket.Dispose(); // one request per connection: never reused
            _receiving.Dispose();
        }

        private async Task<string> ReceiveAsync(CancellationToken cancellationToken)
        {
            var text = string.Empty;
            while (true)
            {
                var frame = _finishing
                    ? await _pool.ReceiveWithinAsync(_socket, "the final result", cancellationToken).ConfigureAwait(false)
                    : await _socket.ReceiveAsync(cancellationToken).ConfigureAwait(false);
                if (frame.Type == VolcMessageType.Error)
                {
                    throw _socket.Failure(frame);
                }

                if (frame.Type != VolcMessageType.FullServerResponse)
                {
                    continue;
                }

                if (ResultText(frame.Payload) is { } result)
                {
                    text = result.Trim();
                }

                if (frame.IsLast)
                {
                    return text;
                }

                if (text.Length > 0 && text != _lastSent)
                {
                    _lastSent = text;
                    _results.TryWrite(new SpeechRecognitionResult(text, IsFinal: false));
                }
            }
        }
    }
}
