using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;

namespace Parley.Abstractions.Text;

/// <summary>What is wrong with a parsed JSON document that <see cref="JsonDocument"/> itself accepts.</summary>
public enum JsonTextProblemKind
{
    None = 0,

    /// <summary>A string or field name holds bytes that are not UTF-8 (RFC 8259 §8.1), e.g. an overlong encoding.</summary>
    InvalidUtf8,

    /// <summary>A string or field name holds a <c>\uD800</c>–<c>\uDFFF</c> escape that is not half of a pair (RFC 8259 §8.2).</summary>
    LoneSurrogate,

    /// <summary>An object gives the same field name twice (RFC 8259 §4: names SHOULD be unique; Parley requires it).</summary>
    DuplicateName,
}

/// <summary>
/// The first problem found, with the path of the value it is in (<c>LLM.Url</c>, <c>MessageHistory.Messages[0].Role</c>).
/// For a problem in a field name, <see cref="Path"/> is the object holding it and <see cref="InName"/> is true;
/// for a duplicate, <see cref="Path"/> names the repeated field.
/// </summary>
public readonly record struct JsonTextProblem(JsonTextProblemKind Kind, string Path, bool InName)
{
    public bool IsNone => Kind == JsonTextProblemKind.None;

    /// <summary>A sentence for the caller, e.g. <c>LLM.Url is given twice</c>; <paramref name="root"/> names the document itself.</summary>
    public string Describe(string root = "the message")
    {
        var where = string.IsNullOrEmpty(Path) ? root : Path;
        return (Kind, InName) switch
        {
            (JsonTextProblemKind.DuplicateName, _) => $"{where} is given twice",
            (JsonTextProblemKind.InvalidUtf8, true) => $"a field name in {where} is not valid UTF-8",
            (JsonTextProblemKind.InvalidUtf8, false) => $"{where} is not valid UTF-8",
            (JsonTextProblemKind.LoneSurrogate, true) => $"a field name in {where} contains an unpaired surrogate escape (\\uD800-\\uDFFF)",
            (JsonTextProblemKind.LoneSurrogate, false) => $"{where} contains an unpaired surrogate escape (\\uD800-\\uDFFF)",
            _ => "no problem",
        };
    }
}

/// <summary>
/// Checks what <see cref="JsonDocument"/> lets through: every string and field name is valid UTF-8 without unpaired
/// surrogate escapes (so <see cref="JsonElement.GetString"/> cannot throw later), and no object repeats a field name
/// (so no validator reads one value while a later reader takes another). One pass over the document's raw bytes:
/// nothing is allocated for a valid document unless an object has more than <see cref="PairwiseLimit"/> fields.
/// </summary>
public static class JsonTextCheck
{
    /// <summary>Objects with at most this many fields are checked for duplicates pairwise (no allocation).</summary>
    public const int PairwiseLimit = 16;

    /// <summary>The first problem in <paramref name="root"/>, or <see cref="JsonTextProblem.IsNone"/>.</summary>
    public static JsonTextProblem Find(JsonElement root)
    {
        var kind = Check(root, out var path, out var inName);
        return kind == JsonTextProblemKind.None ? default : new JsonTextProblem(kind, path ?? "", inName);
    }

    /// <summary>
    /// Checks <paramref name="element"/>; on a problem, <paramref name="path"/> is its path relative to the element
    /// (built only then, while returning).
    /// </summary>
    private static JsonTextProblemKind Check(JsonElement element, out string? path, out bool inName)
    {
        path = null;
        inName = false;
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                // The raw value includes the quotes.
                var raw = JsonMarshal.GetRawUtf8Value(element);
                return CheckText(raw[1..^1]);

            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    var kind = Check(item, out var inner, out inName);
                    if (kind != JsonTextProblemKind.None)
                    {
                        path = $"[{index}]{(inner is null ? "" : inner.StartsWith('[') ? inner : "." + inner)}";
                        return kind;
                    }

                    index++;
                }

                return JsonTextProblemKind.None;

            case JsonValueKind.Object:
                return CheckObject(element, out path, out inName);

            default:
                return JsonTextProblemKind.None;
        }
    }

    private static JsonTextProblemKind CheckObject(JsonElement element, out string? path, out bool inName)
    {
        path = null;
        inName = false;
        var count = 0;
        foreach (var property in element.EnumerateObject())
        {
            var kind = CheckText(JsonMarshal.GetRawUtf8PropertyName(property));
            if (kind != JsonTextProblemKind.None)
            {
                inName = true;
                return kind;
            }

            count++;
        }

        if (count > 1 && FindDuplicate(element, count) is { } duplicate)
        {
            path = Segment(duplicate);
            return JsonTextProblemKind.DuplicateName;
        }

        foreach (var property in element.EnumerateObject())
        {
            var kind = Check(property.Value, out var inner, out inName);
            if (kind != JsonTextProblemKind.None)
            {
                var name = Segment(property.Name);
                path = inner is null ? name : inner.StartsWith('[') ? name + inner : $"{name}.{inner}";
                return kind;
            }
        }

        return JsonTextProblemKind.None;
    }

    /// <summary>The name given twice in an object of <paramref name="count"/> fields (names already checked), or null.</summary>
    private static string? FindDuplicate(JsonElement element, int count)
    {
        if (count > PairwiseLimit)
        {
            var names = new HashSet<string>(count, StringComparer.Ordinal);
            foreach (var property in element.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    return property.Name;
                }
            }

            return null;
        }

        var later = 0;
        foreach (var candidate in element.EnumerateObject())
        {
            var candidateRaw = JsonMarshal.GetRawUtf8PropertyName(candidate);
            var earlier = 0;
            foreach (var previous in element.EnumerateObject())
            {
                if (earlier++ == later)
                {
                    break;
                }

                if (SameName(previous, JsonMarshal.GetRawUtf8PropertyName(previous), candidate, candidateRaw))
                {
                    return candidate.Name;
                }
            }

            later++;
        }

        return null;
    }

    /// <summary>Compares two field names as text: <c>"Url"</c> and <c>"\u0055rl"</c> are the same name.</summary>
    private static bool SameName(JsonProperty a, ReadOnlySpan<byte> aRaw, JsonProperty b, ReadOnlySpan<byte> bRaw)
    {
        var aEscaped = aRaw.IndexOf((byte)'\\') >= 0;
        var bEscaped = bRaw.IndexOf((byte)'\\') >= 0;
        return (aEscaped, bEscaped) switch
        {
            (false, false) => aRaw.SequenceEqual(bRaw),
            (false, true) => b.NameEquals(aRaw),
            (true, false) => a.NameEquals(bRaw),
            _ => string.Equals(a.Name, b.Name, StringComparison.Ordinal),
        };
    }

    /// <summary>Checks the raw (still escaped) UTF-8 of a string or field name.</summary>
    private static JsonTextProblemKind CheckText(ReadOnlySpan<byte> raw)
    {
        if (!Utf8.IsValid(raw))
        {
            return JsonTextProblemKind.InvalidUtf8;
        }

        var escape = raw.IndexOf((byte)'\\');
        if (escape < 0)
        {
            return JsonTextProblemKind.None;
        }

        // The document has already checked the escape syntax: after '\' comes one of "\/bfnrt or u and 4 hex digits.
        var pendingHigh = false;
        for (var i = escape; i < raw.Length; i++)
        {
            if (raw[i] != (byte)'\\')
            {
                if (pendingHigh)
                {
                    return JsonTextProblemKind.LoneSurrogate;
                }

                continue;
            }

            if (raw[i + 1] != (byte)'u')
            {
                if (pendingHigh)
                {
                    return JsonTextProblemKind.LoneSurrogate;
                }

                i++;
                continue;
            }

            Utf8Parser.TryParse(raw.Slice(i + 2, 4), out ushort unit, out _, 'X');
            i += 5;
            if (unit is >= 0xD800 and <= 0xDBFF)
            {
                if (pendingHigh)
                {
                    return JsonTextProblemKind.LoneSurrogate;
                }

                pendingHigh = true;
            }
            else if (unit is >= 0xDC00 and <= 0xDFFF)
            {
                if (!pendingHigh)
                {
                    return JsonTextProblemKind.LoneSurrogate;
                }

                pendingHigh = false;
            }
            else if (pendingHigh)
            {
                return JsonTextProblemKind.LoneSurrogate;
            }
        }

        return pendingHigh ? JsonTextProblemKind.LoneSurrogate : JsonTextProblemKind.None;
    }

    /// <summary>A field name as a path segment; very long names are cut (the message is for people).</summary>
    private static string Segment(string name) => name.Length <= 64 ? name : name[..64] + "…";
}
