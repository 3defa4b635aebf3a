using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Core.Text;

/// <summary>
/// <c>AdvancedConfig.LLMMetaInfo</c>: metadata is a JSON object between <paramref name="Begin"/> and
/// <paramref name="End"/> in the LLM's text (<c>[[{"action":"wave"}]]Hello</c>); <paramref name="SendKeys"/> are the keys
/// that go to the client (room Cmd 102, callback AgentInstanceMetaInfo).
/// </summary>
public sealed record MetaInfoRules(string Begin, string End, IReadOnlyList<string> SendKeys)
{
    /// <summary>The keys of <paramref name="meta"/> listed in <see cref="SendKeys"/>, or null when there are none.</summary>
    public JsonObject? Sent(JsonObject meta)
    {
        ArgumentNullException.ThrowIfNull(meta);
        JsonObject? sent = null;
        foreach (var (key, value) in meta)
        {
            if (SendKeys.Contains(key, StringComparer.Ordinal))
            {
                (sent ??= [])[key] = value?.DeepClone();
            }
        }

        return sent;
    }
}

/// <summary>
/// Takes the metadata out of streamed LLM text (token deltas; the delimiters and the JSON may be split anywhere across
/// them). <see cref="Push"/> returns the text with each complete metadata replaced by <see cref="Marker"/> (the JSON
/// object is queued, <see cref="TakeMeta"/>); text that could still become a delimiter is held back until it cannot.
/// What is between the delimiters but is not a JSON object stays in the text as written, as does an opening delimiter
/// whose end never comes (<see cref="Complete"/>). Callers feed the marked text to the <see cref="SentenceSegmenter"/>,
/// so each metadata lands in the sentence it starts, and show <see cref="StripMarkers"/> of it as subtitles.
/// </summary>
public sealed class MetaInfoExtractor(MetaInfoRules rules)
{
    /// <summary>A private-use character standing for one extracted metadata in the marked text.</summary>
    public const char Marker = '\uE000';

    /// <summary>The longest metadata (between the delimiters) taken out; longer is kept as text.</summary>
    public const int MaxMetaLength = 4096;

    private readonly StringBuilder _pending = new();
    private readonly Queue<JsonObject> _meta = new();
    private bool _inside;

    /// <summary>Adds a delta; returns the marked text that is now certain (may be empty).</summary>
    public string Push(string delta)
    {
        ArgumentNullException.ThrowIfNull(delta);
        _pending.Append(delta);
        var output = new StringBuilder();
        while (true)
        {
            var text = _pending.ToString();
            if (!_inside)
            {
                var begin = text.IndexOf(rules.Begin, StringComparison.Ordinal);
                if (begin >= 0)
                {
                    output.Append(text, 0, begin);
                    _pending.Remove(0, begin);
                    _inside = true;
                    continue;
                }

                // Keep back the longest tail that is a prefix of Begin.
                var keep = PrefixTail(text, rules.Begin);
                output.Append(text, 0, text.Length - keep);
                _pending.Remove(0, text.Length - keep);
                return output.ToString();
            }

            var end = text.IndexOf(rules.End, rules.Begin.Length, StringComparison.Ordinal);
            if (end < 0)
            {
                if (text.Length - rules.Begin.Length > MaxMetaLength)
                {
                    // Too long to be metadata: it is text.
                    output.Append(rules.Begin);
                    _pending.Remove(0, rules.Begin.Length);
                    _inside = false;
                    continue;
                }

                return output.ToString();
            }

            var body = text[rules.Begin.Length..end];
            var whole = end + rules.End.Length;
            if (Parse(body) is { } meta)
            {
                _meta.Enqueue(meta);
                output.Append(Marker);
                _pending.Remove(0, whole);
            }
            else
            {
                // Not a JSON object: the delimiters and what they enclose stay as text.
                output.Append(text, 0, whole);
                _pending.Remove(0, whole);
            }

            _inside = false;
        }
    }

    /// <summary>Ends the input: the held-back text as it was written (an unterminated metadata stays text).</summary>
    public string Complete()
    {
        var rest = _pending.ToString();
        _pending.Clear();
        _inside = false;
        return rest;
    }

    /// <summary>The next extracted metadata, in order of the markers.</summary>
    public JsonObject TakeMeta() => _meta.Dequeue();

    /// <summary>Takes the markers out of <paramref name="sentence"/> and merges their metadata (later keys win), or null when it has none.</summary>
    public JsonObject? TakeSentenceMeta(string sentence, out string text)
    {
        ArgumentNullException.ThrowIfNull(sentence);
        if (sentence.IndexOf(Marker, StringComparison.Ordinal) < 0)
        {
            text = sentence;
            return null;
        }

        JsonObject? merged = null;
        foreach (var c in sentence)
        {
            if (c == Marker && _meta.Count > 0)
            {
                var meta = _meta.Dequeue();
                if (merged is null)
                {
                    merged = meta;
                    continue;
                }

                foreach (var key in meta.Select(p => p.Key).ToList())
                {
                    var value = meta[key];
                    meta.Remove(key);
                    merged[key] = value;
                }
            }
        }

        text = StripMarkers(sentence).Trim();
        return merged;
    }

    /// <summary>The text without markers (what subtitles show).</summary>
    public static string StripMarkers(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Contains(Marker, StringComparison.Ordinal) ? text.Replace(Marker.ToString(), "", StringComparison.Ordinal) : text;
    }

    private static int PrefixTail(string text, string delimiter)
    {
        for (var n = Math.Min(delimiter.Length - 1, text.Length); n > 0; n--)
        {
            if (text.AsSpan(text.Length - n).SequenceEqual(delimiter.AsSpan(0, n)))
            {
                return n;
            }
        }

        return 0;
    }

    private static JsonObject? Parse(string body)
    {
        if (body.Length > MaxMetaLength)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(body) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
