using Parley.Server.Instances;

namespace Parley.Server.Api;

/// <summary>
/// CreateDigitalHumanAgentInstance and CreateLiveDigitalHumanAgentInstance (create-digital-human-agent-instance.yaml,
/// create-live-digital-human-agent-instance.yaml). Parley renders no digital humans: after the body is validated as
/// ZEGO documents it (410000003 naming the field; 410000014 for the <c>DigitalHuman</c> object), both answer
/// 410001025 "digital-human resources insufficient", the code on which ZEGO's server sample
/// (src/app/api/start-digital-human/route.ts) falls back to a voice-only CreateAgentInstance. Another code (e.g.
/// 100000007 for an unknown action) would make that sample fail instead.
/// </summary>
public static class DigitalHumanActions
{
    public const string NotServedMessage =
        "digital humans are not served by this deployment (Parley renders no avatars): create a voice-only instance with CreateAgentInstance instead";

    private static readonly string[] ConfigIds = ["mobile", "web"];

    public static ValueTask<object?> CreateAsync(ActionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = InstanceActions.ReadCreate(context.Body, AgentActions.Tts(context)?.Vendors);
        if (request.DisableTts)
        {
            // A digital human speaks: DisableTTS is an error here (shared-components.yaml AdvancedConfig.DisableTTS).
            throw ApiException.InvalidParameter("AdvancedConfig.DisableTTS cannot be true for a digital human agent instance (it needs TTS)");
        }

        ReadDigitalHuman(context.Body);
        throw NotServed();
    }

    public static ValueTask<object?> CreateLiveAsync(ActionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var body = context.Body;
        body.RequiredString("AgentId", AgentActions.AgentIdMaxBytes, IdCharset.AgentId);
        ReadDigitalHuman(body);

        // RTC (without UserStreamId) or CDN; CDN wins when both are given.
        var rtc = body.OptionalObject("RTC");
        var cdn = body.OptionalObject("CDN");
        if (cdn is not null)
        {
            var url = cdn.RequiredString("Url", 2048);
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("rtmp" or "rtmps" or "http" or "https"))
            {
                throw ApiException.InvalidParameter($"{cdn.FieldPath("Url")} must be an absolute rtmp, rtmps, http or https URL");
            }
        }
        else if (rtc is not null)
        {
            rtc.RequiredString("RoomId", InstanceActions.RtcIdMaxBytes, IdCharset.Rtc);
            rtc.RequiredString("AgentStreamId", InstanceActions.RtcIdMaxBytes, IdCharset.Rtc);
            rtc.RequiredString("AgentUserId", InstanceActions.UserIdMaxBytes, IdCharset.Rtc);
        }
        else
        {
            throw ApiException.InvalidParameter("RTC or CDN is required");
        }

        if (body.OptionalObject("TTS") is { } tts)
        {
            AgentConfigValidator.ValidateTts(tts, complete: false, engines: AgentActions.Tts(context)?.Vendors);
        }

        throw NotServed();
    }

    private static void ReadDigitalHuman(RequestBody body)
    {
        RequestBody? human;
        try
        {
            human = body.OptionalObject("DigitalHuman");
        }
        catch (ApiException ex)
        {
            throw new ApiException(ReturnCodes.DigitalHumanInvalidParameter, ex.Message);
        }

        if (human is null)
        {
            throw new ApiException(ReturnCodes.DigitalHumanInvalidParameter, "DigitalHuman is required");
        }

        try
        {
            human.RequiredString("DigitalHumanId", 128);
            var configId = human.OptionalString("ConfigId", 16);
            if (configId is not null && !ConfigIds.Contains(configId, StringComparer.Ordinal))
            {
                throw ApiException.InvalidParameter($"{human.FieldPath("ConfigId")} must be 'mobile' or 'web'");
            }

            var encode = human.OptionalString("EncodeCode", 16);
            if (encode is not null && encode != "H264")
            {
                throw ApiException.InvalidParameter($"{human.FieldPath("EncodeCode")} must be 'H264'");
            }
        }
        catch (ApiException ex) when (ex.Code == ReturnCodes.InvalidParameter)
        {
            throw new ApiException(ReturnCodes.DigitalHumanInvalidParameter, ex.Message);
        }
    }

    private static ApiException NotServed() => new(ReturnCodes.DigitalHumanResourcesInsufficient, NotServedMessage);
}
