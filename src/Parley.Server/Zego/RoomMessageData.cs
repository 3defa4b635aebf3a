using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Rtc.Rooms;

namespace Parley.Server.Zego;

/// <summary>
/// The <c>Data</c> of one in-room message as ZEGO's clients parse it (spec 8.3), written straight as JSON: subtitles
/// and states go out many times a second per room, and building JSON nodes for each was a tenth of what a talking
/// session allocated. The shapes and field orders are those of <see cref="RoomMessageMapper"/>'s Cmds.
/// </summary>
public readonly struct RoomMessageData : IRoomMessageData
{
    private enum Shape : byte
    {
        Empty,
        Text,
        Status,
        SpeakStatus,
        UserSpeakStatus,
        Node,
    }

    private readonly Shape _shape;
    private readonly string? _text;
    private readonly string? _messageId;
    private readonly long _messageRound;
    private readonly string? _userId;
    private readonly bool _start;
    private readonly bool _end;
    private readonly int _status;
    private readonly int _oldStatus;
    private readonly string? _reason;
    private readonly JsonObject? _node;

    private RoomMessageData(
        Shape shape, string? text = null, string? messageId = null, long messageRound = 0, string? userId = null, bool start = false, bool end = false,
        int status = 0, int oldStatus = 0, string? reason = null, JsonObject? node = null)
    {
        _shape = shape;
        _text = text;
        _messageId = messageId;
        _messageRound = messageRound;
        _userId = userId;
        _start = start;
        _end = end;
        _status = status;
        _oldStatus = oldStatus;
        _reason = reason;
        _node = node;
    }

    /// <summary>Cmd 3 (the user's transcript): <c>Text, MessageId, UserId, StartFlag, EndFlag</c>.</summary>
    public static RoomMessageData Transcript(string text, string messageId, string userId, bool start, bool end) =>
        new(Shape.Text, text, messageId, userId: userId, start: start, end: end);

    /// <summary>Cmd 4 (the agent's text): as Cmd 3, the MessageId being the reply's round (written as a string).</summary>
    public static RoomMessageData AgentText(string text, long round, string userId, bool start, bool end) =>
        new(Shape.Text, text, messageRound: round, userId: userId, start: start, end: end);

    /// <summary>Cmd 6: <c>Status, OldStatus, Reason</c>.</summary>
    public static RoomMessageData Status(int status, int oldStatus, string reason) => new(Shape.Status, status: status, oldStatus: oldStatus, reason: reason);

    /// <summary>Cmd 2: <c>SpeakStatus</c>.</summary>
    public static RoomMessageData SpeakStatus(int speakStatus) => new(Shape.SpeakStatus, status: speakStatus);

    /// <summary>Cmd 1: <c>SpeakStatus, UserId</c>.</summary>
    public static RoomMessageData UserSpeakStatus(int speakStatus, string userId) => new(Shape.UserSpeakStatus, status: speakStatus, userId: userId);

    /// <summary>A JSON object as it is (Cmd 102's metadata); the caller gives up the node.</summary>
    public static RoomMessageData Object(JsonObject node) => new(Shape.Node, node: node);

    public void WriteTo(Utf8JsonWriter writer)
    {
        if (_shape == Shape.Node)
        {
            _node!.WriteTo(writer);
            return;
        }

        writer.WriteStartObject();
        switch (_shape)
        {
            case Shape.Text:
                writer.WriteString("Text", _text);
                if (_messageId is not null)
                {
                    writer.WriteString("MessageId", _messageId);
                }
                else
                {
                    Span<char> digits = stackalloc char[20];
                    _messageRound.TryFormat(digits, out var n, provider: CultureInfo.InvariantCulture);
                    writer.WriteString("MessageId", digits[..n]);
                }

                writer.WriteString("UserId", _userId);
                writer.WriteBoolean("StartFlag", _start);
                writer.WriteBoolean("EndFlag", _end);
                break;
            case Shape.Status:
                writer.WriteNumber("Status", _status);
                writer.WriteNumber("OldStatus", _oldStatus);
                writer.WriteString("Reason", _reason);
                break;
            case Shape.SpeakStatus:
                writer.WriteNumber("SpeakStatus", _status);
                break;
            case Shape.UserSpeakStatus:
                writer.WriteNumber("SpeakStatus", _status);
                writer.WriteString("UserId", _userId);
                break;
        }

        writer.WriteEndObject();
    }

    /// <summary>The JSON text (tests, diagnostics).</summary>
    public string ToJsonString()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteTo(writer);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
