using System.Text.Json.Serialization;

namespace Parley.Server.Api;

/// <summary>The common response envelope of every action (spec 1.6).</summary>
public sealed record ApiEnvelope(
    int Code,
    string Message,
    string RequestId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] object? Data);
