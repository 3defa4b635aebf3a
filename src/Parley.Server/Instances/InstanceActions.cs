using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Parley.Server.Api;
using Parley.Server.Apps;
using Parley.Server.Storage;

namespace Parley.Server.Instances;

/// <summary>Agent instance management (spec 4): CreateAgentInstance, UpdateAgentInstance, DeleteAgentInstance.</summary>
public static class InstanceActions
{
    public const int UserIdMaxBytes = 32;
    public const int RtcIdMaxBytes = 128;
    public const int MaxHistoryMessages = 100;

    /// <summary>Most <c>MessageHistory.WindowSize</c> and <c>ZIM.LoadMessageCount</c> (shared-components.yaml MessageHistory, 2.7.0).</summary>
    public const int MaxWindowSize = 500;

    /// <summary>TTS fields a running instance keeps (update-agent-instance.yaml, configuring-tts.mdx): given on UpdateAgentInstance they are ignored.</summary>
    public static readonly IReadOnlyList<string> TtsNotUpdatable = ["Vendor", "FilterText", "TerminatorText", "CharacterFilter"];

    private static readonly string[] KnownCallbackFlags = ["ASRResult", "LLMResult", "Interrupted", "UserSpeakAction", "AgentSpeakAction", "UserAudioData"];

    public static void Map(ActionRegistry registry) => registry
        .Add("CreateAgentInstance", CreateAsync)
        .Add("UpdateAgentInstance", UpdateAsync)
        .Add("DeleteAgentInstance", DeleteAsync)
        .Add("CreateDigitalHumanAgentInstance", DigitalHumanActions.CreateAsync)
        .Add("CreateLiveDigitalHumanAgentInstance", DigitalHumanActions.CreateLiveAsync);

    /// <summary>The contract's limit on <c>RTC.StreamExtraInfo</c> (shared-components.yaml).</summary>
    private const int StreamExtraInfoMaxBytes = 1024;

    /// <summary>The fields CreateAgentInstance and CreateDigitalHumanAgentInstance share, validated.</summary>
    internal sealed record CreateRequest(
        string AgentId, string UserId, string RoomId, string AgentStreamId, string AgentUserId, string UserStreamId,
        RequestBody? Llm, RequestBody? Tts, RequestBody? Asr, int WindowSize, List<HistoryMessage> Messages,
        Dictionary<string, int> Flags, int InterruptMode, bool DisableTts);

    internal static CreateRequest ReadCreate(RequestBody body, Parley.Core.Providers.VendorRegistry<Parley.Abstractions.Speech.ITextToSpeech>? ttsEngines)
    {
        var agentId = body.RequiredString("AgentId", 128, IdCharset.AgentId);
        var userId = body.RequiredString("UserId", UserIdMaxBytes, IdCharset.UserId);
        var rtc = body.RequiredObject("RTC");
        var roomId = rtc.RequiredString("RoomId", RtcIdMaxBytes, IdCharset.Rtc);
        var agentStreamId = rtc.RequiredString("AgentStreamId", RtcIdMaxBytes, IdCharset.Rtc);
        var agentUserId = rtc.RequiredString("AgentUserId", UserIdMaxBytes, IdCharset.Rtc);
        var userStreamId = rtc.RequiredString("UserStreamId", RtcIdMaxBytes, IdCharset.Rtc);

        var llm = body.OptionalObject("LLM");
        var tts = body.OptionalObject("TTS");
        var asr = body.OptionalObject("ASR");
        if (llm is not null)
        {
            AgentConfigValidator.ValidateLlm(llm, complete: false);
        }

        if (tts is not null)
        {
            AgentConfigValidator.ValidateTts(tts, complete: false, engines: ttsEngines);
        }

        if (asr is not null)
        {
            AgentConfigValidator.ValidateAsr(asr);
        }

        var (windowSize, messages) = ReadHistory(body.OptionalObject("MessageHistory"));
        var flags = ReadCallbackConfig(body.OptionalObject("CallbackConfig"));
        var advanced = body.OptionalObject("AdvancedConfig");
        var interruptMode = (int)(advanced?.OptionalInteger("InterruptMode", 0, 1) ?? 0);
        var disableTts = advanced?.OptionalBool("DisableTTS") ?? false;
        return new CreateRequest(agentId, userId, roomId, agentStreamId, agentUserId, userStreamId, llm, tts, asr, windowSize, messages, flags, interruptMode, disableTts);
    }

    private static async ValueTask<object?> CreateAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var (agentId, userId, roomId, agentStreamId, agentUserId, userStreamId, llm, tts, asr, windowSize, messages, flags, interruptMode, disableTts) = ReadCreate(context.Body, AgentActions.Tts(context)?.Vendors);
        var communicationMode = ListeningActions.ReadCommunicationMode(context.Body);

        // AdvancedConfig.MaxIdleTime (2.6.6): seconds the instance's user may be absent from the room (default 120).
        var maxIdle = (int)(context.Body.OptionalObject("AdvancedConfig")?.OptionalInteger("MaxIdleTime", 10, 1800) ?? 0);

        // CallbackConfig.HostTag: one of the app's named callback URLs (Parley:Apps:N:CallbackUrls:<tag>).
        var hostTag = context.Body.OptionalObject("CallbackConfig")?.OptionalString("HostTag", 128) ?? "";
        if (hostTag.Length > 0 && context.App.CallbackUrlFor(hostTag) is null)
        {
            throw ApiException.InvalidParameter($"CallbackConfig.HostTag '{hostTag}' is not one of this app's callback URLs (Parley:Apps:N:CallbackUrls)");
        }

        // AdvancedConfig.AddASRInfo: pass the ASR vendor's recognition tags to the LLM. No engine here returns tags
        // (pocketsphinx, Paraformer/Fun-ASR text only), so it is checked and has nothing to pass (docs/compatibility.md).
        context.Body.OptionalObject("AdvancedConfig")?.OptionalBool("AddASRInfo");

        // The VAD object (2.12+): turn detection and voice-detection sensitivity, over the deprecated ASR fields.
        var vad = context.Body.OptionalObject("VAD");
        if (vad is not null)
        {
            AgentConfigValidator.ValidateVad(vad);
        }

        // RTC.StreamExtraInfo (2.13): ≤1024 bytes of UTF-8, kept on the instance for the agent stream's extra info.
        var streamExtraInfo = context.Body.RequiredObject("RTC").OptionalString("StreamExtraInfo", StreamExtraInfoMaxBytes) ?? "";
        var (metaInfoJson, ttsParamPathsJson) = SpeechTextConfig.Read(context.Body.OptionalObject("AdvancedConfig"));

        var agent = await context.Services.GetRequiredService<IAgentStore>().GetAsync(context.App.AppId, agentId, cancellationToken)
            ?? throw new ApiException(ReturnCodes.AgentNotFound, $"agent '{agentId}' does not exist");

        // This request's objects over the registered agent's, field by field; the result must be complete (the agent
        // may have been registered with only its AgentId).
        var mergedLlm = InstanceConfig.Overlay(agent.Llm, llm?.ToJsonObject());
        var mergedTts = InstanceConfig.Overlay(agent.Tts, tts?.ToJsonObject());
        var mergedAsr = InstanceConfig.Overlay(agent.Asr, asr?.ToJsonObject());
        try
        {
            // A text-only instance (DisableTTS) synthesises nothing: its TTS need not be complete (what is given is still checked).
            InstanceConfig.ValidateMerged(mergedLlm, mergedTts, mergedAsr, context.Services.GetRequiredService<Parley.Providers.Net.OutboundPolicy>(), ttsComplete: !disableTts);
        }
        catch (ApiException ex) when (ex.Code == ReturnCodes.InvalidParameter)
        {
            throw ApiException.InvalidParameter($"{ex.Message} (in the instance's configuration: agent '{agentId}' as registered, with this request's LLM/TTS/ASR over it)");
        }

        if (!disableTts)
        {
            AgentConfigValidator.ValidateTtsParams(mergedTts, AgentActions.Tts(context));
        }

        var grains = context.Services.GetRequiredService<IGrainFactory>();
        var appId = context.App.AppId;
        var instanceId = context.Services.GetRequiredService<IdGenerator>().Next();
        var maxInstances = context.Services.GetRequiredService<IOptions<ParleyOptions>>().Value.MaxInstancesPerApp;
        var registry = grains.GetGrain<IAppInstanceRegistryGrain>(InstanceKeys.Registry(appId));
        var reservation = await registry.ReserveAsync(new InstanceReservation
        {
            InstanceId = instanceId,
            AgentUserId = agentUserId,
            AgentStreamId = agentStreamId,
            MaxInstances = maxInstances,
        });
        if (reservation.Code != 0)
        {
            throw new ApiException(reservation.Code, reservation.Message);
        }

        if (reservation.KickInstanceId is { } kicked)
        {
            // Same AgentUserId: the earlier instance is kicked out of the room (spec 2.4: Exception 1203, Deleted 1203).
            await grains.GetGrain<IAgentInstanceGrain>(InstanceKeys.Instance(appId, kicked)).DeleteAsync(InstanceCodes.Kicked);
        }

        InstanceReply reply;
        try
        {
            // A grain placed on a draining node refuses and deactivates; the next call places it again (elsewhere, as
            // the draining node leaves the cluster).
            var attempt = 0;
            using var placement = Placement.LeastLoadedPlacementDirector.MarkCreate();
            do
            {
                reply = await CreateOnceAsync();
            }
            while (reply.Code == InstanceCodes.NodeDraining && ++attempt < 20);

            if (reply.Code == InstanceCodes.NodeDraining)
            {
                reply = InstanceReply.Error(ReturnCodes.InstanceCreateFailed, "no node could take the instance (all draining)");
            }
        }
        catch
        {
            await registry.ReleaseAsync(instanceId);
            throw;
        }

        if (reply.Code != 0)
        {
            await registry.ReleaseAsync(instanceId);
            throw new ApiException(reply.Code, reply.Message);
        }

        return new { AgentInstanceId = instanceId };

        Task<InstanceReply> CreateOnceAsync() =>
            grains.GetGrain<IAgentInstanceGrain>(InstanceKeys.Instance(appId, instanceId)).CreateAsync(new InstanceSpec
            {
                AppId = appId,
                InstanceId = instanceId,
                AgentId = agentId,
                AgentName = agent.Name,
                UserId = userId,
                RoomId = roomId,
                AgentUserId = agentUserId,
                AgentStreamId = agentStreamId,
                UserStreamId = userStreamId,
                StreamExtraInfo = streamExtraInfo,
                LlmJson = mergedLlm.ToJsonString(),
                TtsJson = mergedTts.ToJsonString(),
                AsrJson = mergedAsr.ToJsonString(),
                WindowSize = windowSize,
                InitialMessages = messages,
                CallbackFlags = flags,
                InterruptMode = interruptMode,
                DisableTts = disableTts,
                CommunicationMode = communicationMode,
                VadJson = vad?.ToJsonObject().ToJsonString() ?? "{}",
                MaxIdleSeconds = maxIdle,
                HostTag = hostTag,
                MetaInfoJson = metaInfoJson,
                TtsParamPathsJson = ttsParamPathsJson,
            });
    }

    private static async ValueTask<object?> UpdateAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var body = context.Body;
        var instance = Instance(context);
        var llm = body.OptionalObject("LLM");
        var tts = body.OptionalObject("TTS");
        var userStreamId = body.OptionalObject("RTC")?.OptionalString("UserStreamId", RtcIdMaxBytes, IdCharset.Rtc);
        var asr = body.OptionalObject("ASR");
        if (llm is not null)
        {
            AgentConfigValidator.ValidateLlm(llm, complete: false);
        }

        if (tts is not null)
        {
            AgentConfigValidator.ValidateTts(tts, complete: false, engines: AgentActions.Tts(context)?.Vendors);
        }

        if (asr is not null)
        {
            AgentConfigValidator.ValidateAsr(asr);
        }

        // Each given object replaces the instance's (update-agent-instance.yaml, 2.13); TTS.Vendor, FilterText,
        // TerminatorText and CharacterFilter cannot change on a running instance: given, they are ignored (the
        // instance keeps its own, InstanceConfig.Merge). MessageHistory, CallbackConfig and AdvancedConfig are not
        // updatable: ignored.
        var ttsOverlay = tts?.ToJsonObject();
        foreach (var field in TtsNotUpdatable)
        {
            ttsOverlay?.Remove(field);
        }

        Check(await instance.UpdateAsync(new InstanceUpdate
        {
            LlmJson = llm?.ToJsonObject().ToJsonString(),
            TtsJson = ttsOverlay?.ToJsonString(),
            AsrJson = asr?.ToJsonObject().ToJsonString(),
            UserStreamId = string.IsNullOrEmpty(userStreamId) ? null : userStreamId,
        }));
        return null;
    }

    /// <summary>Default and range of <c>GracefulShutdownTimeout</c> (seconds; delete-agent-instance.yaml).</summary>
    public const int DefaultGracefulShutdownSeconds = 30;

    private static async ValueTask<object?> DeleteAsync(ActionContext context, CancellationToken cancellationToken)
    {
        var body = context.Body;
        var instance = Instance(context);
        var graceful = body.OptionalBool("GracefulShutdown") ?? false;
        var timeout = (int)(body.OptionalInteger("GracefulShutdownTimeout", 1, 120) ?? DefaultGracefulShutdownSeconds);
        Check(graceful ? await instance.DeleteGracefullyAsync(timeout) : await instance.DeleteAsync(0));
        return null;
    }

    internal static IAgentInstanceGrain Instance(ActionContext context)
    {
        var instanceId = context.Body.RequiredString("AgentInstanceId", 64);
        return context.Services.GetRequiredService<IGrainFactory>()
            .GetGrain<IAgentInstanceGrain>(InstanceKeys.Instance(context.App.AppId, instanceId));
    }

    internal static void Check(InstanceReply reply)
    {
        if (reply.Code != 0)
        {
            throw new ApiException(reply.Code, reply.Message);
        }
    }

    private static (int WindowSize, List<HistoryMessage> Messages) ReadHistory(RequestBody? history)
    {
        if (history is null)
        {
            return (20, []);
        }

        var syncMode = history.OptionalInteger("SyncMode", 0, 1) ?? 0;
        var windowSize = (int)(history.OptionalInteger("WindowSize", 0, MaxWindowSize) ?? 20);
        var items = history.OptionalArray("Messages", MaxHistoryMessages) ?? [];
        var messages = new List<HistoryMessage>(items.Count);
        foreach (var item in items)
        {
            if (item.Element.ValueKind != System.Text.Json.JsonValueKind.Object)
            {
                throw ApiException.InvalidParameter($"{item.FieldPath("x")[..^2]} must be an object");
            }

            var role = item.RequiredString("Role");
            if (role is not ("user" or "assistant"))
            {
                throw ApiException.InvalidParameter($"{item.FieldPath("Role")} must be 'user' or 'assistant'");
            }

            var content = item.OptionalString("Content") ?? throw ApiException.InvalidParameter($"{item.FieldPath("Content")} is required");
            messages.Add(new HistoryMessage { Role = role, Content = content });
        }

        var zim = history.OptionalObject("ZIM");
        zim?.OptionalString("RobotId", 64);
        zim?.OptionalInteger("LoadMessageCount", 0, MaxWindowSize);

        // SyncMode 0 loads the context from ZEGO IM, which Parley does not have: the context starts empty.
        return (windowSize, syncMode == 1 ? messages : []);
    }

    private static Dictionary<string, int> ReadCallbackConfig(RequestBody? config)
    {
        var flags = new Dictionary<string, int>(StringComparer.Ordinal);
        if (config is null)
        {
            return flags;
        }

        foreach (var name in KnownCallbackFlags)
        {
            if (config.OptionalInteger(name, 0, 1) is { } value)
            {
                flags[name] = (int)value;
            }
        }

        // Unknown flags (e.g. "Exception": 1, "AgentInstanceStatus": 1) are accepted and kept when they are integers.
        foreach (var property in config.Element.EnumerateObject())
        {
            if (!flags.ContainsKey(property.Name) && property.Value.ValueKind == System.Text.Json.JsonValueKind.Number && property.Value.TryGetInt32(out var v))
            {
                flags[property.Name] = v;
            }
        }

        return flags;
    }
}
