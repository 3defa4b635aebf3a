using System.Text.Json;

namespace Parley.Providers.DashScope;

/// <summary>One JSON event from the server (<c>header.event</c>), with the fields the vendors read.</summary>
internal sealed class DashScopeEvent
{
    public const string TaskStarted = "task-started";
    public const string ResultGenerated = "result-generated";
    public const string TaskFinished = "task-finished";
    public const string TaskFailed = "task-failed";

    public string Name { get; private init; } = "";

    public string? TaskId { get; private init; }

    public string? ErrorCode { get; private init; }

    public string? ErrorMessage { get; private init; }

    /// <summary><c>payload.output.sentence.text</c> (ASR results), null when absent.</summary>
    public string? SentenceText { get; private init; }

    /// <summary><c>payload.output.sentence.sentence_end</c>.</summary>
    public bool SentenceEnd { get; private init; }

    /// <summary><c>payload.output.sentence.heartbeat</c>: a keep-alive result to skip.</summary>
    public bool Heartbeat { get; private init; }

    public static DashScopeEvent Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("header", out var header) || header.ValueKind != JsonValueKind.Object)
        {
            throw new DashScopeException("DashScope sent a message without a header object.");
        }

        string? sentenceText = null;
        var sentenceEnd = false;
        var heartbeat = false;
        if (root.TryGetProperty("payload", out var payload) && payload.ValueKind == JsonValueKind.Object
            && payload.TryGetProperty("output", out var output) && output.ValueKind == JsonValueKind.Object
            && output.TryGetProperty("sentence", out var sentence) && sentence.ValueKind == JsonValueKind.Object)
        {
            sentenceText = String(sentence, "text");
            sentenceEnd = Bool(sentence, "sentence_end");
            heartbeat = Bool(sentence, "heartbeat");
        }

        return new DashScopeEvent
        {
            Name = String(header, "event") ?? "",
            TaskId = String(header, "task_id"),
            ErrorCode = String(header, "error_code"),
            ErrorMessage = String(header, "error_message"),
            SentenceText = sentenceText,
            SentenceEnd = sentenceEnd,
            Heartbeat = heartbeat,
        };
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static bool Bool(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
}
