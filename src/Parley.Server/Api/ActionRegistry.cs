using System.Text.Json;
using Parley.Server.Apps;

namespace Parley.Server.Api;

/// <summary>Everything an action handler needs about the request it serves.</summary>
public sealed class ActionContext
{
    public required AppOptions App { get; init; }

    public required string Action { get; init; }

    /// <summary>The request's JSON body (an object; an empty body is read as <c>{}</c>).</summary>
    public required RequestBody Body { get; init; }

    public required string RequestId { get; init; }

    public required IServiceProvider Services { get; init; }
}

/// <summary>Handles one action; returns the envelope's <c>Data</c> (null for none) or throws <see cref="ApiException"/>.</summary>
public delegate ValueTask<object?> ActionHandler(ActionContext context, CancellationToken cancellationToken);

/// <summary>The actions the control API serves, by exact (case-sensitive, as ZEGO's gateway) name.</summary>
public sealed class ActionRegistry
{
    private readonly Dictionary<string, ActionHandler> _handlers = new(StringComparer.Ordinal);

    public ActionRegistry Add(string action, ActionHandler handler)
    {
        _handlers.Add(action, handler);
        return this;
    }

    public bool TryGet(string action, out ActionHandler handler) => _handlers.TryGetValue(action, out handler!);

    public IReadOnlyCollection<string> Actions => _handlers.Keys;
}
