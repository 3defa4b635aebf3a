using System.Collections.Frozen;
using System.Text.Json.Nodes;

namespace Parley.Core.Providers;

/// <summary>
/// The engines of one kind (TTS, ASR) by the contract's <c>Vendor</c> string, matched case-insensitively, with the
/// fallback rules every selection shares. It is also the list configuration is checked against: <see cref="Names"/>
/// are the engines plus the vendors a client may name although this server speaks them with the fallback (e.g. ZEGO
/// cloud vendors), so the validator, the selection and the fallback read one list.
/// </summary>
public sealed class VendorRegistry<T>
    where T : class
{
    private readonly FrozenDictionary<string, T> _engines;
    private readonly FrozenSet<string> _names;
    private readonly Func<T, JsonObject?, string?> _validate;

    /// <param name="engines">The engines; two with the same name (case-insensitive) are a configuration error.</param>
    /// <param name="name">An engine's Vendor name.</param>
    /// <param name="validate">An engine's verdict on Params before use: an error, or null.</param>
    /// <param name="fallbackOnly">Vendors accepted by configuration without an engine here: they use the fallback.</param>
    public VendorRegistry(IEnumerable<T> engines, Func<T, string> name, Func<T, JsonObject?, string?> validate, IEnumerable<string>? fallbackOnly = null)
    {
        ArgumentNullException.ThrowIfNull(engines);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(validate);
        var byName = new Dictionary<string, T>(StringComparer.OrdinalIgnoreCase);
        foreach (var engine in engines)
        {
            if (!byName.TryAdd(name(engine), engine))
            {
                throw new InvalidOperationException($"Two engines are registered for vendor '{name(engine)}'.");
            }
        }

        _engines = byName.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _validate = validate;
        var names = new List<string>(byName.Keys);
        foreach (var vendor in fallbackOnly ?? [])
        {
            if (!names.Contains(vendor, StringComparer.OrdinalIgnoreCase))
            {
                names.Add(vendor);
            }
        }

        Names = names;
        _names = names.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Every vendor configuration may name: the engines first, then the fallback-only vendors.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Vendor names with an engine on this server.</summary>
    public IEnumerable<string> Engines => _engines.Keys;

    /// <summary>Whether configuration may name <paramref name="vendor"/> (an engine or a fallback-only vendor).</summary>
    public bool Accepts(string vendor) => _names.Contains(vendor);

    /// <summary>The engine for <paramref name="vendor"/>, or null when this server has none.</summary>
    public T? Find(string vendor) => _engines.GetValueOrDefault(vendor);

    /// <summary>
    /// The engine that serves <paramref name="vendor"/> with <paramref name="parameters"/>: that vendor's engine, or
    /// <paramref name="fallback"/>'s on its defaults (Params dropped) when the vendor is absent from this server or
    /// its engine refuses the Params (e.g. a cloud vendor with ZEGO's placeholder credentials). No vendor means the
    /// fallback with the Params given. The fallback's own Params are never checked here: its engine reports them.
    /// </summary>
    /// <exception cref="InvalidOperationException">The fallback vendor has no engine.</exception>
    public VendorSelection<T> Select(string? vendor, JsonObject? parameters, string fallback)
    {
        ArgumentNullException.ThrowIfNull(fallback);
        if (string.IsNullOrEmpty(vendor))
        {
            return new VendorSelection<T>(Fallback(fallback), fallback, parameters, VendorFallback.None, null);
        }

        if (!_engines.TryGetValue(vendor, out var engine))
        {
            return new VendorSelection<T>(Fallback(fallback), vendor, null, VendorFallback.NoEngine, "it has no engine on this server");
        }

        if (!string.Equals(vendor, fallback, StringComparison.OrdinalIgnoreCase) && _validate(engine, parameters) is { } invalid)
        {
            return new VendorSelection<T>(Fallback(fallback), vendor, null, VendorFallback.Refused, invalid);
        }

        return new VendorSelection<T>(engine, vendor, parameters, VendorFallback.None, null);
    }

    private T Fallback(string fallback) =>
        _engines.GetValueOrDefault(fallback) ?? throw new InvalidOperationException($"The fallback vendor '{fallback}' has no engine on this server.");
}

/// <summary>Why a selection serves a vendor with the fallback engine.</summary>
public enum VendorFallback
{
    /// <summary>The vendor's own engine (or no vendor named: the fallback is the default).</summary>
    None,

    /// <summary>This server has no engine for the vendor.</summary>
    NoEngine,

    /// <summary>The vendor's engine refused the Params (<see cref="VendorSelection{T}.Reason"/> says why).</summary>
    Refused,
}

/// <param name="Engine">The engine to use.</param>
/// <param name="Requested">The vendor named (or the fallback when none was).</param>
/// <param name="Parameters">The Params for <paramref name="Engine"/>: as given, or null after a fallback.</param>
/// <param name="Fallback">Whether and why <paramref name="Engine"/> is the fallback instead of the vendor named.</param>
/// <param name="Reason">The reason of a fallback, for the log.</param>
public readonly record struct VendorSelection<T>(T Engine, string Requested, JsonObject? Parameters, VendorFallback Fallback, string? Reason)
    where T : class
{
    public bool FellBack => Fallback != VendorFallback.None;
}
