using Parley.Rtc.Rooms;
using Parley.Rtc.Tokens;

namespace Parley.Rtc.WebSockets;

/// <summary>The <c>Code</c> values of LoginResult, PublishResult, PlayResult, Kicked and Error messages (docs/protocol.md §5).</summary>
public static class RtcCodes
{
    public const int Ok = 0;

    /// <summary>LoginResult: the room lives on another node of the cluster; reconnect to <c>Redirect</c> and log in there.</summary>
    public const int RoomOnAnotherNode = 30701;

    // 400xx: the request itself is wrong.
    public const int BadMessage = 40001;
    public const int UnknownType = 40002;
    public const int NotLoggedIn = 40003;
    public const int AlreadyLoggedIn = 40004;
    public const int InvalidId = 40005;
    public const int BadAudioFrame = 40006;
    public const int AudioBeforePublish = 40007;
    public const int UnsupportedCodec = 40008;
    public const int UnsupportedSampleRate = 40009;
    public const int AlreadyPublishing = 40010;
    public const int AlreadyPlaying = 40011;
    public const int NotPublishing = 40012;
    public const int NotPlaying = 40013;
    public const int RoomMessageTooLarge = 40014;
    public const int BadSdp = 40015;
    public const int WebRtcAlreadyActive = 40016;
    public const int WebRtcDisabled = 40017;

    // 401xx: the token refuses the login.
    public const int TokenMissing = 40101;
    public const int TokenMalformed = 40102;
    public const int TokenForged = 40103;
    public const int TokenExpired = 40104;
    public const int UnknownApp = 40105;
    public const int TokenWrongApp = 40106;
    public const int TokenWrongUser = 40107;
    public const int TokenWrongRoom = 40108;
    public const int NoLoginPrivilege = 40109;

    // 403xx: the token refuses the publish.
    public const int NoPublishPrivilege = 40301;
    public const int StreamNotAllowed = 40302;

    // 409xx: conflicts with the room's state.
    public const int StreamIdInUse = 40901;
    public const int Kicked = 40902;

    // 429xx: a limit of the server.
    public const int TooManyRooms = 42901;

    // 500xx: the server failed.
    public const int InternalError = 50001;

    internal static int Of(Token04Error error) => error switch
    {
        Token04Error.None => Ok,
        Token04Error.Missing => TokenMissing,
        Token04Error.Malformed => TokenMalformed,
        Token04Error.Forged => TokenForged,
        Token04Error.UnknownApp => UnknownApp,
        Token04Error.WrongApp => TokenWrongApp,
        Token04Error.Expired => TokenExpired,
        Token04Error.WrongUser => TokenWrongUser,
        Token04Error.WrongRoom => TokenWrongRoom,
        Token04Error.NoLoginPrivilege => NoLoginPrivilege,
        Token04Error.NoPublishPrivilege => NoPublishPrivilege,
        Token04Error.StreamNotAllowed => StreamNotAllowed,
        _ => InternalError,
    };

    internal static int Of(RoomErrorCode error) => error switch
    {
        RoomErrorCode.InvalidId => InvalidId,
        RoomErrorCode.StreamIdInUse => StreamIdInUse,
        RoomErrorCode.AlreadyPublishing => AlreadyPublishing,
        RoomErrorCode.NotInRoom => NotLoggedIn,
        RoomErrorCode.InvalidAudio => BadAudioFrame,
        RoomErrorCode.TooManyRooms => TooManyRooms,
        _ => InternalError,
    };
}
