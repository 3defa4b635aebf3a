using System.Text.Json;
using System.Text.Json.Nodes;
using Parley.Abstractions.Text;
using Parley.Server.Api;

namespace Parley.Server.Zego;

/// <summary>
/// ZEGO's client → agent action channel (2.13, "Agent custom control"): the wire shapes, parsed and written.
/// A request is a room message to the agent's user whose JSON object is <c>{"msg_type":20,"msg_content":"…"}</c>,
/// <c>msg_content</c> a JSON string <c>{"Action","Seq","Params"}</c> (ZEGO's Web naming <c>msgType</c>/<c>msgContent</c>
/// and an object <c>msg_content</c> are read too, as is the bare envelope <c>{"Action","Seq","Params"}</c>).
/// The reply is <c>{"msg_type":22,"msg_content":"{\"Action\",\"Seq\",\"Code\",\"Message\",\"RequestId\",\"Data\"}"}</c>
/// with <c>msg_content</c> a JSON string, as ZEGO's clients parse it twice.
/// </summary>
internal static class AgentActionProtocol
{
    public const int RequestMsgType = 20;
    public const int ResponseMsgType = 22;
    public const int SeqMaxChars = 256;

    /// <summary>The actions a room client may run, as ZEGO lists them; any other is refused.</summary>
    public static readonly IReadOnlyList<string> Actions =
        ["SendAgentInstanceTTS", "SendAgentInstanceLLM", "InterruptAgentInstance", "StartListening", "StopListening"];

    private static readonly JsonSerializerOptions ContentJson = new()
    {
        PropertyNamingPolicy = null,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// Reads a room message's JSON. Null when it is not an agent action request (another msg_type, or a message that
    /// is neither shape): such messages are left alone. Otherwise a request, valid or with the error to answer.
    /// </summary>
    public static AgentActionRequest? Parse(ReadOnlyMemory<byte> json)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 32 });
            root = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        JsonElement envelope;
        if (TryGet(root, "msg_type", "msgType", out var type))
        {
            if (type.ValueKind != JsonValueKind.Number || !type.TryGetInt32(out var msgType) || msgType != RequestMsgType)
            {
                return null;
            }

            if (!TryGet(root, "msg_content", "msgContent", out var content))
            {
                return AgentActionRequest.Invalid("", "", ReturnCodes.InvalidParameter, "msg_content is required");
            }

            if (content.ValueKind == JsonValueKind.String)
            {
                try
                {
                    using var inner = JsonDocument.Parse(content.GetString()!, new JsonDocumentOptions { MaxDepth = 32 });
                    envelope = inner.RootElement.Clone();
                }
                catch (JsonException ex)
                {
                    return AgentActionRequest.Invalid("", "", ReturnCodes.JsonParseFailure, $"msg_content is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})");
                }
            }
            else
            {
                envelope = content;
            }

            if (envelope.ValueKind != JsonValueKind.Object)
            {
                return AgentActionRequest.Invalid("", "", ReturnCodes.InvalidParameter, "msg_content must be a JSON object {Action, Seq, Params}");
            }
        }
        else if (root.TryGetProperty("Action", out _))
        {
            envelope = root;
        }
        else
        {
            return null;
        }

        return ReadEnvelope(envelope);
    }

    private static AgentActionRequest ReadEnvelope(JsonElement envelope)
    {
        // Seq and Action first, so an error about the rest can still be matched to its request by the client.
        var seq = envelope.TryGetProperty("Seq", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "";
        var action = envelope.TryGetProperty("Action", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : "";

        var problem = JsonTextCheck.Find(envelope);
        if (!problem.IsNone)
        {
            return AgentActionRequest.Invalid(Clip(seq), Clip(action), ReturnCodes.InvalidParameter, problem.Describe("msg_content"));
        }

        if (!envelope.TryGetProperty("Seq", out s))
        {
            return AgentActionRequest.Invalid("", Clip(action), ReturnCodes.InvalidParameter, "Seq is required");
        }

        if (s.ValueKind != JsonValueKind.String || seq.Length == 0)
        {
            return AgentActionRequest.Invalid("", Clip(action), ReturnCodes.InvalidParameter, "Seq must be a non-empty string");
        }

        if (seq.Length > SeqMaxChars)
        {
            return AgentActionRequest.Invalid("", Clip(action), ReturnCodes.InvalidParameter, $"Seq has {seq.Length} characters; at most {SeqMaxChars} are allowed");
        }

        if (!envelope.TryGetProperty("Action", out a))
        {
            return AgentActionRequest.Invalid(seq, "", ReturnCodes.InvalidParameter, "Action is required");
        }

        if (a.ValueKind != JsonValueKind.String || !Actions.Contains(action, StringComparer.Ordinal))
        {
            var given = a.ValueKind == JsonValueKind.String ? $"'{Clip(action)}'" : "not a string";
            return AgentActionRequest.Invalid(seq, Clip(action), ReturnCodes.InvalidParameter, $"Action {given} is not an agent action (one of {string.Join(", ", Actions)})");
        }

        var parameters = envelope.TryGetProperty("Params", out var p) ? p : default;
        if (parameters.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.Object))
        {
            return AgentActionRequest.Invalid(seq, action, ReturnCodes.InvalidParameter, "Params must be an object");
        }

        return new AgentActionRequest(seq, action, parameters.ValueKind == JsonValueKind.Object ? parameters : null, 0, null);
    }

    /// <summary>
    /// The control API body for <paramref name="parameters"/>: its fields, with <c>AgentInstanceId</c> set to the
    /// instance's (a client cannot aim at another instance).
    /// </summary>
    public static RequestBody Body(JsonElement? parameters, string instanceId)
    {
        var body = new JsonObject();
        if (parameters is { } given)
        {
            foreach (var field in given.EnumerateObject())
            {
                if (field.Name != "AgentInstanceId")
                {
                    body[field.Name] = JsonNode.Parse(field.Value.GetRawText());
                }
            }
        }

        body["AgentInstanceId"] = instanceId;
        using var document = JsonDocument.Parse(body.ToJsonString());
        return new RequestBody(document.RootElement.Clone());
    }

    /// <summary>The reply message's JSON object: <c>msg_type</c> 22 and <c>msg_content</c> as a JSON string.</summary>
    public static byte[] Reply(string action, string seq, int code, string message, string requestId, object? data)
    {
        var content = new JsonObject
        {
            ["Action"] = action,
            ["Seq"] = seq,
            ["Code"] = code,
            ["Message"] = message,
            ["RequestId"] = requestId,
        };
        if (data is not null)
        {
            content["Data"] = JsonSerializer.SerializeToNode(data, data.GetType(), ContentJson);
        }

        var reply = new JsonObject
        {
            ["msg_type"] = ResponseMsgType,
            ["msg_content"] = content.ToJsonString(ContentJson),
        };
        return JsonSerializer.SerializeToUtf8Bytes(reply, ContentJson);
    }

    private static bool TryGet(JsonElement root, string name, string webName, out JsonElement value) =>
        root.TryGetProperty(name, out value) || root.TryGetProperty(webName, out value);

    private static string Clip(string text) => text.Length <= 64 ? text : text[..64];
}

/// <summary>One parsed request: valid (<see cref="ErrorCode"/> 0) or the error to answer.</summary>
/// <param name="Seq">The client's Seq, returned as is ("" when unreadable).</param>
/// <param name="Action">The action ("" when unreadable).</param>
/// <param name="Params">The <c>Params</c> object, or null when absent.</param>
/// <param name="ErrorCode">0, or the code to answer with.</param>
/// <param name="ErrorMessage">The message for <paramref name="ErrorCode"/>, naming the field.</param>
internal sealed record AgentActionRequest(string Seq, string Action, JsonElement? Params, int ErrorCode, string? ErrorMessage)
{
    public static AgentActionRequest Invalid(string seq, string action, int code, string message) => new(seq, action, null, code, message);
}
