using System.Text;
using System.Text.Json;
using Parley.Abstractions.Text;
using Parley.Rtc.Rooms;

namespace Parley.Rtc.WebSockets;

/// <summary>The control messages a client may send (the <c>Type</c> field).</summary>
internal enum RtcMessageType
{
    Unknown,
    Login,
    Publish,
    Play,
    StopPublish,
    StopPlay,
    RoomMessage,
    WebRtcOffer,
    Ping,
    Logout,
}

/// <summary>A refusal: the <c>Code</c> and <c>Message</c> of an Error or a …Result reply.</summary>
internal readonly record struct RtcRefusal(int Code, string Message);

/// <summary><c>Login</c>. <see cref="AppIdInvalid"/>: AppId was given but is not a 32-bit unsigned number.</summary>
internal sealed record LoginRequest(string? RoomId, string? UserId, string? Token, uint? AppId, bool AppIdInvalid);

/// <summary><c>Publish</c> or <c>Play</c>. <see cref="SampleRateInvalid"/>: SampleRate was given but is not an integer.</summary>
internal sealed record StreamRequest(string? StreamId, string Codec, int SampleRate, bool SampleRateInvalid);

/// <summary><c>WebRtcOffer</c>.</summary>
internal sealed record WebRtcOfferRequest(string? Sdp, string? PublishStreamId, string? PlayStreamId);

/// <summary><c>RoomMessage</c>: the client's Message object as UTF-8 JSON and its optional recipients.</summary>
internal sealed record RoomMessageRequest(byte[] Json, IReadOnlyList<string>? ToUserIds);

/// <summary>
/// The room WebSocket's wire format (docs/protocol.md): control messages read into typed requests (the handlers never
/// see JSON) and the replies written as UTF-8 JSON frames.
/// </summary>
internal static class RtcSignaling
{
    /// <summary>
    /// Reads a text frame's envelope: a JSON object with a string <c>Type</c>, no unreadable strings, no field given
    /// twice. On success the caller owns <paramref name="document"/>.
    /// </summary>
    public static RtcRefusal? TryParse(ReadOnlyMemory<byte> text, out JsonDocument? document, out RtcMessageType type, out string? typeName)
    {
        type = RtcMessageType.Unknown;
        typeName = null;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            document = null;
            return new RtcRefusal(RtcCodes.BadMessage, "text frame is not a JSON object");
        }

        var root = document.RootElement;

        // Strings that cannot be read as text (unpaired surrogate escapes) and fields given twice: answered before
        // any field is read (reading such a string or name throws, which used to end the connection).
        var problem = JsonTextCheck.Find(root);
        RtcRefusal? refusal = null;
        if (!problem.IsNone)
        {
            refusal = new RtcRefusal(RtcCodes.BadMessage, problem.Describe());
        }
        else if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("Type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
        {
            refusal = new RtcRefusal(RtcCodes.BadMessage, "a control message must be a JSON object with a string field Type");
        }
        else
        {
            typeName = typeElement.GetString();
            type = typeName switch
            {
                "Login" => RtcMessageType.Login,
                "Publish" => RtcMessageType.Publish,
                "Play" => RtcMessageType.Play,
                "StopPublish" => RtcMessageType.StopPublish,
                "StopPlay" => RtcMessageType.StopPlay,
                "RoomMessage" => RtcMessageType.RoomMessage,
                "WebRtcOffer" => RtcMessageType.WebRtcOffer,
                "Ping" => RtcMessageType.Ping,
                "Logout" => RtcMessageType.Logout,
                _ => RtcMessageType.Unknown,
            };
        }

        if (refusal is not null)
        {
            document.Dispose();
            document = null;
        }

        return refusal;
    }

    public static LoginRequest ReadLogin(JsonElement root)
    {
        uint? appId = null;
        var invalid = false;
        if (root.TryGetProperty("AppId", out var appElement) && appElement.ValueKind != JsonValueKind.Null)
        {
            if (appElement.ValueKind == JsonValueKind.Number && appElement.TryGetUInt32(out var number))
            {
                appId = number;
            }
            else if (appElement.ValueKind == JsonValueKind.String && uint.TryParse(appElement.GetString(), out var parsed))
            {
                appId = parsed;
            }
            else
            {
                invalid = true;
            }
        }

        return new LoginRequest(GetString(root, "RoomId"), GetString(root, "UserId"), GetString(root, "Token"), appId, invalid);
    }

    public static StreamRequest ReadStream(JsonElement root)
    {
        var rate = 16000;
        var invalid = false;
        if (root.TryGetProperty("SampleRate", out var rateElement) && rateElement.ValueKind != JsonValueKind.Null)
        {
            invalid = rateElement.ValueKind != JsonValueKind.Number || !rateElement.TryGetInt32(out rate);
        }

        return new StreamRequest(GetString(root, "StreamId"), GetString(root, "Codec") ?? "pcm16", rate, invalid);
    }

    public static WebRtcOfferRequest ReadWebRtcOffer(JsonElement root) =>
        new(GetString(root, "Sdp"), GetString(root, "PublishStreamId"), GetString(root, "PlayStreamId"));

    public static RoomMessageRequest? ReadRoomMessage(JsonElement root, out RtcRefusal? refusal)
    {
        refusal = null;
        if (!root.TryGetProperty("Message", out var message) || message.ValueKind != JsonValueKind.Object)
        {
            refusal = new RtcRefusal(RtcCodes.BadMessage, "RoomMessage needs a JSON object field Message");
            return null;
        }

        List<string>? targets = null;
        if (root.TryGetProperty("ToUserIds", out var to) && to.ValueKind == JsonValueKind.Array)
        {
            targets = [];
            foreach (var item in to.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    refusal = new RtcRefusal(RtcCodes.BadMessage, "ToUserIds must be an array of strings");
                    return null;
                }

                targets.Add(item.GetString()!);
            }
        }

        return new RoomMessageRequest(Encoding.UTF8.GetBytes(message.GetRawText()), targets);
    }

    // ---- replies ----------------------------------------------------------------------------------------------

    public static byte[] Error(int code, string message) =>
        Build(static (w, s) =>
        {
            w.WriteString("Type", "Error");
            w.WriteNumber("Code", s.code);
            w.WriteString("Message", s.message);
        }, (code, message));

    public static byte[] Result(string type, int code, string message, string? streamId = null) =>
        Build(static (w, s) =>
        {
            w.WriteString("Type", s.type);
            w.WriteNumber("Code", s.code);
            w.WriteString("Message", s.message);
            if (s.streamId is not null)
            {
                w.WriteString("StreamId", s.streamId);
            }
        }, (type, code, message, streamId));

    public static byte[] Pong() => Build(static (w, _) => w.WriteString("Type", "Pong"), 0);

    /// <summary>LoginResult of a login on a node that does not host the room: the client reconnects to <paramref name="redirect"/>.</summary>
    public static byte[] LoginRedirect(string roomId, Uri redirect) =>
        Build(static (w, s) =>
        {
            w.WriteString("Type", "LoginResult");
            w.WriteNumber("Code", RtcCodes.RoomOnAnotherNode);
            w.WriteString("Message", "the room lives on another node: reconnect to Redirect and log in again");
            w.WriteString("RoomId", s.roomId);
            w.WriteString("Redirect", s.redirect.ToString());
        }, (roomId, redirect));

    public static byte[] LoginResult(string roomId, IRoomParticipant participant) =>
        Build(static (w, s) =>
        {
            w.WriteString("Type", "LoginResult");
            w.WriteNumber("Code", RtcCodes.Ok);
            w.WriteString("Message", "ok");
            w.WriteString("RoomId", s.roomId);
            w.WriteString("UserId", s.participant.UserId);
            w.WriteStartArray("Streams");
            foreach (var stream in s.participant.InitialStreams)
            {
                w.WriteStartObject();
                w.WriteString("StreamId", stream.StreamId);
                w.WriteString("UserId", stream.UserId);
                if (stream.ExtraInfo.Length > 0)
                {
                    w.WriteString("ExtraInfo", stream.ExtraInfo);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("Users");
            foreach (var user in s.participant.InitialUsers)
            {
                w.WriteStartObject();
                w.WriteString("UserId", user.UserId);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }, (roomId, participant));

    public static byte[] PlayResult(string streamId, bool published) =>
        Build(static (w, s) =>
        {
            w.WriteString("Type", "PlayResult");
            w.WriteNumber("Code", RtcCodes.Ok);
            w.WriteString("Message", "ok");
            w.WriteString("StreamId", s.streamId);
            w.WriteBoolean("Published", s.published);
        }, (streamId, published));

    public static byte[] WebRtcAnswer(string sdp, string? publishId, string? playId) =>
        Build(static (w, s) =>
        {
            w.WriteString("Type", "WebRtcAnswer");
            w.WriteNumber("Code", RtcCodes.Ok);
            w.WriteString("Message", "ok");
            w.WriteString("Sdp", s.sdp);
            if (!string.IsNullOrEmpty(s.publishId))
            {
                w.WriteString("PublishStreamId", s.publishId);
            }

            if (!string.IsNullOrEmpty(s.playId))
            {
                w.WriteString("PlayStreamId", s.playId);
            }
        }, (sdp, publishId, playId));

    /// <summary>Writes one JSON object with <paramref name="write"/> filling its fields (<see cref="JsonScratch.Build"/>).</summary>
    public static byte[] Build<TState>(Action<Utf8JsonWriter, TState> write, TState state) => JsonScratch.Build(write, state);

    public static string Truncate(string? value, int max) => value is null ? "" : value.Length <= max ? value : value[..max] + "…";

    private static string? GetString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
