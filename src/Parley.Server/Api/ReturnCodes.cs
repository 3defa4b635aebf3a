namespace Parley.Server.Api;

/// <summary>The contract's return codes (spec 1.7) plus Parley's documented choices.</summary>
public static class ReturnCodes
{
    public const int Success = 0;

    // Gateway / common codes.
    public const int WrongHost = 100000000;
    public const int AppIdMalformed = 100000001;
    public const int TimestampMissing = 100000002;
    public const int TimestampMalformed = 100000003;
    public const int SignatureExpired = 100000004;

    /// <summary>A SignatureNonce the app already used within the window (Parley's replay guard): "signature expired, regenerate it" (docs/compatibility.md).</summary>
    public const int NonceReused = SignatureExpired;
    public const int SignatureWrong = 100000005;
    public const int ActionMissing = 100000006;
    public const int ActionNotSupported = 100000007;
    public const int NonceMissing = 100000008;
    public const int SignatureMissing = 100000009;
    public const int ServerSecretUnavailable = 100000010;
    public const int AppConfigUnavailable = 100000011;
    public const int BodyUnreadable = 100000012;
    public const int SignatureVersionMissing = 100000013;
    public const int SignatureVersionUnsupported = 100000014;
    public const int GatewayInternalError = 100000015;
    public const int ServiceNotEnabled = 100000017;

    // Business codes.
    public const int SystemError = 410000001;
    public const int InvalidAppId = 410000002;
    public const int InvalidParameter = 410000003;
    public const int JsonParseFailure = 410000004;
    public const int GatewayAuthFailed = 410000005;
    public const int AppServiceNotEnabled = 410000006;
    public const int InternalCallFailed = 410000009;

    /// <summary>Insufficient service resources. Parley also answers rate-limited requests with this code (docs/compatibility.md).</summary>
    public const int InsufficientResources = 410000010;

    public const int RateLimited = InsufficientResources;

    /// <summary>RegisterAgent beyond <c>Parley:MaxAgentsPerApp</c>: the contract names no code; Parley answers "insufficient service resources" (docs/compatibility.md).</summary>
    public const int AgentLimitReached = InsufficientResources;
    public const int InstanceConcurrencyLimit = 410000011;

    /// <summary>Invalid digital-human parameters (e.g. <c>DigitalHuman.DigitalHumanId</c> missing).</summary>
    public const int DigitalHumanInvalidParameter = 410000014;
    public const int InstanceNotFound = 410001002;
    public const int InstanceCreateFailed = 410001003;
    public const int InstanceModifyFailed = 410001004;
    public const int InstanceDeleteFailed = 410001005;
    public const int SendLlmFailed = 410001006;
    public const int SendTtsFailed = 410001007;
    public const int AgentAlreadyExists = 410001008;
    public const int AgentNotFound = 410001009;
    public const int HistoryLoadFailed = 410001010;
    public const int InstanceUpdateFailed = 410001011;
    public const int AgentListening = 410001013;
    public const int GetContextFailed = 410001022;
    public const int ResetContextFailed = 410001023;
    public const int InterruptFailed = 410001024;

    /// <summary>
    /// Digital-human resources insufficient. Parley serves no digital humans: every digital-human action answers this
    /// code, on which ZEGO's server sample falls back to a voice-only instance (docs/compatibility.md).
    /// </summary>
    public const int DigitalHumanResourcesInsufficient = 410001025;

    public const int UserNotInRoom = 410001016;
    public const int TestAccountExpired = 410001035;
    public const int InstanceShuttingDown = 410001041;
    public const int NotWalkieTalkieMode = 410001042;
    public const int StaleSequence = 410001043;
    public const int StartListeningFailed = 410001044;
    public const int StopListeningFailed = 410001045;
    public const int UserNotPublishing = 410001046;
    public const int ZegoTestKeyUrlNotAllowed = 410001047;
    public const int DigitalHumanNotOfApp = 410001048;
    public const int LiveDigitalHumanForbidden = 410001049;
}
