using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Parley.Server.Apps;

/// <summary>
/// Apps from configuration (<c>Parley:Apps</c>). With none configured, a development app is generated on first start,
/// stored in <c>{DataDirectory}/dev-app.json</c> and reused on later starts.
/// </summary>
internal sealed partial class AppDirectory : IAppDirectory
{
    private readonly Dictionary<uint, AppOptions> _apps;

    public AppDirectory(IOptions<ParleyOptions> options, ILogger<AppDirectory> logger)
    {
        var configured = options.Value.Apps;
        if (configured.Count == 0)
        {
            var (app, created) = LoadOrCreateDevelopmentApp(options.Value.DataDirectory);
            configured = [app];
            DevelopmentApp = app;
            DevelopmentAppCreated = created;
            LogDevelopmentApp(logger, app.AppId, Path.GetFullPath(Path.Combine(options.Value.DataDirectory, DevAppFile)));
        }

        _apps = new Dictionary<uint, AppOptions>();
        foreach (var app in configured)
        {
            Validate(app);
            if (!_apps.TryAdd(app.AppId, app))
            {
                throw new OptionsValidationException(ParleyOptions.SectionName, typeof(ParleyOptions), [$"Parley:Apps lists AppId {app.AppId} twice"]);
            }
        }

        Apps = [.. _apps.Values];
    }

    public const string DevAppFile = "dev-app.json";

    public IReadOnlyList<AppOptions> Apps { get; }

    /// <summary>The generated development app, when no app is configured.</summary>
    public AppOptions? DevelopmentApp { get; }

    public bool DevelopmentAppCreated { get; }

    public bool TryGet(uint appId, out AppOptions app) => _apps.TryGetValue(appId, out app!);

    private static void Validate(AppOptions app)
    {
        var errors = new List<string>();
        if (app.AppId == 0)
        {
            errors.Add("Parley:Apps: every app needs a non-zero AppId");
        }

        if (string.IsNullOrEmpty(app.ServerSecret))
        {
            errors.Add($"Parley:Apps: app {app.AppId} needs a ServerSecret");
        }

        if (!string.IsNullOrEmpty(app.CallbackUrl) && !Uri.TryCreate(app.CallbackUrl, UriKind.Absolute, out _))
        {
            errors.Add($"Parley:Apps: app {app.AppId} has a CallbackUrl that is not an absolute URL");
        }
        else if (!string.IsNullOrEmpty(app.CallbackUrl)
            && Parley.Providers.Net.OutboundPolicy.CheckConfiguredUrl(app.CallbackUrl, Parley.Providers.Net.OutboundProtocol.Http) is { } refusal)
        {
            errors.Add($"Parley:Apps: app {app.AppId} has a CallbackUrl that is refused by the outbound URL policy: it {refusal}");
        }

        foreach (var (tag, url) in app.CallbackUrls)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var tagged) || (tagged.Scheme != Uri.UriSchemeHttp && tagged.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add($"Parley:Apps: app {app.AppId} has CallbackUrls:{tag} that is not an absolute http or https URL");
            }
            else if (Parley.Providers.Net.OutboundPolicy.CheckConfiguredUrl(url, Parley.Providers.Net.OutboundProtocol.Http) is { } tagRefusal)
            {
                errors.Add($"Parley:Apps: app {app.AppId} has CallbackUrls:{tag} refused by the outbound URL policy: it {tagRefusal}");
            }
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException(ParleyOptions.SectionName, typeof(ParleyOptions), errors);
        }
    }

    private static (AppOptions App, bool Created) LoadOrCreateDevelopmentApp(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, DevAppFile);
        if (File.Exists(path))
        {
            var stored = JsonSerializer.Deserialize<AppOptions>(File.ReadAllText(path));
            if (stored is { AppId: > 0, ServerSecret.Length: > 0 })
            {
                return (stored, false);
            }
        }

        var app = new AppOptions
        {
            AppId = (uint)RandomNumberGenerator.GetInt32(100_000_000, int.MaxValue),
            ServerSecret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            CallbackSecret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
        };
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(app, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(temp, path, overwrite: true);
        return (app, true);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "No apps configured: using the development app {AppId}; its secrets are in {Path}")]
    private static partial void LogDevelopmentApp(ILogger logger, uint appId, string path);
}
