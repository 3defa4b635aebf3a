using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Parley.Server.Api;

namespace Parley.Server.Callbacks;

/// <summary>
/// Parley extensions of the control API (not ZEGO actions; the <c>Parley</c> prefix keeps them out of ZEGO's names):
/// an app lists its stored callback events and queues its dead ones for delivery again. Signed like every action, so an
/// app sees and redelivers only its own events.
/// </summary>
public static class CallbackAdminActions
{
    public const string ListAction = "ParleyListCallbacks";
    public const string RedeliverAction = "ParleyRedeliverCallbacks";
    public const int MaxLimit = 500;

    public static void Map(ActionRegistry registry) => registry
        .Add(ListAction, ListAsync)
        .Add(RedeliverAction, RedeliverAsync);

    /// <summary>Body: <c>State</c> (Dead (default), Pending, Delivered, Skipped or All), <c>AfterSequence</c>, <c>Limit</c> (1–500, default 100).</summary>
    private static async ValueTask<object?> ListAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var body = context.Body;
        var stateText = body.OptionalString("State", 16) ?? "Dead";
        CallbackDeliveryState? state = stateText.ToUpperInvariant() switch
        {
            "ALL" => null,
            "DEAD" => CallbackDeliveryState.Dead,
            "PENDING" => CallbackDeliveryState.Pending,
            "DELIVERED" => CallbackDeliveryState.Delivered,
            "SKIPPED" => CallbackDeliveryState.Skipped,
            _ => throw ApiException.InvalidParameter("State is invalid (Dead, Pending, Delivered, Skipped or All)"),
        };
        var after = ReadSequence(body, "AfterSequence") ?? 0;
        var limit = (int)(body.OptionalInteger("Limit", 1, MaxLimit) ?? 100);

        var outbox = context.Services.GetRequiredService<ICallbackOutbox>();
        var rows = await outbox.ListAsync(new CallbackQuery(context.App.AppId, state, after, limit), cancellationToken);
        return new
        {
            Callbacks = rows.Select(r => new
            {
                r.Sequence,
                r.Event,
                r.AgentInstanceId,
                r.AgentUserId,
                r.RoomId,
                State = r.State.ToString(),
                r.Attempts,
                CreatedTimestamp = r.CreatedAt,
                LastAttemptTimestamp = r.LastAttemptAt,
                NextAttemptTimestamp = r.State == CallbackDeliveryState.Pending ? r.NextAttemptAt : (long?)null,
                r.LastError,
                Data = JsonNode.Parse(r.DataJson),
            }).ToList(),
        };
    }

    /// <summary>Body: <c>Sequences</c> (1–1000 of the app's dead events) or <c>All</c>: true (every dead event of the app).</summary>
    private static async ValueTask<object?> RedeliverAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var body = context.Body;
        var all = body.OptionalBool("All") ?? false;
        var items = body.OptionalArray("Sequences", SqliteCallbackOutbox.MaxRedeliverSequences);
        if (all && items is not null)
        {
            throw ApiException.InvalidParameter("Sequences must not be given with All: true");
        }

        if (!all && items is null)
        {
            throw ApiException.InvalidParameter("Sequences is required (the dead events to redeliver), or All: true");
        }

        List<long>? sequences = null;
        if (items is not null)
        {
            if (items.Count == 0)
            {
                throw ApiException.InvalidParameter("Sequences must not be empty");
            }

            sequences = [.. items.Select((item, i) => ParseSequence(item.Element, $"Sequences[{i}]"))];
        }

        var services = context.Services;
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().ToUnixTimeMilliseconds();
        var count = await services.GetRequiredService<ICallbackOutbox>().RedeliverAsync(context.App.AppId, sequences, now, cancellationToken);
        if (count > 0)
        {
            CallbackLog.Redelivered(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(CallbackAdminActions)), context.App.AppId, count);
        }

        return new { Redelivered = count };
    }

    /// <summary>A Sequence as a JSON number or, for clients whose numbers are doubles (JavaScript), a decimal string.</summary>
    private static long? ReadSequence(RequestBody body, string name) =>
        body.Has(name) ? ParseSequence(body.Element.GetProperty(name), body.FieldPath(name)) : null;

    private static long ParseSequence(JsonElement element, string path)
    {
        if (element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var number) && number >= 0)
        {
            return number;
        }

        if (element.ValueKind == JsonValueKind.String
            && long.TryParse(element.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var text))
        {
            return text;
        }

        throw ApiException.InvalidParameter($"{path} must be a Sequence (a non-negative int64, as a number or a decimal string)");
    }
}
