using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Parley.Server.Apps;
using Parley.Server.Storage;

namespace Parley.Server.Api;

/// <summary>Agent configuration actions (spec 3): RegisterAgent, UnregisterAgent, UpdateAgent, ListAgents, QueryAgents.</summary>
public static class AgentActions
{
    public const int AgentIdMaxBytes = 128;
    public const int NameMaxBytes = 256;

    public static ActionRegistry MapAgentActions(this ActionRegistry registry) => registry
        .Add("RegisterAgent", RegisterAsync)
        .Add("UnregisterAgent", UnregisterAsync)
        .Add("UpdateAgent", UpdateAsync)
        .Add("ListAgents", ListAsync)
        .Add("QueryAgents", QueryAsync);

    private static async ValueTask<object?> RegisterAsync(ActionContext context, CancellationToken cancellationToken)
    {
        // One guide wraps the configuration as {"AgentId", "AgentConfig": {Name, LLM, TTS, ASR}}; the reference and
        // ZEGO's samples send it flat. Both are accepted (docs/compatibility.md).
        var body = context.Body;
        var config = body.OptionalObject("AgentConfig") ?? body;
        var agentId = body.RequiredString("AgentId", AgentIdMaxBytes, IdCharset.AgentId);
        var name = config.OptionalString("Name", NameMaxBytes) ?? "";
        var llm = config.RequiredObject("LLM");
        AgentConfigValidator.ValidateLlm(llm, complete: true, Policy(context));
        var tts = config.RequiredObject("TTS");
        AgentConfigValidator.ValidateTts(tts, complete: true, engines: Tts(context)?.Vendors);
        var asr = config.OptionalObject("ASR");
        if (asr is not null)
        {
            AgentConfigValidator.ValidateAsr(asr);
        }

        var ttsObject = tts.ToJsonObject();
        AgentConfigValidator.ValidateTtsParams(ttsObject, Tts(context));
        var now = context.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var record = new AgentRecord(context.App.AppId, agentId, name, llm.ToJsonObject(), ttsObject, asr?.ToJsonObject() ?? [], now, now);
        var maxAgents = context.Services.GetRequiredService<IOptions<ParleyOptions>>().Value.MaxAgentsPerApp;
        return await Store(context).TryAddAsync(record, maxAgents, cancellationToken) switch
        {
            AgentAddResult.Added => null,
            AgentAddResult.AlreadyExists => throw new ApiException(ReturnCodes.AgentAlreadyExists, $"agent '{agentId}' already exists"),
            _ => throw new ApiException(ReturnCodes.AgentLimitReached, $"app {context.App.AppId} already has {maxAgents} agents, the most this server allows (Parley:MaxAgentsPerApp); unregister one first"),
        };
    }

    private static async ValueTask<object?> UnregisterAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var agentId = context.Body.RequiredString("AgentId", AgentIdMaxBytes, IdCharset.AgentId);
        if (!await Store(context).DeleteAsync(context.App.AppId, agentId, cancellationToken))
        {
            throw new ApiException(ReturnCodes.AgentNotFound, $"agent '{agentId}' does not exist");
        }

        return null;
    }

    private static async ValueTask<object?> UpdateAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var body = context.Body;
        var config = body.OptionalObject("AgentConfig") ?? body;
        var agentId = body.RequiredString("AgentId", AgentIdMaxBytes, IdCharset.AgentId);
        var name = config.OptionalString("Name", NameMaxBytes);
        var llm = config.OptionalObject("LLM");
        var tts = config.OptionalObject("TTS");
        var asr = config.OptionalObject("ASR");
        llm?.Let(o => AgentConfigValidator.ValidateLlm(o, complete: false));
        tts?.Let(o => AgentConfigValidator.ValidateTts(o, complete: false, engines: Tts(context)?.Vendors));
        asr?.Let(AgentConfigValidator.ValidateAsr);

        var store = Store(context);
        var existing = await store.GetAsync(context.App.AppId, agentId, cancellationToken)
            ?? throw new ApiException(ReturnCodes.AgentNotFound, $"agent '{agentId}' does not exist");

        // Only the given fields change: given objects are merged field by field over the stored ones (null removes a field).
        var mergedLlm = JsonMerge.Merge(existing.Llm, llm?.ToJsonObject());
        var mergedTts = JsonMerge.Merge(existing.Tts, tts?.ToJsonObject());
        var mergedAsr = JsonMerge.Merge(existing.Asr, asr?.ToJsonObject());
        AgentConfigValidator.ValidateComplete(mergedLlm, mergedTts, mergedAsr, Policy(context));
        AgentConfigValidator.ValidateTtsParams(mergedTts, Tts(context));

        var updated = existing with
        {
            Name = name ?? existing.Name,
            Llm = mergedLlm,
            Tts = mergedTts,
            Asr = mergedAsr,
            UpdatedAt = context.Services.GetRequiredService<TimeProvider>().GetUtcNow(),
        };
        if (!await store.UpdateAsync(updated, cancellationToken))
        {
            throw new ApiException(ReturnCodes.AgentNotFound, $"agent '{agentId}' does not exist");
        }

        return null;
    }

    private static async ValueTask<object?> ListAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var limit = (int)(context.Body.OptionalInteger("Limit", 0, 10) ?? 0);
        if (limit == 0)
        {
            limit = 5;
        }

        var cursor = context.Body.OptionalString("Cursor", 1024) ?? "";
        var page = await Store(context).ListAsync(context.App.AppId, limit, cursor, cancellationToken);
        return new
        {
            page.Total,
            Agents = page.Agents.Select(ToView).ToList(),
            page.Cursor,
        };
    }

    private static async ValueTask<object?> QueryAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var items = context.Body.OptionalArray("AgentIds", 10)
            ?? throw ApiException.InvalidParameter("AgentIds is required");
        var ids = items.Select(i => i.AsString(AgentIdMaxBytes, IdCharset.AgentId)).Distinct(StringComparer.Ordinal).ToList();
        var agents = await Store(context).GetManyAsync(context.App.AppId, ids, cancellationToken);
        return new { Agents = agents.Select(ToView).ToList() };
    }

    /// <summary>The agent object of ListAgents/QueryAgents (spec 2.8): the stored configuration echoed back.</summary>
    public static JsonObject ToView(AgentRecord agent) => new()
    {
        ["AgentId"] = agent.AgentId,
        ["Name"] = agent.Name,
        ["LLM"] = agent.Llm.DeepClone(),
        ["TTS"] = agent.Tts.DeepClone(),
        ["ASR"] = agent.Asr.DeepClone(),
    };

    private static IAgentStore Store(ActionContext context) => context.Services.GetRequiredService<IAgentStore>();

    private static Parley.Providers.Net.OutboundPolicy Policy(ActionContext context) => context.Services.GetRequiredService<Parley.Providers.Net.OutboundPolicy>();
    internal static Rooms.TtsProviders? Tts(ActionContext context) => context.Services.GetService<Rooms.TtsProviders>();

    private static void Let<T>(this T value, Action<T> action) => action(value);

    internal static string EncodeCursor(string agentId) => Convert.ToBase64String(Encoding.UTF8.GetBytes(agentId));

    internal static string? DecodeCursor(string cursor)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(cursor));
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
