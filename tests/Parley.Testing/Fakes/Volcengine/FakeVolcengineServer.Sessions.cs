using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Parley.Testing.Fakes.Volcengine;

public sealed partial class FakeVolcengineServer
{
    private const int Sent = 0, Dropped = 1;

    /// <summary>One-way V3: a full-client request per sentence, answered with 350, 352…, 351, 152.</summary>
    private async Task UnidirectionalAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        while (await ReceiveAsync(socket, cancellationToken) is { } data)
        {
            var frame = FakeVolcCodec.Parse(data);
            if (frame.Type != FakeVolcCodec.FullClientRequest || frame.Flags != 0 || frame.Serialization != 1)
            {
                Violation($"one-way: expected a JSON full-client request without event, got type {frame.Type} flags {frame.Flags}");
                await SendErrorAsync(socket, (45000000, "invalid frame"), cancellationToken);
                return;
            }

            var request = JsonNode.Parse(frame.Payload)!.AsObject();
            Record(request);
            if (TryTakeFailure(out var failure))
            {
                await SendErrorAsync(socket, failure, cancellationToken);
                return;
            }

            if (CheckTtsParams(request, needText: true) is { } problem)
            {
                Violation("one-way: " + problem);
                await SendErrorAsync(socket, (45000000, problem), cancellationToken);
                return;
            }

            Interlocked.Increment(ref _sessions);
            var sessionId = Guid.NewGuid().ToString();
            var audio = request["req_params"]!["audio_params"]!;
            var rate = audio["sample_rate"]?.GetValue<int>() ?? 24000;
            await Task.Delay(Options.TtsFirstAudio, cancellationToken);
            var position = 0;
            var frames = 0;
            if (await SpeakAsync(socket, sessionId, request["req_params"]!["text"]!.GetValue<string>(), rate, false, 0, () => ++frames, cancellationToken) is not { } samples)
            {
                return;
            }

            position += samples;
            await SendAsync(socket, FakeVolcCodec.Event(152, sessionId, """{"status_code":20000000,"message":"ok"}"""u8.ToArray()), cancellationToken);
            Interlocked.Increment(ref _sessionsFinished);
            if (Options.DropAfterEachSession)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "idle", cancellationToken);
                return;
            }
        }
    }

    /// <summary>Bidirectional V3: StartConnection, then sessions one after another; text is cut into sentences as it comes.</summary>
    private async Task BidirectionalAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var first = await ReceiveAsync(socket, cancellationToken);
        if (first is null)
        {
            return;
        }

        var start = FakeVolcCodec.Parse(first);
        if (start.Type != FakeVolcCodec.FullClientRequest || start.Flags != FakeVolcCodec.WithEvent || start.Event != 1)
        {
            Violation($"bidirectional: the first frame must be StartConnection, got event {start.Event}");
            await SendErrorAsync(socket, (45000000, "StartConnection expected"), cancellationToken);
            return;
        }

        await SendAsync(socket, FakeVolcCodec.Event(50, null, "{}"u8.ToArray(), connectId: Guid.NewGuid().ToString("N")), cancellationToken);
        string? session = null;
        var text = new StringBuilder();
        JsonObject? config = null;
        var position = 0;
        var frames = 0;
        var firstAudio = true;
        while (await ReceiveAsync(socket, cancellationToken) is { } data)
        {
            var frame = FakeVolcCodec.Parse(data);
            if (frame.Type != FakeVolcCodec.FullClientRequest || frame.Flags != FakeVolcCodec.WithEvent)
            {
                Violation($"bidirectional: a frame of type {frame.Type} flags {frame.Flags}");
                continue;
            }

            switch (frame.Event)
            {
                case 100:
                    if (session is not null)
                    {
                        Violation("bidirectional: StartSession while a session is running");
                    }

                    config = JsonNode.Parse(frame.Payload)!.AsObject();
                    Record(config);
                    if (config["event"]?.GetValue<int>() != 100 || CheckTtsParams(config, needText: false) is { } problem && Fail(problem))
                    {
                        await SendAsync(socket, FakeVolcCodec.Event(153, frame.SessionId, """{"status_code":45000000,"message":"bad StartSession"}"""u8.ToArray()), cancellationToken);
                        continue;
                    }

                    if (TryTakeFailure(out var failure))
                    {
                        Interlocked.Increment(ref _errorsSent);
                        await SendAsync(socket, FakeVolcCodec.Event(153, frame.SessionId, Json(new JsonObject { ["status_code"] = failure.Code, ["message"] = failure.Message })), cancellationToken);
                        continue;
                    }

                    session = frame.SessionId;
                    text.Clear();
                    position = 0;
                    frames = 0;
                    firstAudio = true;
                    Interlocked.Increment(ref _sessions);
                    await SendAsync(socket, FakeVolcCodec.Event(150, session, "{}"u8.ToArray()), cancellationToken);
                    break;
                case 200:
                case 102:
                    if (session is null || frame.SessionId != session)
                    {
                        Violation($"bidirectional: event {frame.Event} for session '{frame.SessionId}' while '{session}' runs");
                        continue;
                    }

                    if (frame.Event == 200)
                    {
                        var task = JsonNode.Parse(frame.Payload)!.AsObject();
                        Record(task);
                        if (task["event"]?.GetValue<int>() != 200)
                        {
                            Violation("bidirectional: TaskRequest payload without event 200");
                        }

                        text.Append(task["req_params"]?["text"]?.GetValue<string>() ?? "");
                    }

                    var cut = frame.Event == 102 ? text.Length : LastSentenceEnd(text);
                    if (cut > 0)
                    {
                        var sentence = text.ToString(0, cut);
                        text.Remove(0, cut);
                        if (firstAudio)
                        {
                            firstAudio = false;
                            await Task.Delay(Options.TtsFirstAudio, cancellationToken);
                        }

                        var rate = config!["req_params"]?["audio_params"]?["sample_rate"]?.GetValue<int>() ?? 24000;
                        var words = config["req_params"]?["audio_params"]?["enable_timestamp"]?.GetValue<bool>() == true;
                        if (await SpeakAsync(socket, session, sentence, rate, words, position, () => ++frames, cancellationToken) is not { } samples)
                        {
                            return;
                        }

                        position += samples;
                    }

                    if (frame.Event == 102)
                    {
                        await SendAsync(socket, FakeVolcCodec.Event(152, session, """{"status_code":20000000,"message":"ok"}"""u8.ToArray()), cancellationToken);
                        Interlocked.Increment(ref _sessionsFinished);
                        session = null;
                    }

                    break;
                case 101:
                    await SendAsync(socket, FakeVolcCodec.Event(151, session, "{}"u8.ToArray()), cancellationToken);
                    session = null;
                    break;
                case 2:
                    await SendAsync(socket, FakeVolcCodec.Event(52, null, """{"status_code":20000000,"message":"ok"}"""u8.ToArray(), connectId: ""), cancellationToken);
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cancellationToken);
                    return;
                default:
                    Violation($"bidirectional: unexpected event {frame.Event}");
                    break;
            }
        }

        bool Fail(string problem)
        {
            Violation("bidirectional: " + problem);
            return true;
        }
    }

    /// <summary>350, the audio in 100 ms frames (352), 351 (with words when asked); null when the connection was dropped on purpose.</summary>
    private async Task<int?> SpeakAsync(WebSocket socket, string sessionId, string text, int rate, bool words, int position, Func<int> countFrame, CancellationToken cancellationToken)
    {
        await SendAsync(socket, FakeVolcCodec.Event(350, sessionId, Json(new JsonObject { ["res_params"] = new JsonObject { ["text"] = text } })), cancellationToken);
        var total = (int)Math.Round(text.Trim().Length * Options.TtsAudioPerCharacter.TotalSeconds * rate);
        var step = rate / 10;
        for (var at = 0; at < total; at += step)
        {
            var pcm = Tone(rate, position + at, Math.Min(step, total - at));
            await SendAsync(socket, FakeVolcCodec.Event(352, sessionId, pcm), cancellationToken);
            Interlocked.Add(ref _audioBytesSent, pcm.Length);
            if (Options.DropAfterAudioFrames > 0 && countFrame() >= Options.DropAfterAudioFrames)
            {
                socket.Abort();
                return null;
            }
        }

        var end = new JsonObject { ["text"] = text };
        if (words)
        {
            var list = new JsonArray();
            var t = (double)position / rate;
            foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var d = word.Length * Options.TtsAudioPerCharacter.TotalSeconds;
                list.Add(new JsonObject { ["word"] = word, ["startTime"] = Math.Round(t, 3), ["endTime"] = Math.Round(t + d, 3), ["confidence"] = 0.9 });
                t += d + Options.TtsAudioPerCharacter.TotalSeconds; // the space
            }

            end["words"] = list;
        }

        await SendAsync(socket, FakeVolcCodec.Event(351, sessionId, Json(end)), cancellationToken);
        return total;
    }

    private static int LastSentenceEnd(StringBuilder text)
    {
        for (var i = text.Length - 1; i >= 0; i--)
        {
            if (text[i] is '.' or '!' or '?' or '。' or '！' or '？')
            {
                return i + 1;
            }
        }

        return 0;
    }

    private static string? CheckTtsParams(JsonObject request, bool needText)
    {
        if (request["user"]?["uid"] is null)
        {
            return "user.uid missing";
        }

        if (request["req_params"] is not JsonObject req)
        {
            return "req_params missing";
        }

        if (needText && string.IsNullOrEmpty(req["text"]?.GetValue<string>()))
        {
            return "req_params.text missing";
        }

        if (req["speaker"]?.GetValue<string>() is not { Length: > 0 })
        {
            return "req_params.speaker missing";
        }

        if (req["audio_params"]?["format"]?.GetValue<string>() != "pcm")
        {
            return "req_params.audio_params.format is not pcm";
        }

        return req["additions"] is { } additions && additions.GetValueKind() != JsonValueKind.String ? "req_params.additions is not a JSON string" : null;
    }

    /// <summary>The HTTP TTS: one POST per text, base64 PCM in the reply.</summary>
    private async Task HandleHttpTtsAsync(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        if (!HttpMethods.IsPost(context.Request.Method) || authorization != "Bearer;" + Options.AccessToken)
        {
            Interlocked.Increment(ref _rejected);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await context.Response.WriteAsync("""{"code":3001,"message":"authenticate request: load grant: requested grant not found"}""");
            return;
        }

        var body = await JsonNode.ParseAsync(context.Request.Body) as JsonObject;
        _headers.Enqueue(new Dictionary<string, string> { ["Authorization"] = authorization });
        if (body is null)
        {
            context.Response.StatusCode = 400;
            return;
        }

        Record(body);
        var reqid = body["request"]?["reqid"]?.GetValue<string>() ?? "";
        async Task Reply(int status, long code, string message, string? data = null)
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            var reply = new JsonObject { ["reqid"] = reqid, ["code"] = code, ["message"] = message, ["operation"] = "query", ["sequence"] = -1 };
            if (data is not null)
            {
                reply["data"] = data;
            }

            await context.Response.WriteAsync(reply.ToJsonString());
        }

        if (body["app"]?["appid"]?.GetValue<string>() != Options.AppId || body["app"]?["token"] is null || body["app"]?["cluster"] is null)
        {
            Interlocked.Increment(ref _rejected);
            await Reply(401, 3001, "invalid appid or cluster");
            return;
        }

        var text = body["request"]?["text"]?.GetValue<string>();
        if (string.IsNullOrEmpty(text) || body["request"]?["operation"]?.GetValue<string>() != "query" || reqid.Length == 0
            || body["audio"]?["voice_type"] is null || body["audio"]?["encoding"]?.GetValue<string>() != "pcm")
        {
            Violation("http: a request without text, reqid, operation query, voice_type or pcm encoding");
            await Reply(400, 3001, "invalid request");
            return;
        }

        if (TryTakeFailure(out var failure))
        {
            Interlocked.Increment(ref _errorsSent);
            await Reply(failure.Code == 3003 ? 429 : 500, failure.Code, failure.Message);
            return;
        }

        Interlocked.Increment(ref _sessions);
        await Task.Delay(Options.TtsFirstAudio, context.RequestAborted);
        var rate = body["audio"]?["rate"]?.GetValue<int>() ?? 24000;
        var pcm = Tone(rate, 0, (int)Math.Round(text.Trim().Length * Options.TtsAudioPerCharacter.TotalSeconds * rate));
        Interlocked.Add(ref _audioBytesSent, pcm.Length);
        Interlocked.Increment(ref _sessionsFinished);
        await Reply(200, 3000, "Success", Convert.ToBase64String(pcm));
    }

    /// <summary>Big-model ASR: one request per connection; partials as audio arrives, the final after the negative-sequence packet.</summary>
    private async Task AsrAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var first = await ReceiveAsync(socket, cancellationToken);
        if (first is null)
        {
            return;
        }

        var request = FakeVolcCodec.Parse(first);
        if (request.Type != FakeVolcCodec.FullClientRequest || request.Serialization != 1 || request.Compression != 1)
        {
            Violation($"asr: the first frame must be a gzip JSON full client request, got type {request.Type} compression {request.Compression}");
            await SendErrorAsync(socket, (45000001, "invalid request"), cancellationToken);
            return;
        }

        var json = JsonNode.Parse(request.Payload)!.AsObject();
        Record(json);
        var audioConfig = json["audio"];
        if (audioConfig?["format"]?.GetValue<string>() != "pcm" || audioConfig["rate"]?.GetValue<int>() != 16000 || json["request"]?["model_name"] is null)
        {
            Violation("asr: the request lacks audio pcm/16000 or request.model_name");
            await SendErrorAsync(socket, (45000001, "invalid request params"), cancellationToken);
            return;
        }

        if (TryTakeFailure(out var failure, asr: true))
        {
            await SendErrorAsync(socket, failure, cancellationToken);
            return;
        }

        Interlocked.Increment(ref _asrRequests);
        await SendAsync(socket, FakeVolcCodec.Build(FakeVolcCodec.FullServerResponse, 0b0001, 1, """{"result":{"text":""}}"""u8.ToArray(), sequence: 1, gzip: true), cancellationToken);
        var expected = request.Flags == 0b0001 ? request.Sequence + 1 : 0;
        long bytes = 0;
        var words = Options.AsrTranscript.Split(' ');
        var partials = 0;
        while (await ReceiveAsync(socket, cancellationToken) is { } data)
        {
            var frame = FakeVolcCodec.Parse(data);
            if (frame.Type != FakeVolcCodec.AudioOnlyClient)
            {
                Violation($"asr: expected audio-only requests, got type {frame.Type}");
                continue;
            }

            if (expected != 0 && Math.Abs(frame.Sequence) != expected)
            {
                Violation($"asr: sequence {frame.Sequence}, expected {expected}");
            }

            expected = Math.Abs(frame.Sequence) + 1;
            bytes += frame.Payload.Length;
            Interlocked.Add(ref _audioBytesReceived, frame.Payload.Length);
            var last = (frame.Flags & 0b0010) != 0;
            if (last)
            {
                if (frame.Flags != 0b0011 || frame.Sequence >= 0)
                {
                    Violation("asr: the last packet must carry a negative sequence (flags 0b0011)");
                }

                await Task.Delay(Options.AsrFinalDelay, cancellationToken);
                var text = bytes > 0 ? Options.AsrTranscript : "";
                var final = new JsonObject
                {
                    ["audio_info"] = new JsonObject { ["duration"] = bytes / 32 },
                    ["result"] = new JsonObject { ["text"] = text, ["utterances"] = new JsonArray(new JsonObject { ["text"] = text, ["definite"] = true }) },
                };
                await SendAsync(socket, FakeVolcCodec.Build(FakeVolcCodec.FullServerResponse, 0b0011, 1, Json(final), sequence: -expected, gzip: true), cancellationToken);
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "finished", cancellationToken);
                return;
            }

            // A partial per 200 ms of audio: a growing prefix of the transcript.
            var due = (int)(bytes / 6400);
            if (due > partials && partials < words.Length)
            {
                partials = due;
                var prefix = string.Join(' ', words.Take(Math.Min(partials, words.Length)));
                var partial = new JsonObject { ["result"] = new JsonObject { ["text"] = prefix, ["utterances"] = new JsonArray(new JsonObject { ["text"] = prefix, ["definite"] = false }) } };
                await SendAsync(socket, FakeVolcCodec.Build(FakeVolcCodec.FullServerResponse, 0b0001, 1, Json(partial), sequence: expected, gzip: true), cancellationToken);
            }
        }
    }
}
