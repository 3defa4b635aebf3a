namespace Parley.Server.Apps;

/// <summary>The apps allowed to call the API (from configuration, or the generated development app).</summary>
public interface IAppDirectory
{
    IReadOnlyList<AppOptions> Apps { get; }

    bool TryGet(uint appId, out AppOptions app);
}
