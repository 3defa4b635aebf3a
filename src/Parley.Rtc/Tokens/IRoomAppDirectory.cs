namespace Parley.Rtc.Tokens;

/// <summary>
/// The apps whose clients may log into rooms, and their ServerSecrets (used to verify Token04). The server implements it
/// over its app store; register it as a singleton (before or after <c>AddParleyRtc</c>: the default is only added when
/// none is registered).
/// </summary>
public interface IRoomAppDirectory
{
    bool TryGetServerSecret(uint appId, out string secret);

    /// <summary>
    /// The app ids to try when a Login carries no AppId (the token's app is found by trial decryption). The default is
    /// none, in which case Login must name its AppId.
    /// </summary>
    IEnumerable<uint> AppIds => [];
}

/// <summary>A fixed app directory (AppId → ServerSecret), e.g. from <see cref="ParleyRtcOptions.Apps"/> or for tests.</summary>
public sealed class StaticRoomAppDirectory(IReadOnlyDictionary<uint, string> secrets) : IRoomAppDirectory
{
    public bool TryGetServerSecret(uint appId, out string secret) => secrets.TryGetValue(appId, out secret!);

    public IEnumerable<uint> AppIds => secrets.Keys;

    internal static StaticRoomAppDirectory FromOptions(ParleyRtcOptions options)
    {
        var secrets = new Dictionary<uint, string>();
        foreach (var (key, value) in options.Apps)
        {
            if (!uint.TryParse(key, out var appId))
            {
                throw new InvalidOperationException($"{ParleyRtcOptions.SectionName}:Apps key '{key}' is not an AppId (a 32-bit unsigned number)");
            }

            secrets[appId] = value;
        }

        return new StaticRoomAppDirectory(secrets);
    }
}
