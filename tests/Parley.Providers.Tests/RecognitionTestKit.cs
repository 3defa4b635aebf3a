using Parley.Abstractions.Speech;

namespace Parley.Providers.Tests;

/// <summary>Shared steps of the recogniser tests: push a tone as the room does, read results up to a final.</summary>
internal static class RecognitionTestKit
{
    /// <summary>Pushes a 300 Hz tone in 20 ms frames (as the room delivers audio), without real-time pacing.</summary>
    public static async Task PushSpeechAsync(ISpeechRecognitionStream stream, TimeSpan duration)
    {
        var frame = new short[320];
        var frames = (int)(duration.TotalMilliseconds / 20);
        for (var f = 0; f < frames; f++)
        {
            for (var i = 0; i < frame.Length; i++)
            {
                frame[i] = (short)(8000 * Math.Sin(2 * Math.PI * 300 * ((f * 320) + i) / 16000.0));
            }

            await stream.PushAsync(frame, CancellationToken.None);
        }
    }

    /// <summary>Reads results until a final (inclusive).</summary>
    public static async Task<List<SpeechRecognitionResult>> ReadUtteranceAsync(IAsyncEnumerator<SpeechRecognitionResult> results)
    {
        var seen = new List<SpeechRecognitionResult>();
        while (await results.MoveNextAsync())
        {
            seen.Add(results.Current);
            if (results.Current.IsFinal)
            {
                return seen;
            }
        }

        throw new InvalidOperationException("the results ended without a final: " + string.Join(" | ", seen));
    }
}
