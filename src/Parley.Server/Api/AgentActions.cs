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

        // Only AgentId is required (register-agent.yaml, 2.13.5): LLM, TTS and ASR may come per instance instead, and
        // CreateAgentInstance then requires the merged configuration to be complete. A given object must be complete.
        var (llm, tts, asr) = ReadConfig(config, context);
        var now = context.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var record = new AgentRecord(context.App.AppId, agentId, name, llm ?? [], tts ?? [], asr ?? [], now, now);
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
        var (llm, tts, asr) = ReadConfig(config, context);

        var store = Store(context);
        var existing = await store.GetAsync(context.App.AppId, agentId, cancellationToken)
            ?? throw new ApiException(ReturnCodes.AgentNotFound, $"agent '{agentId}' does not exist");

        // Each given object REPLACES the stored one whole (update-agent.yaml, 2.13: "updated in a cover-up manner"),
        // so it must be complete; objects not given stay as stored.
        var updated = existing with
        {
            Name = name ?? existing.Name,
            Llm = llm ?? existing.Llm,
            Tts = tts ?? existing.Tts,
            Asr = asr ?? existing.Asr,
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

    /// <summary>
    /// The optional LLM, TTS and ASR objects of RegisterAgent / UpdateAgent, each validated as complete (URLs against the
    /// outbound policy, TTS Params against its engine) and kept verbatim: same keys, same values, as given.
    /// </summary>
    private static (JsonObject? Llm, JsonObject? Tts, JsonObject? Asr) ReadConfig(RequestBody config, ActionContext context)
    {
        var llm = config.OptionalObject("LLM");
        var tts = config.OptionalObject("TTS");
        var asr = config.OptionalObject("ASR");
        if (llm is not null)
        {
            AgentConfigValidator.ValidateLlm(llm, complete: true, Policy(context));
        }

        if (tts is not null)
        {
            AgentConfigValidator.ValidateTts(tts, complete: true, engines: Tts(context)?.Vendors, policy: Policy(context));
        }

        if (asr is not null)
        {
            AgentConfigValidator.ValidateAsr(asr);
        }

        var ttsObject = tts?.ToJsonObject();
        if (ttsObject is not null)
        {
            AgentConfigValidator.ValidateTtsParams(ttsObject, Tts(context));
        }

        return (llm?.ToJsonObject(), ttsObject, asr?.ToJsonObject());
    }

    /// <summary>
    /// The agent object of ListAgents/QueryAgents (spec 2.8): the stored configuration echoed back exactly as given
    /// (ZEGO's server sample deep-compares it with what it would register); an object never given echoes as <c>{}</c>.
    /// </summary>
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
