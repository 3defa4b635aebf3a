using System.Text.Json;
using System.Text.Json.Nodes;

namespace Parley.Server.Storage;

/// <summary>
/// Reads stored configuration objects. The control API refuses repeated field names, but agents stored before it did
/// may hold one (e.g. <c>{"Url":"file:///…","Url":"http://…"}</c>): such an object is read with the last value of each
/// repeated field, which is the value the validator of that time checked (<see cref="JsonElement.TryGetProperty(string, out JsonElement)"/>
/// finds the last one). Without this, every use of the object failed with a system error.
/// </summary>
public static class StoredJson
{
    private static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false };

    /// <summary>The object in <paramref name="json"/> (empty for JSON that is not an object); <paramref name="normalized"/> tells whether a repeated field was dropped.</summary>
    public static JsonObject ParseObject(string json, out bool normalized)
    {
        normalized = false;
        try
        {
            return JsonNode.Parse(json, nodeOptions: null, documentOptions: Strict) as JsonObject ?? [];
        }
        catch (JsonException)
        {
            // A repeated field (or text that is not JSON, which the lenient parse below reports as before).
        }

        using var document = JsonDocument.Parse(json);
        normalized = true;
        return LastWins(document.RootElement) as JsonObject ?? [];
    }

    private static JsonNode? LastWins(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var result = new JsonObject();
                foreach (var property in element.EnumerateObject())
                {
                    result[property.Name] = LastWins(property.Value);
                }

                return result;
            case JsonValueKind.Array:
                var array = new JsonArray();
                foreach (var item in element.EnumerateArray())
                {
                    array.Add(LastWins(item));
                }

                return array;
            case JsonValueKind.Null:
                return null;
            default:
                return JsonValue.Create(element.Clone());
        }
    }
}
