using Microsoft.Extensions.Options;
using Parley.Abstractions.Media;
using Parley.Providers.Local;

namespace Parley.Server.Rooms;

/// <summary>Server-side echo cancellation of the users' audio: <c>None</c> or speexdsp's canceller (<c>Speex</c>).</summary>
public enum EchoCancellationMode
{
    /// <summary>The client cancels echo itself (browsers do, through getUserMedia's echoCancellation).</summary>
    None,

    /// <summary><see cref="SpeexEchoCanceller"/> per session, with what the agent played as its reference.</summary>
    Speex,
}

/// <summary>
/// <c>Parley:Turns:EchoCancellation</c> (<c>None</c>, the default, or <c>Speex</c>; case-insensitive) and
/// <c>Parley:Turns:EchoTailLength</c> (the longest echo path cancelled, default 256 ms, 10 ms–2 s): every session's
/// input pipeline gets a canceller fed with the agent's own played audio (<c>PlayedAudioTap</c>).
/// </summary>
public sealed class EchoCancellationSettings
{
    public const string SectionName = "Parley:Turns";

    public const string ModeKey = SectionName + ":EchoCancellation";

    public const string TailKey = SectionName + ":EchoTailLength";

    public static readonly TimeSpan MinTail = TimeSpan.FromMilliseconds(10);

    public static readonly TimeSpan MaxTail = TimeSpan.FromSeconds(2);

    public string EchoCancellation { get; set; } = nameof(EchoCancellationMode.None);

    public TimeSpan EchoTailLength { get; set; } = TimeSpan.FromMilliseconds(256);

    /// <summary>The mode, or false when <see cref="EchoCancellation"/> names none (numbers are not accepted).</summary>
    public bool TryGetMode(out EchoCancellationMode mode)
    {
        mode = EchoCancellationMode.None;
        var text = EchoCancellation?.Trim();
        return !string.IsNullOrEmpty(text) && !char.IsAsciiDigit(text[0]) && text[0] != '-'
            && Enum.TryParse(text, ignoreCase: true, out mode) && Enum.IsDefined(mode);
    }

    /// <summary>
    /// What makes a session's input processors: null for <c>None</c>; for <c>Speex</c>, one new canceller per call (the
    /// pipeline owns and disposes it). Throws naming the key when the settings are not valid.
    /// </summary>
    public Func<IReadOnlyList<IAudioInputProcessor>>? ProcessorFactory()
    {
        if (!TryGetMode(out var mode))
        {
            throw new OptionsValidationException(ModeKey, typeof(EchoCancellationSettings), [InvalidMode]);
        }

        if (!TailIsValid)
        {
            throw new OptionsValidationException(TailKey, typeof(EchoCancellationSettings), [InvalidTail]);
        }

        var tail = EchoTailLength;
        return mode == EchoCancellationMode.Speex ? () => [new SpeexEchoCanceller(tail)] : null;
    }

    /// <summary>Whether <see cref="EchoTailLength"/> is within <see cref="MinTail"/>..<see cref="MaxTail"/>.</summary>
    internal bool TailIsValid => EchoTailLength >= MinTail && EchoTailLength <= MaxTail;

    internal string InvalidMode => $"{ModeKey} must be None or Speex, not '{EchoCancellation}'";

    internal string InvalidTail => $"{TailKey} must be between {MinTail.TotalMilliseconds:0} ms and {MaxTail.TotalMilliseconds:0} ms, not {EchoTailLength}";
}

/// <summary>Validates <see cref="EchoCancellationSettings"/> with messages that name the key and the value given.</summary>
internal sealed class EchoCancellationValidator : IValidateOptions<EchoCancellationSettings>
{
    public ValidateOptionsResult Validate(string? name, EchoCancellationSettings options)
    {
        var failures = new List<string>();
        if (!options.TryGetMode(out _))
        {
            failures.Add(options.InvalidMode);
        }

        if (!options.TailIsValid)
        {
            failures.Add(options.InvalidTail);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>The deployment's echo cancellation, shared by every room session's listening setup.</summary>
internal sealed class EchoCancellers(IOptions<EchoCancellationSettings> settings)
{
    private readonly Lazy<Func<IReadOnlyList<IAudioInputProcessor>>?> _factory = new(() => settings.Value.ProcessorFactory());

    /// <summary>Makes a session's input processors, or null without echo cancellation.</summary>
    public Func<IReadOnlyList<IAudioInputProcessor>>? CreateProcessors => _factory.Value;

    public EchoCancellationMode Mode => settings.Value.TryGetMode(out var mode) ? mode : EchoCancellationMode.None;
}

/// <summary>
/// Checks the echo cancellation when the server starts: with <c>Speex</c> one canceller is made and freed, so a
/// missing libspeexdsp.so.1 fails the start naming <see cref="EchoCancellationSettings.ModeKey"/>, not the first call.
/// </summary>
internal sealed class EchoCancellationCheck(EchoCancellers cancellers) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (cancellers.CreateProcessors is not { } create)
        {
            return Task.CompletedTask;
        }

        try
        {
            foreach (var processor in create())
            {
                (processor as IDisposable)?.Dispose();
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new InvalidOperationException(
                $"{EchoCancellationSettings.ModeKey} is {cancellers.Mode}, but libspeexdsp.so.1 cannot be loaded (install the Debian package libspeexdsp1): {ex.Message}", ex);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
