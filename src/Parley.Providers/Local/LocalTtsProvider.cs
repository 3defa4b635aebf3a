using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Parley.Abstractions.Audio;
using Parley.Core.Providers;

namespace Parley.Providers.Local;

/// <summary>
/// The <c>Local</c> TTS vendor: flite or espeak-ng in-process (Debian packages flite and espeak-ng), streamed
/// sentence by sentence and, within a sentence, buffer by buffer as the engine produces audio. Params are
/// described on <see cref="LocalTtsOptions"/>. Chunks come at the engine's native rate (flite kal 8 kHz,
/// other flite voices 16 kHz, espeak-ng 22050 Hz). Each engine runs on one dedicated thread per process,
/// so concurrent requests share it sentence by sentence.
/// </summary>
public sealed class LocalTtsProvider : SentenceTtsBase
{
    public override string Name => "Local";

    public override string? Validate(JsonObject? parameters)
    {
        if (!LocalTtsOptions.TryParse(parameters, out var options, out var error))
        {
            return error;
        }

        return options.Engine == LocalTtsOptions.FliteEngine
            ? FliteEngine.Shared.CheckVoice(options.Voice)
            : EspeakNgEngine.Shared.CheckVoice(options.Voice);
    }

    /// <summary>
    /// The rules of <see cref="Validate"/> (engine name, speed range, an installed voice), except that an engine that
    /// could not start on this server does not make the agent's Params wrong.
    /// </summary>
    public override string? ValidateConfiguration(JsonObject? parameters)
    {
        if (!LocalTtsOptions.TryParse(parameters, out var options, out var error))
        {
            return error;
        }

        LocalTtsWorker engine = options.Engine == LocalTtsOptions.FliteEngine ? FliteEngine.Shared : EspeakNgEngine.Shared;
        return engine.StartupError is not null ? null : Validate(parameters);
    }

    protected override async IAsyncEnumerable<AudioChunk> SynthesizeSentenceAsync(
        string text,
        JsonObject? parameters,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        LocalTtsOptions.TryParse(parameters, out var options, out _);
        var sentences = LocalTtsText.SplitSentences(text);
        if (sentences.Count == 0)
        {
            yield break;
        }

        LocalTtsWorker engine = options.Engine == LocalTtsOptions.FliteEngine ? FliteEngine.Shared : EspeakNgEngine.Shared;
        var request = new LocalTtsRequest(sentences, options.Voice, options.Speed);
        engine.Enqueue(request);
        try
        {
            while (await request.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (request.Reader.TryRead(out var chunk))
                {
                    yield return chunk;
                }
            }
        }
        finally
        {
            request.Abandon();
        }
    }
}
