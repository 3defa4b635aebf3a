// A fake of Tencent Cloud real-time speech recognition (WebSocket API v2), written from Tencent's own documentation:
//   https://www.tencentcloud.com/document/api/1118/53937 (Real-Time Speech Recognition (WebSocket); zh:
//   https://cloud.tencent.com/document/product/1093/48982): URL wss://asr.cloud.tencent.com/asr/v2/<appid>?secretid=…
//   &timestamp=…&expired=…&nonce=…&engine_model_type=…&voice_id=…&voice_format=…&signature=…; signature =
//   base64(HMAC-SHA1(SecretKey, "asr.cloud.tencent.com/asr/v2/<appid>?" + every other parameter sorted by key)), URL-encoded;
//   handshake answer {"code":0,"message":"success","voice_id":…}; binary audio (40 ms per 40 ms recommended);
//   {"type":"end"} ends the stream; results {code,message,voice_id,message_id,result{slice_type 0/1/2,index,start_time,
//   end_time,voice_text_str,word_size,word_list},final}; error codes 4001–4010, 5000–5002.
// and Tencent's Go SDK TencentCloud/tencentcloud-speech-sdk-go asr/speechrecognizer.go (buildURL, genSignature: raw
// values in the signed string, nonce, expired = timestamp + 24 h).
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Parley.Testing.Fakes.Tencent;

/// <summary>Behaviour of a <see cref="FakeTencentAsrServer"/>; may be changed while it runs (read per connection).</summary>
public sealed class FakeTencentAsrOptions
{
    public string AppId { get; set; } = "1250000000";

    public string SecretId { get; set; } = "AKIDfakeTencentSecretId";

    public string SecretKey { get; set; } = "fake-tencent-secret-key";

    /// <summary>The text recognised for a stream that carried audio (partials are growing word prefixes).</summary>
    public string Transcript { get; set; } = "hello from the fake tencent recognizer";

    /// <summary>One partial per this much received audio.</summary>
    public TimeSpan PartialInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>From {"type":"end"} to the final messages.</summary>
    public TimeSpan FinalDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Before the handshake answer (a slow server).</summary>
    public TimeSpan HandshakeDelay { get; set; } = TimeSpan.Zero;

    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}

/// <summary>
/// A fake Tencent real-time ASR endpoint on loopback speaking the v2 protocol: recomputes and checks the signature
/// (wrong → code 4002 then close, as Tencent does), checks the parameters Parley must send (voice_format, voice_id,
/// timestamps), answers the handshake, produces slice_type 0/1/2 results for received audio and a final message after
/// {"type":"end"}; can inject an error code, or drop the connection after some audio.
/// </summary>
public sealed class FakeTencentAsrServer : IAsyncDisposable
{
    private readonly LoopbackWebSocketHost _host;
    private readonly ConcurrentQueue<(int Code, string Message)> _errors = new();
    private readonly ConcurrentQueue<Dictionary<string, string>> _handshakes = new();
    private long _accepted;
    private long _ended;
    private long _rejected;
    private long _audioBytes;
    private long _finals;
    private int _dropAfterBytes;

    private FakeTencentAsrServer(FakeTencentAsrOptions options, LoopbackWebSocketHost host)
    {
        Options = options;
        _host = host;
    }

    public FakeTencentAsrOptions Options { get; }

    /// <summary>For <c>Parley:Vendors:Tencent:Url</c>: <c>ws://127.0.0.1:port/asr/v2</c>.</summary>
    public string Url => "ws://" + _host.Authority + "/asr/v2";

    /// <summary>Connections whose signature checked out.</summary>
    public long ConnectionsAccepted => Interlocked.Read(ref _accepted);

    /// <summary>Accepted connections that have ended (closed or dropped by either side).</summary>
    public long ConnectionsEnded => Interlocked.Read(ref _ended);

    /// <summary>Connections refused with 4002 (bad signature or SecretId) or 4001 (missing parameter).</summary>
    public long ConnectionsRejected => Interlocked.Read(ref _rejected);

    public long AudioBytesReceived => Interlocked.Read(ref _audioBytes);

    /// <summary>Streams ended with final=1.</summary>
    public long StreamsFinished => Interlocked.Read(ref _finals);

    /// <summary>The decoded query parameters of every accepted handshake (without the signature).</summary>
    public IReadOnlyList<Dictionary<string, string>> Handshakes => [.. _handshakes];

    public static async Task<FakeTencentAsrServer> StartAsync(FakeTencentAsrOptions? options = null)
    {
        FakeTencentAsrServer? server = null;
        var host = await LoopbackWebSocketHost.StartAsync(context => server!.HandleAsync(context));
        server = new FakeTencentAsrServer(options ?? new FakeTencentAsrOptions(), host);
        return server;
    }

    /// <summary>The next stream with audio gets this error message (code ≠ 0) at its first audio, then the connection closes.</summary>
    public void FailNextStream(int code, string message = "fake failure") => _errors.Enqueue((code, message));

    /// <summary>The next stream is dropped (no close handshake) after this many audio bytes.</summary>
    public void DropNextStreamAfter(int bytes) => Volatile.Write(ref _dropAfterBytes, bytes);

    public ValueTask DisposeAsync() => _host.DisposeAsync();

    /// <summary>The signature Tencent expects for <paramref name="query"/> (decoded values, signature excluded) at <paramref name="hostAndPath"/>.</summary>
    public static string Signature(string secretKey, string hostAndPath, IReadOnlyDictionary<string, string> query)
    {
        var text = hostAndPath + "?" + string.Join('&', query.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value));
        return Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(secretKey), Encoding.UTF8.GetBytes(text)));
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (!path.StartsWith("/asr/v2/", StringComparison.Ordinal) || !context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var query = context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var token = context.RequestAborted;
        var voiceId = query.GetValueOrDefault("voice_id") ?? "";
        query.Remove("signature", out var signature);
        var appId = path["/asr/v2/".Length..];
        var now = Options.TimeProvider.GetUtcNow().ToUnixTimeSeconds();
        string? refusal = null;
        if (appId != Options.AppId || query.GetValueOrDefault("secretid") != Options.SecretId
            || signature != Signature(Options.SecretKey, context.Request.Host.Value + path, query))
        {
            refusal = "4002:鉴权失败 signature check failed";
        }
        else if (!long.TryParse(query.GetValueOrDefault("timestamp"), out var ts) || Math.Abs(ts - now) > 600
            || !long.TryParse(query.GetValueOrDefault("expired"), out var expired) || expired <= now
            || !query.ContainsKey("nonce") || voiceId.Length == 0 || !query.ContainsKey("engine_model_type")
            || query.GetValueOrDefault("voice_format") != "1")
        {
            refusal = "4001:参数不合法 missing or invalid parameter";
        }

        if (Options.HandshakeDelay > TimeSpan.Zero)
        {
            await Task.Delay(Options.HandshakeDelay, Options.TimeProvider, token);
        }

        if (refusal is not null)
        {
            Interlocked.Increment(ref _rejected);
            var parts = refusal.Split(':', 2);
            await SendAsync(socket, new JsonObject { ["code"] = int.Parse(parts[0]), ["message"] = parts[1], ["voice_id"] = voiceId }, token);
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, token);
            return;
        }

        Interlocked.Increment(ref _accepted);
        _handshakes.Enqueue(query);
        await SendAsync(socket, new JsonObject { ["code"] = 0, ["message"] = "success", ["voice_id"] = voiceId }, token);
        try
        {
            await RunStreamAsync(socket, voiceId, token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
        }
        finally
        {
            Interlocked.Increment(ref _ended);
        }
    }

    private async Task RunStreamAsync(WebSocket socket, string voiceId, CancellationToken token)
    {
        var buffer = new byte[64 * 1024];
        var words = Options.Transcript.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var perPartial = Math.Max(1, (long)Options.PartialInterval.TotalMilliseconds) * 32;
        long bytes = 0, nextPartial = perPartial;
        var shown = 0;
        var started = false;
        var messageId = 0;
        var drop = -1; // read at the first audio: a connection opened ahead of time belongs to the stream that uses it
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

            if (result.MessageType == WebSocketMessageType.Binary)
            {
                if (drop < 0)
                {
                    drop = Interlocked.Exchange(ref _dropAfterBytes, 0);
                }

                bytes += length;
                Interlocked.Add(ref _audioBytes, length);
                if (_errors.TryDequeue(out var error))
                {
                    await SendAsync(socket, new JsonObject { ["code"] = error.Code, ["message"] = error.Message, ["voice_id"] = voiceId }, token);
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, token);
                    return;
                }

                if (drop > 0 && bytes >= drop)
                {
                    socket.Abort();
                    return;
                }

                if (!started)
                {
                    started = true;
                    await SendResultAsync(socket, voiceId, ++messageId, 0, "", final: false, token);
                }

                while (bytes >= nextPartial && shown < words.Length)
                {
                    nextPartial += perPartial;
                    shown++;
                    await SendResultAsync(socket, voiceId, ++messageId, 1, string.Join(' ', words[..shown]), final: false, token);
                }

                continue;
            }

            using var doc = JsonDocument.Parse(buffer.AsMemory(0, length));
            if (doc.RootElement.TryGetProperty("type", out var type) && type.GetString() == "end")
            {
                await Task.Delay(Options.FinalDelay, Options.TimeProvider, token);
                if (bytes > 0)
                {
                    await SendResultAsync(socket, voiceId, ++messageId, 2, Options.Transcript, final: false, token);
                }

                await SendAsync(socket, new JsonObject { ["code"] = 0, ["message"] = "success", ["voice_id"] = voiceId, ["message_id"] = voiceId + "_" + ++messageId, ["final"] = 1 }, token);
                Interlocked.Increment(ref _finals);
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, token);
                return;
            }

            // Tencent answers an unknown text message with 4010.
            await SendAsync(socket, new JsonObject { ["code"] = 4010, ["message"] = "无效的文本消息", ["voice_id"] = voiceId }, token);
            return;
        }
    }

    private static Task SendResultAsync(WebSocket socket, string voiceId, int messageId, int sliceType, string text, bool final, CancellationToken token) =>
        SendAsync(socket, new JsonObject
        {
            ["code"] = 0,
            ["message"] = "success",
            ["voice_id"] = voiceId,
            ["message_id"] = voiceId + "_" + messageId,
            ["result"] = new JsonObject
            {
                ["slice_type"] = sliceType,
                ["index"] = 0,
                ["start_time"] = 0,
                ["end_time"] = 0,
                ["voice_text_str"] = text,
                ["word_size"] = 0,
                ["word_list"] = new JsonArray(),
            },
            ["final"] = final ? 1 : 0,
        }, token);

    private static Task SendAsync(WebSocket socket, JsonObject message, CancellationToken token) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, endOfMessage: true, token);
}
