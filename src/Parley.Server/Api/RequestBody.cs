using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Server.Api;

/// <summary>
/// Typed, validating access to a JSON request body (or a nested object of it). Every failure throws
/// <see cref="ApiException"/> with code 410000003 and a message naming the field by its full path
/// (e.g. <c>RTC.RoomId</c>). JSON <c>null</c> is treated as absent, as ZEGO's sample sends <c>"LLM": null</c>.
/// </summary>
public sealed class RequestBody
{
    private readonly JsonElement _element;
    private readonly string _path;

    public RequestBody(JsonElement element, string path = "")
    {
        _element = element;
        _path = path;
    }

    public JsonElement Element => _element;

    public string FieldPath(string name) => _path.Length == 0 ? name : $"{_path}.{name}";

    /// <summary>True when the field is present and not JSON null.</summary>
    public bool Has(string name) =>
        _element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null;

    public string RequiredString(string name, int maxBytes = int.MaxValue, IdCharset charset = IdCharset.Any)
        => OptionalString(name, maxBytes, charset) is { Length: > 0 } value
            ? value
            : throw ApiException.InvalidParameter($"{FieldPath(name)} is required");

    public string? OptionalString(string name, int maxBytes = int.MaxValue, IdCharset charset = IdCharset.Any)
    {
        if (!_element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw ApiException.InvalidParameter($"{FieldPath(name)} must be a string");
        }

        var text = value.GetString()!;
        if (Encoding.UTF8.GetByteCount(text) > maxBytes)
        {
            throw ApiException.InvalidParameter($"{FieldPath(name)} is longer than {maxBytes} bytes");
        }

        if (!IdCharsets.IsValid(text, charset))
        {
            throw ApiException.InvalidParameter($"{FieldPath(name)} contains characters outside {IdCharsets.Describe(charset)}");
        }

        return text;
    }

    public bool? OptionalBool(string name)
    {
        if (!_element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiException.InvalidParameter($"{FieldPath(name)} must be a boolean"),
        };
    }

    public long? OptionalInteger(string name, long min = long.MinValue, long max = long.MaxValue)
    {
        if (!_element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
        {
            throw ApiException.InvalidParameter($"{FieldPath(name)} must be an integer");
        }

        if (number < min || number > max)
        {
            throw ApiException.InvalidParameter($"{FieldPath(name)} must be between {min} and {max}");
        }

        return number;
    }

    public double? OptionalNumber(string name, double min = double.MinValue, double max = double.MaxValue)
    {
        if (!_element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number))
        {
            throw ApiException.InvalidParameter($"{FieldPath(name)} must be a number");
        }

        if (number < min || number > max)
        {
            throw ApiException.InvalidParameter($"{FieldPath(name)} must be between {min} and {max}");
        }

        return number;
    }

    /// <summary>A nested object, or null when absent or JSON null.</summary>
    public RequestBody? OptionalObject(string name)
    {
        if (!_element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.InvalidParameter($"{FieldPath(name)} must be an object");
        }

        return new RequestBody(value, FieldPath(name));
    }

    public RequestBody RequiredObject(string name) =>
        OptionalObject(name) ?? throw ApiException.InvalidParameter($"{FieldPath(name)} is required");

    /// <summary>A nested array's items (each may be validated further by the caller), or null when absent.</summary>
    public IReadOnlyList<RequestBody>? OptionalArray(string name, int maxItems = int.MaxValue)
    {
        if (!_element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.InvalidParameter($"{FieldPath(name)} must be an array");
        }

        var length = value.GetArrayLength();
        if (length > maxItems)
        {
            throw ApiException.InvalidParameter($"{FieldPath(name)} has {length} items; at most {maxItems} are allowed");
        }

        var items = new List<RequestBody>(length);
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            items.Add(new RequestBody(item, $"{FieldPath(name)}[{index++}]"));
        }

        return items;
    }

    /// <summary>This element as a string (for arrays of strings); validates like <see cref="RequiredString"/>.</summary>
    public string AsString(int maxBytes = int.MaxValue, IdCharset charset = IdCharset.Any)
    {
        if (_element.ValueKind != JsonValueKind.String)
        {
            throw ApiException.InvalidParameter($"{_path} must be a string");
        }

        var text = _element.GetString()!;
        if (text.Length == 0)
        {
            throw ApiException.InvalidParameter($"{_path} must not be empty");
        }

        if (Encoding.UTF8.GetByteCount(text) > maxBytes)
        {
            throw ApiException.InvalidParameter($"{_path} is longer than {maxBytes} bytes");
        }

        if (!IdCharsets.IsValid(text, charset))
        {
            throw ApiException.InvalidParameter($"{_path} contains characters outside {IdCharsets.Describe(charset)}");
        }

        return text;
    }

    /// <summary>A mutable copy of this object (for storing configuration objects verbatim).</summary>
    public JsonObject ToJsonObject() =>
        JsonNode.Parse(_element.GetRawText()) as JsonObject
        ?? throw ApiException.InvalidParameter($"{(_path.Length == 0 ? "body" : _path)} must be an object");
}
