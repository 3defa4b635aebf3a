using System.Text;

namespace Parley.Rtc.Rooms;

/// <summary>ZEGO id rules for rooms: letters, digits, '-', '_', '.'; RoomId and StreamId ≤128 bytes, UserId ≤32 bytes.</summary>
public static class RoomIds
{
    public const int MaxRoomIdBytes = 128;
    public const int MaxStreamIdBytes = 128;
    public const int MaxUserIdBytes = 32;

    /// <summary>Returns null when <paramref name="value"/> is a valid id, else a message naming <paramref name="field"/>.</summary>
    public static string? Validate(string? value, string field, int maxBytes)
    {
        if (string.IsNullOrEmpty(value))
        {
            return $"{field} is required";
        }

        if (Encoding.UTF8.GetByteCount(value) > maxBytes)
        {
            return $"{field} is longer than {maxBytes} bytes";
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return $"{field} may contain only letters, digits, '-', '_' and '.'";
            }
        }

        return null;
    }

    /// <summary>
    /// The room server's key for an app's room: rooms are scoped by app, so two apps using the same RoomId never meet.
    /// App ids are digits only, so the first '.' separates the two parts unambiguously.
    /// </summary>
    public static string Scoped(uint? appId, string roomId) => appId is null ? roomId : $"{appId.Value}.{roomId}";

    public static string? ValidateRoomId(string? value) => Validate(value, "RoomId", MaxRoomIdBytes);

    public static string? ValidateUserId(string? value) => Validate(value, "UserId", MaxUserIdBytes);

    public static string? ValidateStreamId(string? value) => Validate(value, "StreamId", MaxStreamIdBytes);

    internal static void ThrowIfInvalid(string? error, string paramName)
    {
        if (error is not null)
        {
            throw new RoomException(RoomErrorCode.InvalidId, error, paramName);
        }
    }
}

/// <summary>Why a room operation was refused.</summary>
public enum RoomErrorCode
{
    InvalidId = 1,
    StreamIdInUse = 2,
    AlreadyPublishing = 3,
    NotInRoom = 4,
    InvalidAudio = 5,
    TooManyRooms = 6,
}

/// <summary>A client user across rooms: its app (null for a login without app, development only) and UserId.</summary>
internal readonly record struct RoomUserKey(uint? AppId, string UserId);

/// <summary>A refused room operation; <see cref="Exception.Message"/> says why, naming the field.</summary>
public sealed class RoomException(RoomErrorCode code, string message, string? paramName = null) : Exception(message)
{
    public RoomErrorCode Code { get; } = code;

    public string? ParamName { get; } = paramName;
}
