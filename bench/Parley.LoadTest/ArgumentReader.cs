using System.Globalization;

namespace Parley.LoadTest;

/// <summary>Walks command-line options and their values; every error is an <see cref="ArgumentException"/> naming the option.</summary>
internal sealed class ArgumentReader(IReadOnlyList<string> args)
{
    private int _next;

    /// <summary>The current option's name.</summary>
    public string Name { get; private set; } = "";

    public bool MoveNext()
    {
        if (_next >= args.Count)
        {
            return false;
        }

        Name = args[_next++];
        return true;
    }

    public string Value() => _next < args.Count ? args[_next++] : throw new ArgumentException($"{Name} needs a value");

    public int Int(int min, int max)
    {
        var text = Value();
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
            ? v
            : throw new ArgumentException($"{Name} must be an integer from {min} to {max}, got '{text}'");
    }

    public uint UInt() =>
        uint.TryParse(Value(), CultureInfo.InvariantCulture, out var v) ? v : throw new ArgumentException($"{Name} must be an unsigned integer");

    public Uri AbsoluteUri() =>
        Uri.TryCreate(Value(), UriKind.Absolute, out var u) ? u : throw new ArgumentException($"{Name} must be an absolute URL");
}
