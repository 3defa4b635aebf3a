using Microsoft.Extensions.Options;
using Parley.Core.Turns;
using Parley.Providers.Turns;

namespace Parley.Server.Rooms;

/// <summary>
/// The deployment's optional end-of-turn model, <c>Parley:Turns:EndOfTurnModel</c>: <c>Path</c> (an ONNX file in the
/// Smart Turn v3 format, which the operator supplies; unset: no model), <c>Threshold</c> (0–1, default 0.5) and
/// <c>Threads</c> (ONNX Runtime intra-op threads per run, default 1).
/// </summary>
public sealed class EndOfTurnModelSettings
{
    public const string SectionName = "Parley:Turns:EndOfTurnModel";

    public string? Path { get; set; }

    public float Threshold { get; set; } = 0.5f;

    public int Threads { get; set; } = 1;
}

/// <summary>Loads the configured end-of-turn model once (at start-up, through <see cref="EndOfTurnModelLoader"/>) and shares it.</summary>
internal sealed class EndOfTurnModels : IDisposable
{
    private readonly SmartTurnModel? _model;

    public EndOfTurnModels(IOptions<EndOfTurnModelSettings> settings)
    {
        var value = settings.Value;
        if (string.IsNullOrWhiteSpace(value.Path))
        {
            return;
        }

        _model = new SmartTurnModel(value.Path, $"{EndOfTurnModelSettings.SectionName}:Path", value.Threads);
        Options = new EndOfTurnModelOptions(_model, value.Threshold);
    }

    /// <summary>The model and its threshold, or null when none is configured.</summary>
    public EndOfTurnModelOptions? Options { get; }

    public void Dispose() => _model?.Dispose();
}

/// <summary>Loads the end-of-turn model when the server starts, so a missing or corrupt file fails the start, naming its setting.</summary>
internal sealed class EndOfTurnModelLoader(EndOfTurnModels models) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = models.Options;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
