using System.Text;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using Parley.Server.Api;
using Parley.Testing;

namespace Parley.Server.Tests.Api;

/// <summary>
/// Bodies that JSON parsers accept but that must not reach a handler: repeated field names (a validator reads one
/// value, a later reader another), unpaired surrogate escapes and bytes that are not UTF-8 (strings that cannot be read).
/// </summary>
public sealed class BodyTextTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Llm = """{"Url":"http://127.0.0.1:9/v1/chat/completions","Model":"m"}""";
    private const string Tts = """{"Vendor":"Local"}""";

    private static string NewId() => "agent_" + Guid.NewGuid().ToString("N")[..12];

    public static TheoryData<string, string> Duplicates => new()
    {
        // The issue's case: a validated value and a later one that a reader after the validator would take.
        { """{"AgentId":"ID","LLM":{"Url":"file:///etc/passwd","Url":"http://127.0.0.1:9/v1/chat/completions","Model":"m"},"TTS":{"Vendor":"Local"}}""", "LLM.Url is given twice" },
        { """{"AgentId":"ID","AgentId":"other","LLM":LLMX,"TTS":TTSX}""", "AgentId is given twice" },
        { """{"AgentId":"ID","LLM":{"Url":"http://127.0.0.1:9/v1/chat/completions","Model":"m","Params":{"max_tokens":1,"max_tokens":2}},"TTS":TTSX}""", "LLM.Params.max_tokens is given twice" },
        { """{"AgentId":"ID","LLM":LLMX,"TTS":{"Vendor":"Local","FilterText":[{"BeginCharacters":"(","EndCharacters":")","EndCharacters":"]"}]}}""", "TTS.FilterText[0].EndCharacters is given twice" },
        // The same name spelled with an escape is the same field.
        { """{"AgentId":"ID","LLM":{"Url":"http://127.0.0.1:9/v1/chat/completions","\u0055rl":"http://127.0.0.1:9/x","Model":"m"},"TTS":TTSX}""", "LLM.Url is given twice" },
        { """{"AgentId":"ID","LLM":LLMX,"TTS":TTSX,"LLM":{"Url":"http://127.0.0.1:9/x","Model":"m"}}""", "LLM is given twice" },
    };

    [Theory]
    [MemberData(nameof(Duplicates))]
    public async Task Register_WithARepeatedField_IsRefusedNamingItsPath_AndNothingIsStored(string template, string message)
    {
        var api = fixture.Api();
        var id = NewId();
        var body = template.Replace("ID", id, StringComparison.Ordinal).Replace("LLMX", Llm, StringComparison.Ordinal).Replace("TTSX", Tts, StringComparison.Ordinal);

        var reply = await api.SendAsync(api.Query("RegisterAgent"), body);

        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.Equal(message, reply.Message());
        Assert.Equal(0, (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents").GetArrayLength());
    }

    [Fact]
    public async Task Update_WithARepeatedField_IsRefused_AndTheStoredAgentIsUnchanged()
    {
        var api = fixture.Api();
        var id = NewId();
        Assert.Equal(0, (await api.SendAsync(api.Query("RegisterAgent"), $$"""{"AgentId":"{{id}}","LLM":{{Llm}},"TTS":{{Tts}}}""")).Code());

        var reply = await api.SendAsync(api.Query("UpdateAgent"), $$$"""{"AgentId":"{{{id}}}","LLM":{"Model":"a","Model":"b"}}""");

        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.Equal("LLM.Model is given twice", reply.Message());
        var llm = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents")[0].GetProperty("LLM");
        Assert.Equal("m", llm.GetProperty("Model").GetString());
    }

    public static TheoryData<string, string> LoneSurrogates => new()
    {
        { """{"AgentId":"\ud800"}""", "AgentId" },
        { """{"AgentId":"a\udc00b"}""", "AgentId" },
        { """{"AgentId":"\ud83d\u0041"}""", "AgentId" },
        { """{"AgentId":"ok","Extra":{"Deep":["x","\udfff"]}}""", "Extra.Deep[1]" },
    };

    [Theory]
    [MemberData(nameof(LoneSurrogates))]
    public async Task UnpairedSurrogateEscape_InAnyString_IsInvalidParameterNamingTheField(string body, string field)
    {
        var api = fixture.Api();

        var reply = await api.SendAsync(api.Query("UnregisterAgent"), body);

        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.StartsWith(field + " contains an unpaired surrogate escape", reply.Message(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnpairedSurrogateEscape_InAFieldName_IsInvalidParameterNamingTheObject()
    {
        var api = fixture.Api();

        var reply = await api.SendAsync(api.Query("UnregisterAgent"), """{"AgentId":"ok","LLM":{"\ud800":1}}""");

        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.StartsWith("a field name in LLM contains an unpaired surrogate escape", reply.Message(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_UnpairedSurrogate_InAFieldNoValidatorReads_IsRefused_NotStored()
    {
        var api = fixture.Api();
        var id = NewId();

        var reply = await api.SendAsync(api.Query("RegisterAgent"), $$$"""{"AgentId":"{{{id}}}","LLM":{"Url":"http://127.0.0.1:9/v1/chat/completions","Model":"m","Params":{"stop":"\ud800"}},"TTS":{{{Tts}}}}""");

        Assert.Equal(ReturnCodes.InvalidParameter, reply.Code());
        Assert.StartsWith("LLM.Params.stop contains an unpaired surrogate escape", reply.Message(), StringComparison.Ordinal);
        Assert.Equal(0, (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents").GetArrayLength());
    }

    [Fact]
    public async Task SurrogatePairEscapes_AndRawUtf8Emoji_AreAccepted()
    {
        var api = fixture.Api();
        var id = NewId();

        var reply = await api.SendAsync(api.Query("RegisterAgent"), $$"""{"AgentId":"{{id}}","Name":"smile \ud83d\ude00 and 😀","LLM":{{Llm}},"TTS":{{Tts}}}""");

        Assert.Equal(0, reply.Code());
        var agent = (await api.CallAsync("QueryAgents", new { AgentIds = new[] { id } })).Data().GetProperty("Agents")[0];
        Assert.Equal("smile 😀 and 😀", agent.GetProperty("Name").GetString());
    }

    public static TheoryData<string, string> InvalidUtf8 => new()
    {
        { "C3 28", "lone lead byte" },
        { "FF", "byte never used in UTF-8" },
        { "80", "lone continuation byte" },
        { "C0 AF", "overlong '/'" },
        { "E0 80 AF", "overlong three-byte '/'" },
        { "ED A0 80", "encoded surrogate U+D800" },
        { "F4 90 80 80", "above U+10FFFF" },
        { "F0 9F 98", "truncated four-byte sequence" },
    };

    [Theory]
    [MemberData(nameof(InvalidUtf8))]
    public async Task InvalidUtf8_InAString_IsJsonParseFailureNamingTheField(string hex, string what)
    {
        var api = fixture.Api();
        var body = Bytes("""{"AgentId":"a""", hex, "\"}");

        var reply = await api.SendBytesAsync(api.Query("UnregisterAgent"), body);

        Assert.True(reply.Code() == ReturnCodes.JsonParseFailure, $"{what}: {reply.Code()} {reply.Message()}");
        Assert.Equal("request body is not valid JSON: AgentId is not valid UTF-8", reply.Message());
    }

    [Fact]
    public async Task InvalidUtf8_InAFieldName_IsJsonParseFailure()
    {
        var api = fixture.Api();

        var reply = await api.SendBytesAsync(api.Query("UnregisterAgent"), Bytes("""{"AgentId":"x","LLM":{"U""", "C0 AF", "\":1}}"));

        Assert.Equal(ReturnCodes.JsonParseFailure, reply.Code());
        Assert.Equal("request body is not valid JSON: a field name in LLM is not valid UTF-8", reply.Message());
    }

    /// <summary>UTF-8 of <paramref name="before"/>, the bytes in <paramref name="hex"/>, then UTF-8 of <paramref name="after"/>.</summary>
    internal static byte[] Bytes(string before, string hex, string after) =>
        [.. Encoding.UTF8.GetBytes(before), .. Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)), .. Encoding.UTF8.GetBytes(after)];
}

/// <summary>
/// A small fuzz over every action: bodies with bytes that are not UTF-8, overlong encodings, unpaired surrogate
/// escapes and repeated fields at several depths, each in the fields the actions read. Every reply must be an HTTP
/// 200 envelope with a contract code other than 410000001 (system error), and the server logs no exception.
/// </summary>
public sealed class BodyFuzzTests
{
    private static readonly string[] BadUtf8 = ["C3 28", "FF", "80", "C0 AF", "E0 80 AF", "ED A0 80", "ED BF BF", "F4 90 80 80", "F0 9F 98", "F8 88 80 80 80"];

    private static readonly string[] BadEscapes = [@"\ud800", @"\udfff", @"x\ud83d", @"\ud800\u0041", @"\udc00\ud800", @"\ud83d\ud83d", @"\ud83dA"];

    /// <summary>Bodies in which <c>@@</c> marks where a bad string goes: in every field some action reads.</summary>
    private static readonly string[] Shapes =
    [
        """{"AgentId":"@@"}""",
        """{"AgentInstanceId":"@@"}""",
        """{"AgentId":"a1","UserId":"@@","RTC":{"RoomId":"r","AgentStreamId":"s","AgentUserId":"u","UserStreamId":"us"}}""",
        """{"AgentId":"a1","UserId":"u1","RTC":{"RoomId":"@@","AgentStreamId":"s","AgentUserId":"u","UserStreamId":"us"}}""",
        """{"AgentId":"a1","LLM":{"Url":"@@","Model":"m"},"TTS":{"Vendor":"Local"}}""",
        """{"AgentId":"a1","LLM":{"Url":"http://127.0.0.1:9/v1","Model":"m","SystemPrompt":"@@"},"TTS":{"Vendor":"Local","Params":{"voice":"@@"}}}""",
        """{"AgentInstanceId":"1","Text":"@@"}""",
        """{"AgentIds":["a","@@"]}""",
        """{"Cursor":"@@","Limit":3}""",
        """{"AgentId":"a1","MessageHistory":{"SyncMode":1,"Messages":[{"Role":"user","Content":"@@"}]}}""",
        """{"@@":1}""",
    ];

    private static readonly string[] Duplicates =
    [
        """{"AgentId":"a","AgentId":"b"}""",
        """{"AgentInstanceId":"1","AgentInstanceId":"2"}""",
        """{"AgentId":"a1","LLM":{"Url":"file:///etc/passwd","Url":"http://127.0.0.1:9/v1","Model":"m"},"TTS":{"Vendor":"Local"}}""",
        """{"AgentId":"a1","TTS":{"Vendor":"Local","Params":{"voice":"kal","voice":"nope"}}}""",
        """{"AgentId":"a1","UserId":"u","RTC":{"RoomId":"r","RoomId":"r2","AgentStreamId":"s","AgentUserId":"u","UserStreamId":"us"}}""",
        """{"AgentId":"a1","MessageHistory":{"Messages":[{"Role":"user","Role":"assistant","Content":"c"}]}}""",
        """{"AgentIds":["a"],"AgentIds":["b"]}""",
        """{"A":{"B":{"C":{"D":[{"E":1,"E":2}]}}}}""",
    ];

    public static IEnumerable<byte[]> Corpus()
    {
        foreach (var shape in Shapes)
        {
            var at = shape.IndexOf("@@", StringComparison.Ordinal);
            foreach (var hex in BadUtf8)
            {
                yield return BodyTextTests.Bytes(shape[..at] + "ok", hex, shape[(at + 2)..].Replace("@@", "ok", StringComparison.Ordinal));
            }

            foreach (var escape in BadEscapes)
            {
                yield return Encoding.UTF8.GetBytes(shape.Replace("@@", escape, StringComparison.Ordinal));
            }
        }

        foreach (var duplicate in Duplicates)
        {
            yield return Encoding.UTF8.GetBytes(duplicate);
        }
    }

    [Fact]
    public async Task EveryAction_AnswersEveryBadBody_WithAnEnvelope_NeverASystemError_AndLogsNoException()
    {
        var logs = new CapturedLogs();
        var app = new TestApp(1000999, "e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4");
        await using var server = await ParleyTestServer.StartAsync([app], new Dictionary<string, string?> { ["Parley:RateLimitPerSecond"] = "0" }, logs.AddTo);
        var api = new RawApi(server.CreateHttpClient(), app);
        Assert.Equal(0, (await api.CallAsync("RegisterAgent", new { AgentId = "a1", LLM = new { Url = "http://127.0.0.1:9/v1/chat/completions", Model = "m" }, TTS = new { Vendor = "Local" } })).Code());
        var actions = server.Services.GetRequiredService<ActionRegistry>().Actions.Order(StringComparer.Ordinal).ToList();
        Assert.Equal(19, actions.Count(a => !a.StartsWith("Parley", StringComparison.Ordinal))); // ZEGO's 19 actions (an OpenAPI file each in zego-docs), and Parley's own extensions
        var corpus = Corpus().ToList();

        var failures = new List<string>();
        var codes = new Dictionary<int, int>();
        foreach (var action in actions)
        {
            foreach (var body in corpus)
            {
                var (status, text) = await api.PostAsync(api.Query(action), body);
                int? code = null;
                try
                {
                    using var envelope = JsonDocument.Parse(text);
                    code = envelope.RootElement.GetProperty("Code").GetInt32();
                    _ = envelope.RootElement.GetProperty("RequestId").GetString();
                    _ = envelope.RootElement.GetProperty("Message").GetString();
                }
                catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
                {
                }

                if (status != 200 || code is null or ReturnCodes.SystemError or 0)
                {
                    failures.Add($"{action} {Convert.ToHexString(body)} → HTTP {status} {text}");
                }

                if (code is { } c)
                {
                    codes[c] = codes.GetValueOrDefault(c) + 1;
                }
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {actions.Count * corpus.Count} bad bodies were not refused with a contract code:\n{string.Join("\n", failures.Take(20))}");
        Assert.Equal(new[] { ReturnCodes.InvalidParameter, ReturnCodes.JsonParseFailure }, codes.Keys.Order());
        Assert.Empty(logs.WithExceptions);
    }
}
