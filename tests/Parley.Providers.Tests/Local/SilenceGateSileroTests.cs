using System.Globalization;
using Parley.Core.Input;
using Parley.Core.Turns;
using Xunit;
using Xunit.Abstractions;

namespace Parley.Providers.Tests.Local;

/// <summary>The silence gate in front of the real Silero model: the segmenter's events are those of the ungated model.</summary>
[Trait("Category", "RealEngine")]
public sealed class SilenceGateSileroTests(SileroVadFixture fixture, ITestOutputHelper output) : IClassFixture<SileroVadFixture>
{
    /// <summary>
    /// Two utterances with long silences (digital, or a noise bed) around them, at four alignments of the windows: the
    /// gated windower gives the same speech starts and ends as the ungated one (provisional starts and their releases
    /// may differ, following the model's state), each start at the same boundary or earlier, each end
    /// within one window, and skips most windows. Not bit-identical: Silero is recurrent, and the ungated model carries
    /// the first utterance's memory through the 2 s silence while the gated one starts fresh (reset when the gate
    /// closed, warmed by the pre-roll). On "Stop please" that fresh state catches the /s/ the ungated model loses
    /// (see <see cref="SileroOnsetTimelineTests"/>): the start comes up to 11 windows earlier, never later.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(60)] // white noise peak 60 ≈ −58 dBFS RMS
    [InlineData(600)] // ≈ −38 dBFS RMS: under the speech, opening the gate only with it
    public void Events_AreThoseOfTheUngatedModel(short noisePeak)
    {
        var first = SpeechTestAudio.Speech("What is the weather like today?");
        var second = SpeechTestAudio.Speech("Stop please, I need to think.");
        for (var phase = 0; phase < 512; phase += 128)
        {
            var audio = SpeechTestAudio.Concat(
                SpeechTestAudio.Silence(TimeSpan.FromSeconds(2) + TimeSpan.FromTicks(phase * 625L)),
                first,
                SpeechTestAudio.Silence(TimeSpan.FromSeconds(2)),
                second,
                SpeechTestAudio.Silence(TimeSpan.FromSeconds(2)));
            if (noisePeak > 0)
            {
                var noise = SpeechTestAudio.WhiteNoise(TimeSpan.FromSeconds(audio.Length / 16000.0), noisePeak);
                for (var i = 0; i < audio.Length; i++)
                {
                    audio[i] = (short)Math.Clamp(audio[i] + noise[i], short.MinValue, short.MaxValue);
                }
            }

            var (ungated, _, scoredUngated) = Run(audio, new SilenceGateOptions { Enabled = false });
            var (gated, skipped, scored) = Run(audio, new SilenceGateOptions());
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"noise {noisePeak} phase {phase}: gated {string.Join(", ", gated)}; ungated {string.Join(", ", ungated)}; scored {scored} of {scoredUngated} windows ({skipped} gated)"));
            Assert.Equal(4, ungated.Count(e => e.Kind is VadEventKind.SpeechStarted or VadEventKind.SpeechEnded));
            // Provisional starts and their releases follow the model's state (see above); starts and ends must match.
            ungated = ungated.Where(e => e.Kind is VadEventKind.SpeechStarted or VadEventKind.SpeechEnded).ToList();
            gated = gated.Where(e => e.Kind is VadEventKind.SpeechStarted or VadEventKind.SpeechEnded).ToList();
            Assert.Equal(ungated.Select(e => e.Kind), gated.Select(e => e.Kind));
            foreach (var (u, g) in ungated.Zip(gated))
            {
                if (u.Kind == VadEventKind.SpeechEnded)
                {
                    Assert.InRange(g.Boundary - u.Boundary, -512, 512);
                }
                else
                {
                    Assert.InRange(u.Boundary - g.Boundary, 0, 12 * 512); // started no later than ungated (up to 11 windows earlier seen: the ungated model released the /s/ of "Stop")
                }
            }

            Assert.True(skipped > scoredUngated / 3, $"only {skipped} of {scoredUngated} windows gated");
        }
    }

    private (List<(VadEventKind Kind, long Boundary)> Events, long Gated, long Scored) Run(short[] audio, SilenceGateOptions options)
    {
        using var windower = new VadWindower(fixture.Factory.Create(), new VadSegmenterOptions(), 16000, options);
        var events = new List<(VadEventKind, long)>();
        for (var at = 0; at < audio.Length; at += 320)
        {
            var (kind, boundary) = windower.Push(audio.AsSpan(at, Math.Min(320, audio.Length - at)));
            if (kind != VadEventKind.None)
            {
                events.Add((kind, boundary));
            }
        }

        var windows = audio.Length / 512;
        return (events, windower.Gate.GatedWindows, windows - windower.Gate.GatedWindows);
    }
}
