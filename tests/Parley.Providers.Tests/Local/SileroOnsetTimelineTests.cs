using System.Globalization;
using Parley.Core.Turns;
using Parley.Providers.Local;
using Xunit;
using Xunit.Abstractions;

namespace Parley.Providers.Tests.Local;

public sealed class SileroOnsetTimelineTests(SileroVadFixture fixture, ITestOutputHelper output) : IClassFixture<SileroVadFixture>
{
    private const int Window = 512;

    [Theory]
    [InlineData("What is the weather like today?")]
    [InlineData("Stop please. What time is it?")]
    [InlineData("Good morning, how are you?")]
    public void Timeline_TrimmedFlite(string text)
    {
        var speech = Trim(SpeechTestAudio.Speech(text));
        foreach (var phase in new[] { 0, 160, 320, 480 })
        {
            var lead = SpeechTestAudio.Silence(TimeSpan.FromMilliseconds(1000) + TimeSpan.FromTicks(phase * 625));
            var audio = SpeechTestAudio.Concat(lead, speech, SpeechTestAudio.Silence(TimeSpan.FromSeconds(1)));
            using var vad = fixture.Factory.Create();
            var segmenter = new VadSegmenter(new VadSegmenterOptions());
            var line = new System.Text.StringBuilder();
            double? decided = null;
            for (var w = 0; (w + 1) * Window <= audio.Length; w++)
            {
                var p = vad.Score(audio.AsSpan(w * Window, Window));
                var start = TimeSpan.FromTicks(w * Window * 625L);
                var e = segmenter.Process(p, start);
                var rel = ((w * Window) - lead.Length) / 16.0;
                if (rel >= -64 && rel < 800)
                {
                    line.Append(CultureInfo.InvariantCulture, $"{rel:F0}:{p:F2}{(e.Kind == VadEventKind.SpeechStarted ? "*" : string.Empty)} ");
                }

                if (e.Kind == VadEventKind.SpeechStarted && decided is null)
                {
                    decided = ((w + 1) * Window - lead.Length) / 16.0;
                }
            }

            output.WriteLine($"{text} phase {phase}: decided {decided} ms after onset; {line}");
        }
    }

    internal static short[] Trim(short[] samples)
    {
        const int threshold = 328;
        var start = 0;
        while (start < samples.Length && Math.Abs((int)samples[start]) < threshold)
        {
            start++;
        }

        var end = samples.Length;
        while (end > start && Math.Abs((int)samples[end - 1]) < threshold)
        {
            end--;
        }

        return samples[start..end];
    }
}
