using Parley.Abstractions.Speech;

namespace Parley.Providers.Tests;

/// <summary>Drives an <see cref="ITtsStream"/> the way the speech output does: push, flush, read everything.</summary>
internal static class SpeechStreams
{
    public sealed record Result(long Samples, IReadOnlyList<int> Rates, IReadOnlyList<WordTiming> Words, double Rms);

    public static async Task<Result> SpeakAsync(ITextToSpeech engine, TtsRequest request, params string[] texts)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var stream = engine.Open(request);
        foreach (var text in texts)
        {
            await stream.PushTextAsync(text, timeout.Token);
        }

        await stream.FlushAsync(timeout.Token);
        long samples = 0;
        double energy = 0;
        var rates = new List<int>();
        var words = new List<WordTiming>();
        await foreach (var piece in stream.ReadAsync(timeout.Token))
        {
            using var chunk = piece.Audio;
            if (piece.Word is { } word)
            {
                words.Add(word);
            }

            if (chunk.IsEmpty)
            {
                continue;
            }

            rates.Add(chunk.SampleRate);
            samples += chunk.Length;
            foreach (var s in chunk.Samples)
            {
                energy += (double)s * s;
            }
        }

        return new Result(samples, rates, words, samples == 0 ? 0 : Math.Sqrt(energy / samples));
    }
}
