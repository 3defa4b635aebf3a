// A fake of the Azure Speech service's speech-to-text WebSocket protocol, written from Microsoft's own documentation:
//   "Microsoft Speech WebSocket protocol" (MicrosoftDocs/azure-docs,
//   articles/cognitive-services/Speech/API-Reference-REST/websocketprotocol.md): X-ConnectionId (UUID) and
//   Ocp-Apim-Subscription-Key / Authorization: Bearer at the handshake; text messages = headers (Path, X-RequestId
//   no-dash UUID, X-Timestamp ISO 8601, Content-Type) + blank line + body; binary messages = 2-byte big-endian header
//   length + headers + body; speech.config before any audio; the first audio message of a turn carries a RIFF header;
//   audio chunks ≤ 8192 bytes; an empty audio message ends the turn; responses turn.start, speech.startDetected,
//   speech.hypothesis {Text, Offset, Duration}, speech.endDetected, speech.phrase {RecognitionStatus, DisplayText, Offset,
//   Duration}, turn.end; telemetry after turn.end.
// and the Speech SDK for JavaScript (microsoft/cognitive-services-speech-sdk-js, src/common.speech/DynamicGrammarBuilder.ts):
//   the phrase list travels in speech.context as dgi.Groups[{Type: "Generic", Items: [{Text}]}].
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Parley.Testing.Fakes.Azure;

/// <summary>Behaviour of a <see cref="FakeAzureSpeechServer"/>; may be changed while it runs.</summary>
public sealed class FakeAzureSpeechOptions
{
    public string Key { get; set; } = "fake-azure-speech-key";

    /// <summary>Accepted as <c>Authorization: Bearer</c> instead of the key.</summary>
    public string Token { get; set; } = "fake-azure-token";

    public string Transcript { get; set; } = "Hello from the fake Azure recognizer.";

    public TimeSpan HypothesisInterval { get; set; } = TimeSpan.FromMilliseconds(300);

    public TimeSpan FinalDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>
/// A fake Azure Speech to Text endpoint on loopback: checks the handshake headers (key, X-ConnectionId), the framing
/// and order of every client message (speech.config first, X-RequestId/X-Timestamp, a RIFF header first in each turn,
/// chunk size), closes with 1007 on a protocol violation as the service does, answers each turn with hypotheses for the
/// audio received and one phrase; can close a turn with a chosen close code or drop the connection.
/// </summary>
public sealed class FakeAzureSpeechServer : IAsyncDisposable
{
    public const string Path = "/speech/recognition/conversation/cognitiveservices/v1";

    private readonly LoopbackWebSocketHost _host;
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentQueue<string> _languages = new();
    private readonly ConcurrentQueue<string[]> _phraseLists = new();
    private long _accepted;
    private long _rejected;
    private long _audioBytes;
    private long _turns;
    private long _telemetry;
    private int _closeNextTurn;
    private int _dropAfterBytes;

    private FakeAzureSpeechServer(FakeAzureSpeechOptions options, LoopbackWebSocketHost host)
    {
        Options = options;
        _host = host;
    }

    public FakeAzureSpeechOptions Options { get; }

    /// <summary>For <c>Parley:Vendors:Microsoft:Url</c>.</summary>
    public string Url => "ws://" + _host.Authority + Path;

    public long ConnectionsAccepted => Interlocked.Read(ref _accepted);

    public long ConnectionsRejected => Interlocked.Read(ref _rejected);

    public long AudioBytesReceived => Interlocked.Read(ref _audioBytes);

    /// <summary>Turns answered with turn.end.</summary>
    public long TurnsCompleted => Interlocked.Read(ref _turns);

    /// <summary>Telemetry messages received (one per turn acknowledges its turn.end).</summary>
    public long TelemetryReceived => Interlocked.Read(ref _telemetry);

    /// <summary>Protocol violations seen (each closed its connection with 1007).</summary>
    public IReadOnlyList<string> Violations => [.. _violations];

    public IReadOnlyList<string> Languages => [.. _languages];

    public IReadOnlyList<string[]> PhraseLists => [.. _phraseLists];

    public static async Task<FakeAzureSpeechServer> StartAsync(FakeAzureSpeechOptions? options = null)
    {
        FakeAzureSpeechServer? server = null;
        var host = await LoopbackWebSocketHost.StartAsync(context => server!.HandleAsync(context));
        server = new FakeAzureSpeechServer(options ?? new FakeAzureSpeechOptions(), host);
        return server;
    }

    /// <summary>The next turn's first audio is answered by closing the connection with this code (e.g. 4429, 1008, 1011).</summary>
    public void CloseNextTurn(int closeCode) => Volatile.Write(ref _closeNextTurn, closeCode);

    /// <summary>The connection carrying the next audio is dropped after this many audio bytes in that turn.</summary>
    public void DropNextTurnAfter(int bytes) => Volatile.Write(ref _dropAfterBytes, bytes);

    public ValueTask DisposeAsync() => _host.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path != Path || !context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var key = context.Request.Headers["Ocp-Apim-Subscription-Key"].ToString();
        var auth = context.Request.Headers.Authorization.ToString();
        if (key != Options.Key && auth != "Bearer " + Options.Token)
        {
            Interlocked.Increment(ref _rejected);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        var connectionId = context.Request.Headers["X-ConnectionId"].ToString();
        if (connectionId.Length != 32 || !connectionId.All(Uri.IsHexDigit))
        {
            Interlocked.Increment(ref _rejected);
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        _languages.Enqueue(context.Request.Query["language"].ToString());
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        Interlocked.Increment(ref _accepted);
        try
        {
            await RunAsync(socket, context.RequestAborted);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
        }
    }

    private async Task RunAsync(WebSocket socket, CancellationToken token)
    {
        var buffer = new byte[64 * 1024];
        var configured = false;
        string? turn = null;
        var headerSeen = false;
        long turnBytes = 0, nextHypothesis = 0;
        var words = Options.Transcript.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var shown = 0;
        var drop = -1;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(), token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }

            var length = result.Count;
            while (!result.EndOfMessage)
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(length), token);
                length += result.Count;
            }

            var message = buffer.AsMemory(0, length);
            if (result.MessageType == WebSocketMessageType.Text)
            {
                var (headers, body) = SplitText(message.Span);
                var path = headers.GetValueOrDefault("path");
                if (!headers.ContainsKey("x-timestamp") || (path != "speech.config" && !IsRequestId(headers.GetValueOrDefault("x-requestid"))))
                {
                    await ViolationAsync(socket, $"{path}: missing X-Timestamp or X-RequestId", token);
                    return;
                }

                switch (path)
                {
                    case "speech.config":
                        configured = true;
                        break;
                    case "speech.context":
                        var groups = JsonNode.Parse(body)?["dgi"]?["Groups"]?.AsArray();
                        _phraseLists.Enqueue(groups is null ? [] : [.. groups.SelectMany(g => g!["Items"]!.AsArray().Select(i => i!["Text"]!.GetValue<string>()))]);
                        break;
                    case "telemetry":
                        Interlocked.Increment(ref _telemetry);
                        break;
                    default:
                        await ViolationAsync(socket, $"unknown path {path}", token);
                        return;
                }

                continue;
            }

            // Binary: the audio message.
            var span = message.Span;
            var headerLength = BinaryPrimitives.ReadUInt16BigEndian(span);
            var binaryHeaders = ParseHeaders(Encoding.ASCII.GetString(span.Slice(2, headerLength)));
            var audio = message[(2 + headerLength)..];
            var requestId = binaryHeaders.GetValueOrDefault("x-requestid");
            if (!configured || binaryHeaders.GetValueOrDefault("path") != "audio" || !IsRequestId(requestId) || !binaryHeaders.ContainsKey("x-timestamp")
                || binaryHeaders.GetValueOrDefault("content-type") != "audio/x-wav" || audio.Length > 8192)
            {
                await ViolationAsync(socket, configured ? "malformed audio message" : "audio before speech.config", token);
                return;
            }

            if (requestId != turn)
            {
                turn = requestId;
                headerSeen = false;
                turnBytes = 0;
                nextHypothesis = (long)Options.HypothesisInterval.TotalMilliseconds * 32;
                shown = 0;
                drop = -1;
                await SendAsync(socket, "turn.start", turn!, """{"context":{"serviceTag":"fake"}}""", token);
            }

            if (!headerSeen)
            {
                if (audio.Length < 44 || !audio.Span.StartsWith("RIFF"u8) || BinaryPrimitives.ReadUInt32LittleEndian(audio.Span[24..]) != 16000)
                {
                    await ViolationAsync(socket, "the first audio message of a turn has no RIFF header for 16 kHz", token);
                    return;
                }

                headerSeen = true;
                var close = Interlocked.Exchange(ref _closeNextTurn, 0);
                if (close != 0)
                {
                    await socket.CloseOutputAsync((WebSocketCloseStatus)close, "fake close", token);
                    return;
                }

                drop = Interlocked.Exchange(ref _dropAfterBytes, 0);
                await SendAsync(socket, "speech.startDetected", turn!, """{"Offset":0}""", token);
                continue;
            }

            if (audio.Length > 0)
            {
                turnBytes += audio.Length;
                Interlocked.Add(ref _audioBytes, audio.Length);
                if (drop > 0 && turnBytes >= drop)
                {
                    socket.Abort();
                    return;
                }

                while (turnBytes >= nextHypothesis && shown < words.Length)
                {
                    nextHypothesis += (long)Options.HypothesisInterval.TotalMilliseconds * 32;
                    shown++;
                    var text = string.Join(' ', words[..shown]).ToLowerInvariant().TrimEnd('.', '?', '!');
                    await SendAsync(socket, "speech.hypothesis", turn!, new JsonObject { ["Text"] = text, ["Offset"] = 0, ["Duration"] = turnBytes * 10_000 / 32 }.ToJsonString(), token);
                }

                continue;
            }

            // The empty audio message: the end of the turn's audio.
            await Task.Delay(Options.FinalDelay, Options.TimeProvider, token);
            await SendAsync(socket, "speech.endDetected", turn!, """{"Offset":0}""", token);
            var phrase = turnBytes > 0
                ? new JsonObject
                {
                    ["RecognitionStatus"] = "Success", ["Offset"] = 0, ["Duration"] = turnBytes * 10_000 / 32, ["DisplayText"] = Options.Transcript,
                    ["NBest"] = new JsonArray(new JsonObject { ["Confidence"] = 0.9, ["Lexical"] = Options.Transcript.ToLowerInvariant(), ["Display"] = Options.Transcript }),
                }
                : new JsonObject { ["RecognitionStatus"] = "InitialSilenceTimeout", ["Offset"] = 0, ["Duration"] = 0 };
            await SendAsync(socket, "speech.phrase", turn!, phrase.ToJsonString(), token);
            await SendAsync(socket, "turn.end", turn!, null, token);
            Interlocked.Increment(ref _turns);
            turn = null;
        }
    }

    private async Task ViolationAsync(WebSocket socket, string what, CancellationToken token)
    {
        _violations.Enqueue(what);
        await socket.CloseOutputAsync(WebSocketCloseStatus.InvalidPayloadData, "protocol violation", token);
    }

    private static bool IsRequestId(string? id) => id is { Length: 32 } && id.All(Uri.IsHexDigit);

    private static (Dictionary<string, string> Headers, string Body) SplitText(ReadOnlySpan<byte> message)
    {
        var text = Encoding.UTF8.GetString(message);
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return split < 0 ? (ParseHeaders(text), "") : (ParseHeaders(text[..split]), text[(split + 4)..]);
    }

    private static Dictionary<string, string> ParseHeaders(string text) =>
        text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
            .ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());

    private static Task SendAsync(WebSocket socket, string path, string requestId, string? body, CancellationToken token)
    {
        var text = $"Path: {path}\r\nX-RequestId: {requestId}\r\n" + (body is null ? "\r\n" : "Content-Type: application/json; charset=utf-8\r\n\r\n" + body);
        return socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, token);
    }
}
