using System.Text.Json;

namespace Parley.Rtc.Tokens;

/// <summary>Why a Token04 was refused.</summary>
public enum Token04Error
{
    None = 0,
    Missing,
    Malformed,
    Forged,
    UnknownApp,
    WrongApp,
    Expired,
    WrongUser,
    WrongRoom,
    NoLoginPrivilege,
    NoPublishPrivilege,
    StreamNotAllowed,
}

/// <summary>The outcome of a token check: valid (with the token's grants) or refused with a clear reason.</summary>
public sealed record Token04Check(Token04Error Error, string Message, Token04Claims? Claims, Token04Grants? Grants)
{
    public bool IsValid => Error == Token04Error.None;

    internal static Token04Check Fail(Token04Error error, string message) => new(error, message, null, null);
}

/// <summary>
/// What a token's payload allows. An empty payload allows everything for its user. In a privilege payload a missing
/// privilege key is treated as allowed, 0 as refused; an empty or null <c>stream_id_list</c> allows every stream id.
/// </summary>
public sealed record Token04Grants(string? RoomId, bool CanLogin, bool CanPublish, IReadOnlyList<string>? StreamIds)
{
    public static readonly Token04Grants All = new(null, true, true, null);

    /// <summary>Checks a Publish of <paramref name="streamId"/> against these grants.</summary>
    public Token04Check CheckPublish(string streamId)
    {
        if (!CanPublish)
        {
            return Token04Check.Fail(Token04Error.NoPublishPrivilege, "the token does not grant the publish privilege (privilege 2)");
        }

        if (StreamIds is { Count: > 0 } ids && !ids.Contains(streamId, StringComparer.Ordinal))
        {
            return Token04Check.Fail(Token04Error.StreamNotAllowed, $"StreamId '{streamId}' is not in the token's stream_id_list");
        }

        return new Token04Check(Token04Error.None, "ok", null, this);
    }
}

/// <summary>
/// Verifies Token04 logins (both forms, GCM and CBC, told apart by their layout: see <see cref="Token04Envelope"/>) against
/// the <see cref="IRoomAppDirectory"/>, with time from a <see cref="TimeProvider"/>.
/// </summary>
public sealed class Token04Verifier(IRoomAppDirectory apps, TimeProvider timeProvider)
{
    /// <summary>
    /// Verifies a login token for <paramref name="userId"/> in <paramref name="roomId"/>. With <paramref name="appId"/> the
    /// token must decrypt with that app's secret; without it, every app of <see cref="IRoomAppDirectory.AppIds"/> is tried
    /// and the one whose secret decrypts the token (and whose id the token names) is taken.
    /// </summary>
    public Token04Check VerifyLogin(string? token, uint? appId, string userId, string roomId)
    {
        if (string.IsNullOrEmpty(token))
        {
            return Token04Check.Fail(Token04Error.Missing, "Token is required");
        }

        if (!Token04Envelope.TryUnpack(token, out var envelope, out var error))
        {
            return Token04Check.Fail(Token04Error.Malformed, error!);
        }

        Token04Claims? claims = null;
        if (appId is { } id)
        {
            if (!apps.TryGetServerSecret(id, out var secret))
            {
                return Token04Check.Fail(Token04Error.UnknownApp, $"AppId {id} is not known to this server");
            }

            claims = envelope.TryDecrypt(secret);
            if (claims is null)
            {
                return Token04Check.Fail(Token04Error.Forged, $"Token does not decrypt with the secret of AppId {id} (forged, or minted for another app)");
            }

            if (claims.AppId != id)
            {
                return Token04Check.Fail(Token04Error.WrongApp, $"Token was minted for AppId {claims.AppId}, not {id}");
            }
        }
        else
        {
            var tried = 0;
            foreach (var candidate in apps.AppIds)
            {
                tried++;
                if (apps.TryGetServerSecret(candidate, out var secret)
                    && envelope.TryDecrypt(secret) is { } found
                    && found.AppId == candidate)
                {
                    claims = found;
                    break;
                }
            }

            if (claims is null)
            {
                return tried == 0
                    ? Token04Check.Fail(Token04Error.UnknownApp, "AppId is required: this server cannot find a token's app by itself")
                    : Token04Check.Fail(Token04Error.Forged, "Token does not decrypt with the secret of any known app (forged or for an unknown app)");
            }
        }

        if (claims.ExpiresAt != envelope.Expire)
        {
            return Token04Check.Fail(Token04Error.Forged, "Token's clear expiry does not match its encrypted expiry (tampered)");
        }

        var now = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        if (now >= claims.ExpiresAt)
        {
            return Token04Check.Fail(Token04Error.Expired, $"Token expired at {DateTimeOffset.FromUnixTimeSeconds(claims.ExpiresAt):O}");
        }

        if (!string.Equals(claims.UserId, userId, StringComparison.Ordinal))
        {
            return Token04Check.Fail(Token04Error.WrongUser, "Token was minted for another UserId");
        }

        if (!TryParseGrants(claims.Payload, out var grants))
        {
            return Token04Check.Fail(Token04Error.Malformed, "Token payload is not a valid privilege JSON object");
        }

        if (!string.IsNullOrEmpty(grants.RoomId) && !string.Equals(grants.RoomId, roomId, StringComparison.Ordinal))
        {
            return Token04Check.Fail(Token04Error.WrongRoom, $"Token is for another room, not '{roomId}'");
        }

        if (!grants.CanLogin)
        {
            return Token04Check.Fail(Token04Error.NoLoginPrivilege, "the token does not grant the login privilege (privilege 1)");
        }

        return new Token04Check(Token04Error.None, "ok", claims, grants);
    }

    internal static bool TryParseGrants(string payload, out Token04Grants grants)
    {
        grants = Token04Grants.All;
        if (string.IsNullOrWhiteSpace(payload))
        {
            return true;
        }

        try
        {
            using var document = JsonDocument.Parse(payload);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            string? roomId = root.TryGetProperty("room_id", out var room) && room.ValueKind == JsonValueKind.String ? room.GetString() : null;
            var canLogin = true;
            var canPublish = true;
            if (root.TryGetProperty("privilege", out var privilege) && privilege.ValueKind == JsonValueKind.Object)
            {
                canLogin = PrivilegeOf(privilege, "1");
                canPublish = PrivilegeOf(privilege, "2");
            }

            List<string>? streams = null;
            if (root.TryGetProperty("stream_id_list", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                streams = [];
                foreach (var item in list.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String)
                    {
                        streams.Add(item.GetString()!);
                    }
                }
            }

            grants = new Token04Grants(roomId, canLogin, canPublish, streams);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool PrivilegeOf(JsonElement privilege, string key) =>
        !privilege.TryGetProperty(key, out var value) || value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var flag) || flag != 0;
}
